// Plays back what a real ComfyUI 0.3.64 answered (test/fixtures/comfyui-real-0.3.64): the raw bodies and headers
// of its HTTP answers and, after POST /prompt, the websocket messages of the captured smoke run, byte for byte.
// Nothing is computed: a client that misreads the real server fails against this, whatever the emulator does.
// POST /prompt answers the captured rejection whose workflow it matches (an unknown class, width 0), else the
// captured success; /view sends an MP4 of the captured size (the capture kept only its first bytes).
import http from "node:http";
import type { Socket } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { capturedObjectInfo, capturedResponse, capturedWebsocket, type CapturedResponse } from "./comfyui/capture";
import { listenOnLoopback, trackSockets } from "./loopback";
import { writeMp4 } from "./mp4";

const HOP = new Set(["Content-Length", "Date", "Server"]);

export class ComfyReplay {
  readonly requests: Array<{ method: string; path: string }> = [];
  private readonly sockets = new Set<Socket>();
  private readonly clients = new Set<WebSocket>();
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly timers = new Set<NodeJS.Timeout>();
  private port = 0;

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<ComfyReplay> {
    const server = http.createServer();
    const replay = new ComfyReplay(server);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => void replay.handle(req, res));
    server.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => replay.upgrade(req, socket, head));
    trackSockets(server, replay.sockets);
    replay.port = await listenOnLoopback(server);
    return replay;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const ws of this.clients) ws.terminate();
    this.wss.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    this.requests.push({ method: "GET", path: new URL(req.url ?? "/", "http://x").pathname });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.add(ws);
      ws.on("close", () => this.clients.delete(ws));
      const [hello] = capturedWebsocket().messages;
      if (hello) ws.send(hello.raw);
    });
  }

  /** The messages after the connect status, spaced as captured (compressed to a tenth). */
  private playRun(): void {
    const [hello, ...run] = capturedWebsocket().messages;
    const start = run[0]?.t ?? hello?.t ?? 0;
    for (const message of run) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        for (const ws of this.clients) if (ws.readyState === WebSocket.OPEN) ws.send(message.raw);
      }, (message.t - start) * 100);
      this.timers.add(timer);
    }
  }

  private answer(res: http.ServerResponse, captured: CapturedResponse, body: Buffer | string = captured.raw ?? ""): void {
    const headers = Object.fromEntries(Object.entries(captured.headers).filter(([k]) => !HOP.has(k)));
    res.writeHead(captured.status, { ...headers, "Content-Length": Buffer.byteLength(body) }).end(body);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push({ method: req.method ?? "GET", path: url.pathname });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const route = url.pathname.replace(/^\/api(?=\/)/, "");
    const objectInfo = /^\/object_info\/(.+)$/.exec(route);
    if (req.method === "GET" && route === "/system_stats") return this.answer(res, capturedResponse("system_stats"));
    if (req.method === "GET" && route === "/queue") return this.answer(res, capturedResponse("queue_after"));
    if (req.method === "GET" && objectInfo) {
      const name = decodeURIComponent(objectInfo[1] ?? "");
      const entry = capturedObjectInfo()[name];
      return this.answer(res, capturedResponse("object_info_unknown_class"), JSON.stringify(entry ? { [name]: entry } : {}));
    }
    if (req.method === "GET" && route.startsWith("/history/")) {
      const captured = capturedResponse("history_entry");
      const known = decodeURIComponent(route.slice("/history/".length)) === capturedWebsocket().meta.prompt_id;
      return this.answer(res, captured, known ? captured.raw : "{}");
    }
    if (req.method === "GET" && route === "/view") return this.answer(res, capturedResponse("view_gifs"), writeMp4({ width: 256, height: 256, frames: 16 }));
    if (req.method === "POST" && route === "/prompt") {
      const sent = Buffer.concat(chunks).toString("utf8");
      if (sent.includes('"NoSuchNodeClass"')) return this.answer(res, capturedResponse("prompt_post_missing_node"));
      if (/"width":\s*0\b/.test(sent)) return this.answer(res, capturedResponse("prompt_post_invalid_value"));
      this.answer(res, capturedResponse("prompt_post_ok"));
      return this.playRun();
    }
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("404: Not Found");
  }
}
