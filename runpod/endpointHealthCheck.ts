// The health check of a Serverless endpoint: GET /health until the job API answers, then report its job
// counts and worker states. Workers may be 0 (an endpoint at workersMin 0 scales from zero): the check is
// that the endpoint exists and our key may use it; a refused key ends it at once.
import type { EndpointHealthResult, Progress } from "../checks";
import { isKind, isRunPodError } from "./errors";
import type { JobClient } from "./jobClient";
import type { EndpointHealth } from "./jobSchemas";
import { scaledMs } from "./timing";

export interface EndpointCheckOptions {
  client: JobClient;
  timeoutSeconds: number;
  progress: Progress;
  /** Cancels the check (SIGINT/SIGTERM); it still returns a verdict. */
  signal?: AbortSignal;
  /** Pause between looks; default 5 s (scaled by RUNPOD_PROVIDER_DELAY_SCALE). */
  pollIntervalMs?: number;
}

export function failedEndpointHealth(url: string, durationMs: number, message: string): EndpointHealthResult {
  return { check: "endpointHealth", ok: false, message, url, durationMs, jobs: null, workers: null };
}

export function describeWorkers(workers: EndpointHealth["workers"]): string {
  const parts = Object.entries(workers)
    .filter((e): e is [string, number] => typeof e[1] === "number" && e[1] > 0)
    .map(([state, n]) => `${n} ${state}`);
  return parts.length ? parts.join(", ") : "none";
}

export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

function workerCounts(workers: EndpointHealth["workers"]): Record<string, number> {
  return Object.fromEntries(Object.entries(workers).filter((e): e is [string, number] => typeof e[1] === "number"));
}

export async function runEndpointHealthCheck(options: EndpointCheckOptions): Promise<EndpointHealthResult> {
  const { client, progress } = options;
  const url = client.endpointUrl;
  const startedAt = Date.now();
  const endsAt = startedAt + options.timeoutSeconds * 1000;
  const interval = scaledMs(options.pollIntervalMs ?? 5000);
  let lastProblem: string;
  progress.info(`asking ${url}/health`);
  for (let attempt = 1; ; attempt += 1) {
    try {
      const health = await client.health();
      const { jobs, workers } = health;
      const message =
        `The endpoint answers /health: workers ${describeWorkers(workers)}; jobs ${jobs.inQueue} queued, ${jobs.inProgress} in progress, ` +
        `${jobs.completed} completed, ${jobs.failed} failed.`;
      return {
        check: "endpointHealth", ok: true, message, url, durationMs: Date.now() - startedAt,
        jobs: { completed: jobs.completed, failed: jobs.failed, inProgress: jobs.inProgress, inQueue: jobs.inQueue, retried: jobs.retried },
        workers: workerCounts(workers),
      };
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (isKind(error, "unauthorized", "forbidden", "unexpected")) return failedEndpointHealth(url, Date.now() - startedAt, text);
      lastProblem = isRunPodError(error) ? text.split("\n")[0] ?? text : text;
      progress.info(`attempt ${attempt}: not answering yet (${lastProblem})`);
    }
    if (options.signal?.aborted) return failedEndpointHealth(url, Date.now() - startedAt, `The health check was cancelled; last answer: ${lastProblem}.`);
    if (Date.now() + interval > endsAt) {
      return failedEndpointHealth(
        url,
        Date.now() - startedAt,
        `The endpoint's /health did not answer within ${options.timeoutSeconds} s; last problem: ${lastProblem}. ` +
          "Check --endpoint-url and that the endpoint exists (RunPod console, Serverless).",
      );
    }
    await pause(interval, options.signal);
  }
}
