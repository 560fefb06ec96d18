// One emulated Serverless endpoint: its jobs (FIFO queue, states, retention), its workers (cold start,
// flashboot, idle scale-down, the scaler) and the job outcomes workers report. The HTTP side is in
// runpodJobs.ts; how a worker runs a job (in-process handler or a real SDK worker process) is a WorkerDriver.
// Behaviour and its sources are listed in runpodJobs.ts.
import { randomUUID } from "node:crypto";
import { workersToRetire, workersWanted, type ScalerView } from "./runpodJobScaler";

export interface EmulatedEndpointSettings {
  id: string;
  workersMin: number;
  workersMax: number;
  idleTimeoutSeconds: number;
  executionTimeoutMs: number;
  scalerType: "QUEUE_DELAY" | "REQUEST_COUNT";
  scalerValue: number;
  flashboot: boolean;
}
/** Asked per request and per scaler tick; undefined → 404 as the real job API answers an unknown endpoint. */
export type EndpointLookup = (endpointId: string) => EmulatedEndpointSettings | undefined;

export type JobState = "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT";
export type WorkerState = "initializing" | "idle" | "running" | "unhealthy";

export interface EmulatedJob {
  id: string;
  input: unknown;
  status: JobState;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  workerId: string | null;
  output?: unknown;
  error?: unknown;
  /** The worker's latest progress_update, shown as `output` while IN_PROGRESS. */
  progress?: unknown;
  /** Scaled ms; 0 = no limit. */
  executionTimeoutMs: number;
  /** Scaled ms a finished job stays readable. */
  retentionMs: number;
}

export interface EmulatedWorker {
  id: string;
  state: WorkerState;
  createdAt: number;
  readyAt: number | null;
  idleSince: number;
  jobId: string | null;
  /** Cold start this worker paid (ms, unscaled emulator option). */
  coldStartMs: number;
  /** Jobs this worker has run: a warm worker reused shows more than one. */
  jobsRun: number;
}

/** How workers of an endpoint run: the endpoint calls these, the driver reports back through the endpoint. */
export interface WorkerDriver {
  /** Bring a new worker up; call `endpoint.workerReady(id)` when it can take jobs. */
  boot(endpoint: JobEndpoint, worker: EmulatedWorker): void;
  /** Whether an idle worker can be handed a job right now (a process worker must be waiting in job-take). */
  canTake(worker: EmulatedWorker): boolean;
  deliver(endpoint: JobEndpoint, worker: EmulatedWorker, job: EmulatedJob): void;
  /** The job was cancelled or timed out: stop it on the worker. */
  stopJob(worker: EmulatedWorker, jobId: string): void;
  /** Scale-down or shutdown. */
  retire(worker: EmulatedWorker): void;
}

export interface EndpointTimings {
  /** Real ms multiplier for every platform duration (idle timeout, scaler delay, execution timeout, waits, retention). */
  timeScale: number;
  coldStartMs: number;
  flashbootColdStartMs: number;
}

const FINAL: ReadonlySet<JobState> = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
export const isFinal = (s: JobState): boolean => FINAL.has(s);

export class JobEndpoint {
  readonly jobs = new Map<string, EmulatedJob>();
  readonly workers = new Map<string, EmulatedWorker>();
  readonly counts = { completed: 0, failed: 0, retried: 0 };
  private readonly queue: string[] = [];
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Flashboot keeps a stopped worker's resources: the next boot of this endpoint is the short one. */
  private hadWorker = false;
  private closed = false;

  constructor(
    readonly id: string,
    public settings: EmulatedEndpointSettings,
    private readonly driver: WorkerDriver,
    private readonly timings: EndpointTimings,
  ) {}

  scaled(ms: number): number {
    return ms * this.timings.timeScale;
  }

