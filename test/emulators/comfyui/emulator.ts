// Local emulator of ComfyUI's HTTP + websocket API, after server.py / execution.py / main.py (see
// /work/shared/reference/comfyui-and-image.md §1) and the answers of a real ComfyUI 0.3.64 in
// test/fixtures/comfyui-real-0.3.64. Every route also answers under /api. object_info is the real server's
// (plus hand-written entries for classes the capture lacks), POST /prompt validates against it, a queued prompt
// runs with the capture's websocket sequence (execution.ts), and the history is written after
// execution_success, followed by a status broadcast and `executing {node: null}`. Modes reproduce the failures
// a deployment meets; see ComfyMode.
import type http from "node:http";
import type { Socket } from "node:net";
import { Clients } from "./clients";
import { JobExecution, type ExecutionHost, type FinishedJob } from "./execution";
import { FileStore } from "./files";
import { EmulatedProcess } from "./lifecycle";
import { objectInfo } from "./objectInfo";
import { acceptPrompt } from "./promptRequest";
import { resolveOptions, type ComfyEmulatorOptions, type ComfyMode, type Job, type Json, type RecordedRequest, type ResolvedOptions, type SentEvent } from "./options";
import { systemStats } from "./systemStats";

export class ComfyUIEmulator extends EmulatedProcess implements ExecutionHost {
  readonly requests: RecordedRequest[] = [];
  readonly options: ResolvedOptions;
  readonly files = new FileStore();
  private readonly clients = new Clients();
  private readonly hung = new Set<http.ServerResponse>();
  private pending: Job[] = [];
  private running: Job | null = null;
  private lastNode: string | null = null;
  private history = new Map<string, Json>();
  private number = 0;

  private constructor(options: ComfyEmulatorOptions) {
    super();
    this.options = resolveOptions(options);
  }

  static async start(options: ComfyEmulatorOptions = {}): Promise<ComfyUIEmulator> {
    const emulator = new ComfyUIEmulator(options);
    await emulator.listen();
    if (emulator.options.mode === "slowStart") await emulator.boot(emulator.options.refusedMs, emulator.options.proxy502Ms);
    return emulator;
  }

  get mode(): ComfyMode {
    return this.options.mode;
  }

  /** Switches behaviour at runtime; slowStart makes the server go down and boot again. */
  async setMode(mode: ComfyMode): Promise<void> {
    this.options.mode = mode;
    if (mode === "slowStart") await this.boot(this.options.refusedMs, this.options.proxy502Ms);
  }

  setOptions(options: Partial<ComfyEmulatorOptions>): void {
    Object.assign(this.options, options);
  }

  /** When `executing {node: null}` was sent for a prompt (the moment the job is done). */
  doneAt(promptId: string): number | undefined {
    return this.events.find((e) => e.type === "executing" && (e.data as Json).node === null && (e.data as Json).prompt_id === promptId)?.at;
  }

  /** Files in ComfyUI's input folder: example.png (shipped with ComfyUI) and what was uploaded. */
  inputFiles(): string[] {
    return this.files.inputFiles();
  }

  fileBytes(type: string, subfolder: string, filename: string): Buffer | undefined {
    return this.files.get(type, subfolder, filename);
  }

  /** Every event sent, in order (also those no socket received). */
  get events(): readonly SentEvent[] {
    return this.clients.events;
  }

  /** Binary websocket frames delivered (previews, progress text). */
  get binaryFramesSent(): number {
    return this.clients.binaryFramesSent;
  }

  /** Closes every client websocket (as a proxy timeout would); the server stays up. */
  dropWebsockets(): void {
    this.clients.dropAll();
  }

  override async close(): Promise<void> {
    await super.close();
    this.clients.close();
  }

  protected dropClients(): void {
    this.dropWebsockets();
    for (const res of this.hung) res.destroy();
    this.hung.clear();
  }

  /** The process dies: websockets close, nothing answers, then a fresh ComfyUI with empty queue and history. */
  async die(): Promise<void> {
    this.life.abort();
    this.life = new AbortController();
    this.pending = [];
    this.running = null;
    this.lastNode = null;
    this.history = new Map();
    await this.restart(this.options.restartDownMs, this.options.downAs, () => {
      this.options.mode = "success"; // one crash, then it works again
    });
  }

