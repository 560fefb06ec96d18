// Workers that run a job through an in-process function, for fast tests. The function's result is turned
// into the job outcome the way the runpod SDK's run_job does (runpod/serverless/modules/rp_job.py, 1.12.0):
// a dict's `error` member fails the job and the rest is its output; a raised error fails it with the SDK's
// error_info JSON (error_type, error_message, error_traceback, hostname, worker_id, runpod_version).
import type { EmulatedJob, EmulatedWorker, JobEndpoint, WorkerDriver } from "./runpodJobEndpoint";

export interface HandlerContext {
  workerId: string;
  /** Aborted when the job is cancelled, times out or its worker is stopped. */
  signal: AbortSignal;
  /** runpod.serverless.progress_update(job, update). */
  progress(update: unknown): void;
}
export type JobHandler = (job: { id: string; input: unknown }, context: HandlerContext) => unknown;

export function sdkResult(value: unknown): { output?: unknown; error?: unknown } {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const { error, refresh_worker: _refresh, ...rest } = value as Record<string, unknown>;
    const output = Object.keys(rest).length > 0 ? rest : undefined;
    return { ...(output !== undefined ? { output } : {}), ...(error ? { error } : {}) };
  }
  return { output: value };
}

export function sdkErrorInfo(error: unknown, workerId: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return JSON.stringify({
    error_type: `<class '${error instanceof Error ? error.name : "Exception"}'>`,
    error_message: message,
    error_traceback: error instanceof Error ? error.stack ?? message : message,
    hostname: `${workerId}-emulated`,
    worker_id: workerId,
    runpod_version: "emulated",
  });
}

export class HandlerDriver implements WorkerDriver {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly handler: JobHandler) {}

  boot(endpoint: JobEndpoint, worker: EmulatedWorker): void {
    const timer = setTimeout(() => {
      this.timers.delete(worker.id);
      endpoint.workerReady(worker.id);
    }, worker.coldStartMs);
    this.timers.set(worker.id, timer);
  }

  canTake(): boolean {
    return true;
  }

  deliver(endpoint: JobEndpoint, worker: EmulatedWorker, job: EmulatedJob): void {
    const controller = new AbortController();
    this.running.set(job.id, controller);
    const context: HandlerContext = {
      workerId: worker.id,
      signal: controller.signal,
      progress: (update) => endpoint.progress(job.id, worker.id, update),
    };
    Promise.resolve()
      .then(() => this.handler({ id: job.id, input: job.input }, context))
      .then(
        (value) => endpoint.finish(job.id, worker.id, sdkResult(value)),
        (error: unknown) => endpoint.finish(job.id, worker.id, { error: sdkErrorInfo(error, worker.id) }),
      )
      .finally(() => this.running.delete(job.id));
  }

  stopJob(_worker: EmulatedWorker, jobId: string): void {
    this.running.get(jobId)?.abort();
  }

  retire(worker: EmulatedWorker): void {
    const timer = this.timers.get(worker.id);
    if (timer) clearTimeout(timer);
    this.timers.delete(worker.id);
    if (worker.jobId) this.running.get(worker.jobId)?.abort();
  }

  dispose(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.running.values()) controller.abort();
  }
}