  // ------------------------------------------------------------ jobs
  submit(input: unknown, sync: boolean, executionTimeoutMs: number | undefined): EmulatedJob {
    const uuid = randomUUID();
    const job: EmulatedJob = {
      id: sync ? `sync-${uuid}` : `${uuid}-u1`,
      input,
      status: "IN_QUEUE",
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      workerId: null,
      executionTimeoutMs: this.scaled(executionTimeoutMs ?? this.settings.executionTimeoutMs),
      // send-requests.mdx: /run results 30 minutes after completion, /runsync 1 minute.
      retentionMs: this.scaled(sync ? 60_000 : 30 * 60_000),
    };
    this.jobs.set(job.id, job);
    this.queue.push(job.id);
    // The answer to /run is always IN_QUEUE (send-requests.mdx): a warm worker takes the job just after.
    setImmediate(() => this.tick());
    return job;
  }

  /** A job that still exists (finished ones expire after their retention). */
  job(id: string): EmulatedJob | undefined {
    const job = this.jobs.get(id);
    if (job && job.finishedAt !== null && Date.now() - job.finishedAt > job.retentionMs) {
      this.jobs.delete(id);
      return undefined;
    }
    return job;
  }

  /** Resolves when the job reaches a final state or after `ms`. */
  waitFinal(id: string, ms: number): Promise<void> {
    const job = this.jobs.get(id);
    if (!job || isFinal(job.status)) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set<() => void>();
      this.waiters.set(id, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  cancel(id: string): EmulatedJob | undefined {
    const job = this.job(id);
    if (!job || isFinal(job.status)) return job;
    this.end(job, "CANCELLED");
    return job;
  }

  purgeQueue(): number {
    const queued = this.queue.splice(0);
    for (const id of queued) {
      const job = this.jobs.get(id);
      if (job) this.end(job, "CANCELLED");
    }
    return queued.length;
  }

  inQueue(): number {
    return this.queue.length;
  }

  inProgress(): number {
    return [...this.jobs.values()].filter((j) => j.status === "IN_PROGRESS").length;
  }

  // ------------------------------------------------------------ what workers report
  workerReady(workerId: string): void {
    const worker = this.workers.get(workerId);
    if (!worker || worker.state !== "initializing") return;
    worker.state = "idle";
    worker.readyAt = Date.now();
    worker.idleSince = Date.now();
    this.tick();
  }

  progress(jobId: string, workerId: string, update: unknown): void {
    const job = this.jobs.get(jobId);
    if (job && job.status === "IN_PROGRESS" && job.workerId === workerId) job.progress = update;
  }

  /** The worker's final result, shaped as the SDK posts it: `{output}`, `{output?, error}`. */
  finish(jobId: string, workerId: string, result: { output?: unknown; error?: unknown }): void {
    const job = this.jobs.get(jobId);
    const worker = this.workers.get(workerId);
    if (worker && worker.jobId === jobId) this.free(worker);
    // A cancelled or timed-out job keeps its state: the worker's late answer is dropped.
    if (!job || job.status !== "IN_PROGRESS" || job.workerId !== workerId) return;
    if (result.error !== undefined && result.error !== null && result.error !== "") {
      job.error = result.error;
      if (result.output !== undefined) job.output = result.output;
      this.end(job, "FAILED");
    } else {
      job.output = result.output;
      this.end(job, "COMPLETED");
    }
  }

  /** A worker that crashed or failed its start: its job fails and it counts as unhealthy until retired. */
  workerCrashed(workerId: string, reason: string): void {
    const worker = this.workers.get(workerId);
    if (!worker || worker.state === "unhealthy") return;
    const job = worker.jobId ? this.jobs.get(worker.jobId) : undefined;
    worker.state = "unhealthy";
    worker.jobId = null;
    worker.idleSince = Date.now();
    if (job && job.status === "IN_PROGRESS") {
      job.error = `worker ${workerId} exited while running the job: ${reason}`;
      this.end(job, "FAILED");
    }
    this.tick();
  }

  // ------------------------------------------------------------ the scaler
  tick(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const job of this.jobs.values()) {
      if (job.status === "IN_PROGRESS" && job.executionTimeoutMs > 0 && job.startedAt !== null && now - job.startedAt > job.executionTimeoutMs) {
        job.error = `the job ran longer than the execution timeout (${job.executionTimeoutMs / this.timings.timeScale} ms)`;
        this.end(job, "TIMED_OUT");
      }
    }
    this.dispatch();
    const wanted = workersWanted(this.scalerView(now));
    while (this.workers.size < wanted) this.bootWorker();
    for (const worker of workersToRetire(this.scalerView(now), now)) this.retire(worker);
  }

  private dispatch(): void {
    for (const worker of this.workers.values()) {
      if (this.queue.length === 0) return;
      if (worker.state !== "idle" || !this.driver.canTake(worker)) continue;
      const job = this.jobs.get(this.queue.shift() ?? "");
      if (!job || job.status !== "IN_QUEUE") continue;
      job.status = "IN_PROGRESS";
      job.startedAt = Date.now();
      job.workerId = worker.id;
      worker.state = "running";
      worker.jobId = job.id;
      worker.jobsRun += 1;
      this.driver.deliver(this, worker, job);
    }
  }

  private live(): EmulatedWorker[] {
    return [...this.workers.values()];
  }

  private scalerView(now: number): ScalerView {
    const oldest = this.jobs.get(this.queue[0] ?? "");
    return {
      settings: this.settings,
      workers: this.live(),
      queued: this.queue.length,
      inProgress: this.inProgress(),
      oldestWaitMs: oldest ? now - oldest.createdAt : 0,
      timeScale: this.timings.timeScale,
    };
  }

  private bootWorker(): void {
    const short = this.settings.flashboot && this.hadWorker;
    const worker: EmulatedWorker = {
      id: `w${randomUUID().replace(/-/g, "").slice(0, 13)}`,
      state: "initializing",
      createdAt: Date.now(),
      readyAt: null,
      idleSince: Date.now(),
      jobId: null,
      coldStartMs: short ? this.timings.flashbootColdStartMs : this.timings.coldStartMs,
      jobsRun: 0,
    };
    this.hadWorker = true;
    this.workers.set(worker.id, worker);
    this.driver.boot(this, worker);
  }

  retire(worker: EmulatedWorker): void {
    this.workers.delete(worker.id);
    if (worker.jobId) {
      const job = this.jobs.get(worker.jobId);
      if (job && job.status === "IN_PROGRESS") {
        job.error = `worker ${worker.id} was stopped while running the job`;
        this.end(job, "FAILED");
      }
    }
    this.driver.retire(worker);
  }

  /** The endpoint is gone (deleted, or the emulator closes): no worker starts after this. */
  shutdown(): void {
    this.closed = true;
    for (const worker of this.live()) this.retire(worker);
  }

  private free(worker: EmulatedWorker): void {
    worker.jobId = null;
    if (worker.state === "running") worker.state = "idle";
    worker.idleSince = Date.now();
  }

  private end(job: EmulatedJob, status: JobState): void {
    const wasQueued = job.status === "IN_QUEUE";
    const workerId = job.workerId;
    job.status = status;
    job.finishedAt = Date.now();
    if (wasQueued) {
      const at = this.queue.indexOf(job.id);
      if (at >= 0) this.queue.splice(at, 1);
    }
    if (status === "COMPLETED") this.counts.completed += 1;
    if (status === "FAILED" || status === "TIMED_OUT") this.counts.failed += 1;
    const worker = workerId ? this.workers.get(workerId) : undefined;
    if (worker && worker.jobId === job.id && (status === "CANCELLED" || status === "TIMED_OUT")) {
      this.driver.stopJob(worker, job.id);
      this.free(worker);
    }
    for (const wake of [...(this.waiters.get(job.id) ?? [])]) wake();
    this.waiters.delete(job.id);
    setImmediate(() => this.tick());
  }
}
