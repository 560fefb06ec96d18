// Workers that are real processes speaking the runpod SDK's worker protocol (runpod 1.12.0 sources:
// serverless/modules/rp_job.py, rp_http.py, rp_ping.py, rp_progress.py, rp_scale.py, worker_state.py):
// - the SDK takes jobs with GET RUNPOD_WEBHOOK_GET_JOB ($ID → its RUNPOD_POD_ID, `&job_in_progress=0|1`
//   appended); 200 with a JSON `{id, input}` is a job, 204 is "nothing now". The emulator holds the
//   request open a while before a 204, as the SDK asks again at once;
// - it posts every result and progress update to RUNPOD_WEBHOOK_POST_OUTPUT ($RUNPOD_POD_ID, $ID → job id,
//   `&isStream=false` appended) as a JSON text with a form content type: `{"status":"IN_PROGRESS","output":…}`
//   for progress_update, `{"output":…}` or `{"output"?,"error":…}` for the end;
// - it long-polls the stop channel (the job-take URL with /job-stop/) for `{"jobsToStop":[ids]}`;
// - it pings RUNPOD_WEBHOOK_PING every RUNPOD_PING_INTERVAL ms (`job_id`, `runpod_version`; a failed
//   fitness check pings `status=unhealthy`), only when RUNPOD_AI_API_KEY and RUNPOD_POD_ID are set;
// - every request carries `Authorization: <RUNPOD_AI_API_KEY>` (no Bearer).
import { spawn, type ChildProcess } from "node:child_process";
import type http from "node:http";
import type { EmulatedJob, EmulatedWorker, JobEndpoint, WorkerDriver } from "./runpodJobEndpoint";

export interface WorkerCommand {
  command: string;
  args?: string[];
  cwd?: string;
  /** Added to the worker's environment (e.g. COMFYUI_URL). */
  env?: Record<string, string>;
}

interface ProcessWorker {
  endpoint: JobEndpoint;
  child?: ChildProcess;
  bootTimer?: NodeJS.Timeout;
  take?: { res: http.ServerResponse; timer: NodeJS.Timeout };
  stop?: { res: http.ServerResponse; timer: NodeJS.Timeout };
  pendingStops: string[];
  log: string[];
  pings: number;
  retired: boolean;
}

export interface ProcessDriverOptions {
  /** The emulator's base URL, http://127.0.0.1:<port>. */
  origin: string;
  workerApiKey: string;
  takeHoldMs: number;
  stopHoldMs: number;
  pingIntervalMs: number;
  /** Worker output to stderr as it comes (RUNPOD_JOBS_VERBOSE=1). */
  verbose: boolean;
}

const LOG_LINES = 400;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function noContent(res: http.ServerResponse): void {
  if (!res.writableEnded) res.writeHead(204).end();
}

export class ProcessDriver implements WorkerDriver {
  private readonly workers = new Map<string, ProcessWorker>();
  private readonly exits = new Set<Promise<void>>();

  constructor(private readonly command: WorkerCommand, private readonly options: ProcessDriverOptions) {}

  /** What a real worker container finds in its environment (the SDK reads these). */
  workerEnv(endpointId: string, workerId: string): Record<string, string> {
    const base = `${this.options.origin}/v2/${endpointId}`;
    return {
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?gpu=EMULATED`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?gpu=EMULATED`,
      RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=EMULATED`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID`,
      RUNPOD_PING_INTERVAL: String(this.options.pingIntervalMs),
      RUNPOD_AI_API_KEY: this.options.workerApiKey,
      RUNPOD_POD_ID: workerId,
      RUNPOD_POD_HOSTNAME: `${workerId}-emulated`,
      RUNPOD_ENDPOINT_ID: endpointId,
      // The SDK's automatic system checks want 8.8.8.8:53 and a GPU; neither exists on a test host.
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
      RUNPOD_SKIP_GPU_CHECK: "true",
    };
  }

  boot(endpoint: JobEndpoint, worker: EmulatedWorker): void {
    const state: ProcessWorker = { endpoint, pendingStops: [], log: [], pings: 0, retired: false };
    this.workers.set(worker.id, state);
    // The cold start before the process runs stands for pulling and starting the container; the SDK's own
    // start-up until its first job-take comes on top, as on the platform.
    state.bootTimer = setTimeout(() => this.spawnWorker(endpoint, worker.id, state), worker.coldStartMs);
  }

  private spawnWorker(endpoint: JobEndpoint, workerId: string, state: ProcessWorker): void {
    if (state.retired) return;
    // The user's API key is never a worker's business; nor are the test runner's other RUNPOD_ settings.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RUNPOD_")));
    const child = spawn(this.command.command, this.command.args ?? [], {
      cwd: this.command.cwd,
      env: { ...inherited, ...this.workerEnv(endpoint.id, workerId), ...(this.command.env ?? {}) },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: the SDK's heartbeat runs in a child process that must end with the worker.
      detached: true,
    });
    state.child = child;
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString("utf8");
      if (this.options.verbose) process.stderr.write(text.replace(/^/gm, `[${workerId}] `));
      state.log.push(...text.split("\n").filter((l) => l.length > 0));
      if (state.log.length > LOG_LINES) state.log.splice(0, state.log.length - LOG_LINES);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<void>((resolve) => {
      child.once("error", (error) => {
        state.log.push(`spawn failed: ${error.message}`);
        resolve();
      });
      child.once("exit", () => resolve());
    });
    this.exits.add(exited);
    void exited.then(() => {
      this.exits.delete(exited);
      if (state.retired) return;
      this.release(state);
      endpoint.workerCrashed(workerId, `exit code ${child.exitCode ?? child.signalCode ?? "?"}; last output: ${state.log.slice(-5).join(" | ")}`);
    });
  }

