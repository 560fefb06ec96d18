// Local emulator of RunPod Serverless's job API (https://api.runpod.ai/v2/<endpointId>/...) and of the
// worker side of it, with a FIFO queue, cold starts and worker scaling. Sources:
// - runpod/docs serverless/endpoints/send-requests.mdx (09144f6) and operation-reference.mdx (0f21594): the routes,
//   `{id, status}` answers, `delayTime`/`executionTime`, /run 10 MB and /runsync 20 MB bodies, results kept
//   30 min (/run) and 1 min (/runsync), /runsync waiting 90 s by default (`?wait=` 1000–300000 ms),
//   /purge-queue `{removed, status}`, /health `{jobs:{completed,failed,inProgress,inQueue,retried}, workers}`,
//   `policy.executionTimeout` (> 5000 ms), auth as `authorization: <key>` or `Authorization: Bearer <key>`,
//   400/401/404/429 meanings;
// - job-states.mdx (2707491): IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED, CANCELLED, TIMED_OUT;
// - endpoint-configurations.mdx (0a2b94f): QUEUE_DELAY adds workers once a request waited more than the scaler
//   value in seconds, REQUEST_COUNT keeps ceil((inQueue + inProgress) / scalerValue) workers, idle timeout,
//   execution timeout, flashboot (retained resources make the next start fast); workers/overview.mdx: states;
// - the runpod SDK 1.12.0: worker protocol (runpodJobProcessDriver.ts), handler results (runpodJobHandlerDriver.ts),
//   and endpoint/runner.py's run_sync, which polls /status when /runsync answers a state that is not final.
// Where the docs are silent (bodies of errors, what /runsync answers when the wait ends, health's `ready`), the
// choices are: errors are `{"error": "<text>"}`; /runsync then answers 200 `{id, status}`; ready = idle + running.
import http from "node:http";
import type { Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { listenOnLoopback, trackSockets } from "./loopback";
import { JobEndpoint, isFinal, type EmulatedJob, type EmulatedWorker, type EndpointLookup, type WorkerDriver } from "./runpodJobEndpoint";
import { HandlerDriver, type JobHandler } from "./runpodJobHandlerDriver";
import { ProcessDriver, type WorkerCommand } from "./runpodJobProcessDriver";
import { healthView, statusView } from "./runpodJobViews";

export type { EmulatedEndpointSettings, EndpointLookup, EmulatedJob, EmulatedWorker, JobState } from "./runpodJobEndpoint";
export type { HandlerContext, JobHandler } from "./runpodJobHandlerDriver";
export type { WorkerCommand } from "./runpodJobProcessDriver";

export interface JobEmulatorOptions {
  endpoints: EndpointLookup;
  /** How workers run jobs: an in-process function, or a command started per worker (a real SDK worker). */
  worker: { handler: JobHandler } | { process: WorkerCommand };
  apiKey?: string;
  /** A new worker's start-up (ms, not scaled). Default 1000. */
  coldStartMs?: number;
  /** A flashboot endpoint's later starts. Default coldStartMs / 5. */
  flashbootColdStartMs?: number;
  /** Multiplies the platform's durations: idle timeout, scaler delay, execution timeout, /runsync wait, retention. */
  timeScale?: number;
  /** Scaler period. Default 25 ms. */
  tickMs?: number;
  /** How long job-take and job-stop are held open before 204. Default 1000 ms. */
  holdMs?: number;
  /** RUNPOD_PING_INTERVAL for process workers (the SDK uses whole seconds). Default 1000. */
  pingIntervalMs?: number;
}

export interface JobFault {
  method?: string;
  path?: RegExp;
  status?: number;
  times?: number;
  retryAfter?: number;
  /** Answer nothing for this long (then the status, if any). */
  hangMs?: number;
  /** Drop the connection without answering. */
  reset?: boolean;
}

export interface JobCall { method: string; path: string; status: number; at: number; auth: string | undefined }

class JobHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface Answer { status: number; json?: unknown }

const MB = 1_000_000;

export class RunPodJobEmulator {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly workerApiKey = `rpa_worker_${randomBytes(12).toString("hex")}`;
  readonly calls: JobCall[] = [];
  private readonly endpoints = new Map<string, JobEndpoint>();
  private readonly driver: WorkerDriver;
  private readonly process: ProcessDriver | null;
  private readonly handlerDriver: HandlerDriver | null;
  private readonly faults: Array<{ f: JobFault; left: number }> = [];
  private readonly sockets = new Set<Socket>();
  private readonly ticker: NodeJS.Timeout;
  private readonly timeScale: number;
  private readonly coldStartMs: number;
  private readonly flashbootColdStartMs: number;

  private constructor(private readonly server: http.Server, port: number, private readonly options: JobEmulatorOptions) {
    const origin = `http://127.0.0.1:${port}`;
    this.baseUrl = `${origin}/v2`;
    this.apiKey = options.apiKey ?? "test-key";
    this.timeScale = options.timeScale ?? 1;
    this.coldStartMs = options.coldStartMs ?? 1000;
    this.flashbootColdStartMs = options.flashbootColdStartMs ?? this.coldStartMs / 5;
    if ("handler" in options.worker) {
      this.handlerDriver = new HandlerDriver(options.worker.handler);
      this.process = null;
      this.driver = this.handlerDriver;
    } else {
      this.handlerDriver = null;
      this.process = new ProcessDriver(options.worker.process, {
        origin,
        workerApiKey: this.workerApiKey,
        takeHoldMs: options.holdMs ?? 1000,
        stopHoldMs: options.holdMs ?? 1000,
        pingIntervalMs: options.pingIntervalMs ?? 1000,
        verbose: process.env.RUNPOD_JOBS_VERBOSE === "1",
      });
      this.driver = this.process;
    }
    this.ticker = setInterval(() => this.tick(), options.tickMs ?? 25);
  }

  static async start(options: JobEmulatorOptions): Promise<RunPodJobEmulator> {
    const server = http.createServer();
    const port = await listenOnLoopback(server);
    const emu = new RunPodJobEmulator(server, port, options);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => emu.onRequest(req, res));
    trackSockets(server, emu.sockets);
    return emu;
  }

  /** The job API base of one endpoint, as a QueueEndpoint's jobApiUrl names it. */
  jobApiUrl(endpointId: string): string {
    return `${this.baseUrl}/${endpointId}`;
  }

  // ------------------------------------------------------------ test knobs and views
  inject(fault: JobFault): void {
    this.faults.push({ f: fault, left: fault.times ?? 1 });
  }
  workers(endpointId: string): EmulatedWorker[] {
    return [...(this.endpoints.get(endpointId)?.workers.values() ?? [])].map((w) => ({ ...w }));
  }
  job(endpointId: string, jobId: string): EmulatedJob | undefined {
    return this.endpoints.get(endpointId)?.jobs.get(jobId);
  }
  workerLog(workerId: string): string[] {
    return this.process?.log(workerId) ?? [];
  }
  workerPings(workerId: string): number {
    return this.process?.pings(workerId) ?? 0;
  }

  async close(): Promise<void> {
    clearInterval(this.ticker);
    for (const endpoint of this.endpoints.values()) endpoint.shutdown();
    this.handlerDriver?.dispose();
    await this.process?.dispose();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------ plumbing
  private tick(): void {
    for (const [id, endpoint] of this.endpoints) {
      const settings = this.options.endpoints(id);
      if (!settings) {
        endpoint.shutdown();
        this.endpoints.delete(id);
        continue;
      }
      endpoint.settings = settings;
      endpoint.tick();
    }
  }

  private endpoint(id: string): JobEndpoint {
    const settings = this.options.endpoints(id);
    if (!settings) throw new JobHttpError(404, `endpoint ${id} not found`);
    let endpoint = this.endpoints.get(id);
    if (!endpoint) {
      endpoint = new JobEndpoint(id, settings, this.driver, {
        timeScale: this.timeScale,
        coldStartMs: this.coldStartMs,
        flashbootColdStartMs: this.flashbootColdStartMs,
      });
      this.endpoints.set(id, endpoint);
    }
    endpoint.settings = settings;
    return endpoint;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const auth = req.headers.authorization;
    const record = (status: number): void => {
      this.calls.push({ method, path: url.pathname, status, at: Date.now(), auth });
    };
    const limit = /\/runsync$/.test(url.pathname) ? 20 * MB : 10 * MB;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () => {
      void this.answer(method, url, auth, size > limit ? null : Buffer.concat(chunks).toString("utf8"), res)
        .then((a) => {
          record(a.status);
          if (res.writableEnded || res.destroyed || a.status === 0) return;
          if (a.json === undefined) res.writeHead(a.status).end();
          else res.writeHead(a.status, { "content-type": "application/json" }).end(JSON.stringify(a.json));
        })
        .catch((error: unknown) => {
          const status = error instanceof JobHttpError ? error.status : 500;
          record(status);
          if (!res.writableEnded && !res.destroyed) {
            res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
          }
        });
    });
  }

  private async fault(method: string, path: string, res: http.ServerResponse): Promise<Answer | null> {
    const hit = this.faults.find((q) => q.left > 0 && (!q.f.method || q.f.method === method) && (!q.f.path || q.f.path.test(path)));
    if (!hit) return null;
    hit.left -= 1;
    if (hit.f.hangMs) await new Promise((r) => setTimeout(r, hit.f.hangMs));
    if (hit.f.reset) {
      res.destroy();
      return { status: 0 };
    }
    if (hit.f.status === undefined) return { status: 0 };
    if (hit.f.retryAfter !== undefined) res.setHeader("retry-after", String(hit.f.retryAfter));
    return { status: hit.f.status, json: { error: `injected ${hit.f.status}` } };
  }

  private async answer(method: string, url: URL, auth: string | undefined, body: string | null, res: http.ServerResponse): Promise<Answer> {
    const path = url.pathname;
    const worker = /^\/v2\/([^/]+)\/(job-take|job-done|job-stream|job-stop|ping)\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (worker) return this.workerRoute(method, worker, url.searchParams, auth, body, res);
    const injected = await this.fault(method, path, res);
    if (injected) return injected;
    const match = /^\/v2\/([^/]+)\/(run|runsync|health|purge-queue|status|cancel)(?:\/([^/]+))?$/.exec(path);
    if (!match) throw new JobHttpError(404, "not found");
    const [, endpointId = "", op = "", jobId] = match;
    const key = auth?.replace(/^Bearer\s+/i, "");
    if (!key || key !== this.apiKey) throw new JobHttpError(401, "Unauthorized");
    const allowed: Record<string, string> = { run: "POST", runsync: "POST", health: "GET", "purge-queue": "POST", status: "GET", cancel: "POST" };
    if (allowed[op] !== method) throw new JobHttpError(405, `${method} is not allowed on /${op}`);
    if ((op === "status" || op === "cancel") !== (jobId !== undefined)) throw new JobHttpError(404, "not found");
    const endpoint = this.endpoint(endpointId);
    switch (op) {
      case "run":
      case "runsync":
        return this.submit(endpoint, op === "runsync", body, url.searchParams);
      case "status": {
        const job = endpoint.job(jobId ?? "");
        if (!job) throw new JobHttpError(404, "request does not exist");
        return { status: 200, json: statusView(job) };
      }
      case "cancel": {
        const job = endpoint.cancel(jobId ?? "");
        if (!job) throw new JobHttpError(404, "request does not exist");
        return { status: 200, json: { id: job.id, status: job.status } };
      }
      case "purge-queue":
        return { status: 200, json: { removed: endpoint.purgeQueue(), status: "completed" } };
      default:
        return { status: 200, json: healthView(endpoint) };
    }
  }

  private async submit(endpoint: JobEndpoint, sync: boolean, body: string | null, query: URLSearchParams): Promise<Answer> {
    if (body === null) throw new JobHttpError(413, `the request body is larger than ${sync ? 20 : 10} MB`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new JobHttpError(400, "the request body is not JSON");
    }
    if (parsed === null || typeof parsed !== "object" || !("input" in parsed)) throw new JobHttpError(400, "the request needs an `input` object");
    const policy = (parsed as { policy?: { executionTimeout?: unknown } }).policy;
    const timeout = policy?.executionTimeout;
    if (timeout !== undefined && (typeof timeout !== "number" || timeout <= 5000)) throw new JobHttpError(400, "policy.executionTimeout must be a number of ms above 5000");
    let waitMs = 90_000;
    const wait = query.get("wait");
    if (sync && wait !== null) {
      waitMs = Number(wait);
      if (!Number.isInteger(waitMs) || waitMs < 1000 || waitMs > 300_000) throw new JobHttpError(400, "wait must be 1000-300000 ms");
    }
    const job = endpoint.submit(parsed.input, sync, typeof timeout === "number" ? timeout : undefined);
    if (!sync) return { status: 200, json: { id: job.id, status: job.status } };
    await endpoint.waitFinal(job.id, endpoint.scaled(waitMs));
    return { status: 200, json: isFinal(job.status) ? statusView(job) : { id: job.id, status: job.status } };
  }

  private workerRoute(method: string, m: RegExpExecArray, query: URLSearchParams, auth: string | undefined, body: string | null, res: http.ServerResponse): Answer {
    const [, endpointId = "", route = "", workerId = "", jobId] = m;
    if (!this.process) throw new JobHttpError(404, "this emulator runs in-process handlers, not worker processes");
    if (auth !== this.workerApiKey) throw new JobHttpError(401, "Unauthorized");
    if (!this.process.knows(workerId) || !this.endpoints.has(endpointId)) throw new JobHttpError(404, `worker ${workerId} not found`);
    const expected = route === "job-done" || route === "job-stream" ? "POST" : "GET";
    if (method !== expected) throw new JobHttpError(405, `${method} is not allowed on /${route}`);
    switch (route) {
      case "job-take":
        this.process.onTake(workerId, res);
        return { status: 0 };
      case "job-stop":
        this.process.onStop(workerId, res);
        return { status: 0 };
      case "ping":
        this.process.onPing(workerId, query);
        return { status: 200, json: {} };
      case "job-done": {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body ?? "");
        } catch {
          throw new JobHttpError(400, "job-done needs a JSON body");
        }
        this.process.onDone(workerId, jobId ?? "", parsed);
        return { status: 200, json: {} };
      }
      default:
        return { status: 200, json: {} };
    }
  }
}