  // ------------------------------------------------------------ websocket
  protected upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push({ method: "GET", path: url.pathname, headers: req.headers, at: Date.now() });
    const reject = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    if (this.options.hang) return; // never answers
    if (this.phase === "proxy502") return reject(502, "Bad Gateway");
    if (!this.authorised(req.headers)) return reject(401, "Unauthorized");
    if (url.pathname !== "/ws" && url.pathname !== "/api/ws") return reject(404, "Not Found");
    if (this.options.refuseWebsockets) return reject(503, "Service Unavailable");
    this.clients.accept(req, socket, head, url.searchParams.get("clientId"), (sid) => {
      this.send("status", { status: this.queueInfo(), sid }, sid);
      if (this.running?.clientId === sid && this.lastNode !== null) this.send("executing", { node: this.lastNode }, sid);
    });
  }

  send(type: string, data: unknown, to: string | null): void {
    this.clients.send(type, data, to);
  }

  sendBinary(eventType: number, payload: Buffer, to: string | null): void {
    this.clients.sendBinary(eventType, payload, to);
  }

  setLastNode(nodeId: string | null): void {
    this.lastNode = nodeId;
  }

  // ------------------------------------------------------------ HTTP
  private authorised(headers: http.IncomingHttpHeaders): boolean {
    const required = this.options.requiredHeader;
    return !required || headers[required.name.toLowerCase()] === required.value;
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const recorded: RecordedRequest = { method: req.method ?? "GET", path: url.pathname, headers: req.headers, at: Date.now() };
    this.requests.push(recorded);
    const body = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", () => resolve(Buffer.alloc(0)));
    });
    if (body.length > 0 && (req.headers["content-type"] ?? "").startsWith("application/json")) recorded.body = body.toString("utf8");
    if (this.options.hang) {
      this.hung.add(res);
      return;
    }
    if (this.phase === "proxy502") {
      res.writeHead(502, { "Content-Type": "text/html" }).end("<html><body><h1>502 Bad Gateway</h1></body></html>");
      return;
    }
    if (!this.authorised(req.headers)) {
      res.writeHead(401, { "Content-Type": "text/plain" }).end("401: Unauthorized");
      return;
    }
    const route = url.pathname.startsWith("/api/") ? url.pathname.slice(4) : url.pathname;
    try {
      this.route(req.method ?? "GET", route, url.searchParams, body, req.headers, res);
    } catch (error) {
      // aiohttp answers an unhandled exception (e.g. invalid JSON in request.json()) with a plain 500.
      res.writeHead(500, { "Content-Type": "text/plain" }).end(`500 Internal Server Error\n\nServer got itself in trouble: ${String(error)}`);
    }
  }

  private json(res: http.ServerResponse, status: number, data: unknown): void {
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" }).end(JSON.stringify(data));
  }

  private route(method: string, route: string, query: URLSearchParams, body: Buffer, headers: http.IncomingHttpHeaders, res: http.ServerResponse): void {
    const ok = (): void => void res.writeHead(200, { "Content-Type": "text/plain" }).end();
    const notAllowed = (): void => void res.writeHead(405, { "Content-Type": "text/plain" }).end("405: Method Not Allowed");
    const readJson = (): Json => JSON.parse(body.toString("utf8") || "null") as Json;
    const get = (answer: () => unknown): void => (method === "GET" ? this.json(res, 200, answer()) : notAllowed());
    const historyMatch = /^\/history\/(.+)$/.exec(route);
    const objectInfoMatch = /^\/object_info\/(.+)$/.exec(route);
    if (route === "/") {
      if (method !== "GET") return notAllowed();
      return void res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>ComfyUI</title>");
    }
    if (route === "/system_stats") return get(() => systemStats(this.options));
    if (route === "/features") return get(() => ({ supports_preview_metadata: true, max_upload_size: 104857600 }));
    if (route === "/prompt") {
      if (method === "GET") return this.json(res, 200, this.queueInfo());
      if (method === "POST") return this.postPrompt(readJson(), res);
      return notAllowed();
    }
    if (route === "/queue") {
      if (method === "GET") return this.json(res, 200, { queue_running: this.running ? [this.queueItem(this.running)] : [], queue_pending: this.pending.map((j) => this.queueItem(j)) });
      if (method !== "POST") return notAllowed();
      const data = readJson();
      if (data.clear) this.pending = [];
      if (Array.isArray(data.delete)) this.pending = this.pending.filter((j) => !(data.delete as unknown[]).includes(j.promptId));
      this.broadcastStatus();
      return ok();
    }
    if (route === "/history") {
      if (method === "GET") return this.json(res, 200, Object.fromEntries(this.history));
      if (method !== "POST") return notAllowed();
      const data = readJson();
      if (data.clear) this.history.clear();
      if (Array.isArray(data.delete)) for (const id of data.delete) this.history.delete(String(id));
      return ok();
    }
    if (historyMatch) {
      const id = decodeURIComponent(historyMatch[1] ?? "");
      return get(() => (this.history.has(id) ? { [id]: this.history.get(id) } : {}));
    }
    if (route === "/object_info") return get(() => this.objectInfo());
    if (objectInfoMatch) {
      if (!this.options.objectInfoPerClass) return void res.writeHead(404, { "Content-Type": "text/plain" }).end("404: Not Found");
      const name = decodeURIComponent(objectInfoMatch[1] ?? "");
      const all = this.objectInfo();
      return get(() => (name in all ? { [name]: all[name] } : {}));
    }
    if (route === "/view") return method === "GET" ? this.files.view(query, headers, res, this.options.viewMs, (ms, fn) => this.later(ms, fn)) : notAllowed();
    if (route === "/upload/image") {
      if (method !== "POST") return notAllowed();
      const stored = this.files.upload(body, headers);
      return stored.json === undefined ? void res.writeHead(stored.status).end() : this.json(res, stored.status, stored.json);
    }
    if (route === "/interrupt") {
      if (method !== "POST") return notAllowed();
      let data: Json;
      try {
        data = (JSON.parse(body.toString("utf8")) as Json | null) ?? {};
      } catch {
        data = {}; // an empty or invalid body is a global interrupt
      }
      const target = typeof data.prompt_id === "string" && data.prompt_id ? data.prompt_id : null;
      if (this.running && (target === null || this.running.promptId === target)) this.running.interrupted = true;
      return ok();
    }
    if (route === "/free") {
      if (method !== "POST") return notAllowed();
      readJson(); // the handler requires a JSON body
      return ok();
    }
    res.writeHead(404, { "Content-Type": "text/plain" }).end("404: Not Found");
  }

  private objectInfo(): Record<string, Json> {
    return objectInfo({
      installedModels: this.options.installedModels,
      inputFiles: this.inputFiles(),
      comboForm: this.options.comboForm,
      missing: this.options.mode === "missingNode" ? this.options.missingClass : null,
    });
  }

  private queueInfo(): Json {
    return { exec_info: { queue_remaining: this.pending.length + (this.running ? 1 : 0) } };
  }

  private queueItem(job: Job): unknown[] {
    return [job.number, job.promptId, job.prompt, job.extraData, job.outputs];
  }

  private broadcastStatus(): void {
    this.send("status", { status: this.queueInfo() }, null);
  }

  // ------------------------------------------------------------ POST /prompt and the queue
  private postPrompt(data: Json, res: http.ServerResponse): void {
    // A JSON null body throws here, as in server.py: aiohttp answers 500.
    const number = typeof data.number === "number" ? data.number : data.front ? -this.number : this.number;
    if (typeof data.number !== "number") this.number += 1;
    const answer = acceptPrompt(data, number, this.options, { classes: this.objectInfo(), inputFiles: this.inputFiles() });
    this.json(res, answer.status, answer.body);
    if (answer.status !== 200) return;
    this.pending.push(answer.job);
    this.pending.sort((a, b) => a.number - b.number);
    this.broadcastStatus(); // PromptQueue.put → queue_updated
    this.later(0, () => void this.work());
  }

  private async work(): Promise<void> {
    if (this.running || this.phase !== "up") return;
    const job = this.pending.shift();
    if (!job) return;
    this.running = job;
    this.broadcastStatus(); // PromptQueue.get → queue_updated (the running job still counts)
    const life = this.life.signal;
    await new JobExecution(this, job, life).run();
    if (life.aborted) return;
    this.later(0, () => void this.work());
  }

  /** PromptQueue.task_done: the history entry, a status broadcast, then (for a client's prompt) executing null. */
  finish(job: Job, finished: FinishedJob): void {
    this.history.set(job.promptId, {
      prompt: this.queueItem(job),
      outputs: finished.outputs,
      status: { status_str: finished.statusStr, completed: finished.completed, messages: finished.messages },
      meta: Object.fromEntries(Object.keys(finished.outputs).map((id) => [id, { node_id: id, display_node: id, parent_node: null, real_node_id: id }])),
    });
    this.running = null;
    this.lastNode = null;
    this.broadcastStatus();
    if (job.clientId) this.send("executing", { node: null, prompt_id: job.promptId }, job.clientId);
  }
}