  canTake(worker: EmulatedWorker): boolean {
    return this.workers.get(worker.id)?.take !== undefined;
  }

  deliver(_endpoint: JobEndpoint, worker: EmulatedWorker, job: EmulatedJob): void {
    const state = this.workers.get(worker.id);
    const take = state?.take;
    if (!state || !take) return;
    clearTimeout(take.timer);
    state.take = undefined;
    take.res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: job.id, input: job.input }));
  }

  stopJob(worker: EmulatedWorker, jobId: string): void {
    const state = this.workers.get(worker.id);
    if (!state) return;
    state.pendingStops.push(jobId);
    this.flushStops(state);
  }

  retire(worker: EmulatedWorker): void {
    const state = this.workers.get(worker.id);
    if (!state) return;
    state.retired = true;
    if (state.bootTimer) clearTimeout(state.bootTimer);
    this.release(state);
    const child = state.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      signalGroup(child, "SIGTERM");
      const kill = setTimeout(() => signalGroup(child, "SIGKILL"), 3000);
      child.once("exit", () => {
        clearTimeout(kill);
        signalGroup(child, "SIGKILL");
      });
    }
  }

  // ------------------------------------------------------------ the worker-side routes
  onTake(workerId: string, res: http.ServerResponse): void {
    const state = this.workers.get(workerId);
    if (!state || state.retired) return noContent(res);
    if (state.take) noContent(state.take.res);
    const timer = setTimeout(() => {
      if (state.take?.res === res) state.take = undefined;
      noContent(res);
    }, this.options.takeHoldMs);
    state.take = { res, timer };
    res.once("close", () => {
      if (state.take?.res === res) {
        clearTimeout(timer);
        state.take = undefined;
      }
    });
    // The first job-take is the moment the worker is ready: its container and the handler's imports are up.
    state.endpoint.workerReady(workerId);
    state.endpoint.tick();
  }

  onDone(workerId: string, jobId: string, body: unknown): void {
    const state = this.workers.get(workerId);
    if (!state) return;
    const result = body !== null && typeof body === "object" ? (body as Record<string, unknown>) : { output: body };
    if (result.status === "IN_PROGRESS") state.endpoint.progress(jobId, workerId, result.output);
    else state.endpoint.finish(jobId, workerId, { output: result.output, error: result.error });
  }

  onStop(workerId: string, res: http.ServerResponse): void {
    const state = this.workers.get(workerId);
    if (!state || state.retired) return noContent(res);
    if (state.stop) noContent(state.stop.res);
    const timer = setTimeout(() => {
      if (state.stop?.res === res) state.stop = undefined;
      noContent(res);
    }, this.options.stopHoldMs);
    state.stop = { res, timer };
    res.once("close", () => {
      if (state.stop?.res === res) {
        clearTimeout(timer);
        state.stop = undefined;
      }
    });
    this.flushStops(state);
  }

  onPing(workerId: string, query: URLSearchParams): void {
    const state = this.workers.get(workerId);
    if (!state) return;
    state.pings += 1;
    if (query.get("status") === "unhealthy") {
      state.endpoint.workerCrashed(workerId, `fitness check ${query.get("check") ?? "?"} failed: ${query.get("reason") ?? ""}`);
    }
  }

  knows(workerId: string): boolean {
    return this.workers.has(workerId);
  }

  log(workerId: string): string[] {
    return [...(this.workers.get(workerId)?.log ?? [])];
  }

  pings(workerId: string): number {
    return this.workers.get(workerId)?.pings ?? 0;
  }

  /** Ends every worker process and waits (bounded) for them to exit. */
  async dispose(): Promise<void> {
    for (const state of this.workers.values()) {
      if (state.retired) continue;
      state.retired = true;
      if (state.bootTimer) clearTimeout(state.bootTimer);
      this.release(state);
      if (state.child) signalGroup(state.child, "SIGTERM");
    }
    const all = Promise.all([...this.exits]);
    const cap = new Promise<void>((resolve) => setTimeout(resolve, 1500).unref());
    await Promise.race([all, cap]);
    // Whatever is left of each group (the heartbeat process outlives a SIGTERM'd worker) ends now.
    for (const state of this.workers.values()) if (state.child) signalGroup(state.child, "SIGKILL");
  }

  private flushStops(state: ProcessWorker): void {
    if (!state.stop || state.pendingStops.length === 0) return;
    const { res, timer } = state.stop;
    clearTimeout(timer);
    state.stop = undefined;
    const ids = state.pendingStops.splice(0);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jobsToStop: ids }));
  }

  private release(state: ProcessWorker): void {
    if (state.take) {
      clearTimeout(state.take.timer);
      noContent(state.take.res);
      state.take = undefined;
    }
    if (state.stop) {
      clearTimeout(state.stop.timer);
      noContent(state.stop.res);
      state.stop = undefined;
    }
  }
}
