// Zod schemas of RunPod's Serverless job API (https://api.runpod.ai/v2/<endpointId>/...), after runpod/docs
// serverless/endpoints/send-requests.mdx and operation-reference.mdx: the members every documented answer
// carries are required, the ones only some answers carry are optional, unknown members are ignored.
// Built inside functions for the same reason as schemas.ts (Pulumi serializes providers by value).
import { z } from "zod";

/** The job states the docs name (job-states.mdx); an answer may carry a state added later, so states stay strings. */
export const FINAL_JOB_STATES = ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"] as const;
export type FinalJobState = (typeof FINAL_JOB_STATES)[number];

export function isFinalJobState(status: string): status is FinalJobState {
  return (FINAL_JOB_STATES as readonly string[]).includes(status);
}

/** POST /run and /cancel/{id}: `{id, status}`. */
export function jobRefSchema() {
  return z.object({ id: z.string().min(1), status: z.string() }).loose();
}

/**
 * GET /status/{id} (and /runsync): `id` and `status` always; `delayTime` (ms in the queue, cold start
 * included) and `executionTime` (ms on the worker) once known; `output` when done (or the worker's
 * progress while IN_PROGRESS); `error` on FAILED.
 */
export function jobStatusSchema() {
  return z
    .object({
      id: z.string().min(1),
      status: z.string(),
      delayTime: z.number().nonnegative().optional(),
      executionTime: z.number().nonnegative().optional(),
      output: z.unknown().optional(),
      error: z.unknown().optional(),
      workerId: z.string().optional(),
    })
    .loose();
}

const count = () => z.number().int().nonnegative();

/**
 * GET /health. The docs' example shows jobs {completed, failed, inProgress, inQueue, retried} and workers
 * {idle, running}; the other worker states (initializing, ready, throttled, unhealthy) are optional.
 */
export function endpointHealthSchema() {
  return z
    .object({
      jobs: z.object({ completed: count(), failed: count(), inProgress: count(), inQueue: count(), retried: count() }).loose(),
      workers: z
        .object({
          idle: count(),
          running: count(),
          initializing: count().optional(),
          ready: count().optional(),
          throttled: count().optional(),
          unhealthy: count().optional(),
        })
        .loose(),
    })
    .loose();
}

export type JobRef = z.infer<ReturnType<typeof jobRefSchema>>;
export type JobStatus = z.infer<ReturnType<typeof jobStatusSchema>>;
export type EndpointHealth = z.infer<ReturnType<typeof endpointHealthSchema>>;

/**
 * The largest request body each submit route takes (send-requests.mdx: /run 10 MB, /runsync 20 MB). The docs
 * do not say whether a MB is 10^6 or 2^20 bytes; the smaller reading is used so a body we send always fits.
 */
export const RUN_PAYLOAD_LIMIT_BYTES = 10_000_000;
export const RUNSYNC_PAYLOAD_LIMIT_BYTES = 20_000_000;
