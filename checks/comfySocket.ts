// ComfyUI's websocket (/ws?clientId=…): JSON events for our client id, binary preview frames to skip.
// Connecting has a timeout, and a ping every few seconds notices a connection that died silently
// (a proxy that dropped it without a close frame).
import WebSocket from "ws";
import { wsEnvelopeSchema } from "./comfyApi";

export type SocketEvent =
  | { kind: "message"; type: string; data: unknown; at: number }
  | { kind: "closed"; reason: string; at: number };

export interface SocketOptions {
  headers: Record<string, string>;
  connectTimeoutMs: number;
  /** How often to ping; a ping unanswered by the next one closes the socket. Default 10 s. */
  pingIntervalMs?: number;
}

/** A queue of socket events that a loop can wait on with a timeout. */
export class Mailbox<T> {
  private readonly items: T[] = [];
  private waiter: ((item: T | null) => void) | null = null;

  push(item: T): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter(item);
    } else {
      this.items.push(item);
    }
  }

  /** The next item, or null after `timeoutMs` or when `signal` aborts. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<T | null> {
    const queued = this.items.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const finish = (item: T | null): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiter = null;
        resolve(item);
      };
      const onAbort = (): void => finish(null);
      const timer = setTimeout(() => finish(null), Math.max(0, timeoutMs));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiter = finish;
    });
  }

  clear(): void {
    this.items.length = 0;
  }
}

/** Why the upgrade failed, with the HTTP status when the server answered one. */
export class SocketConnectError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = "SocketConnectError";
  }
}

export class ComfySocket {
  binaryFrames = 0;
  private closedByUs = false;
  private reported = false;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;

  private constructor(private readonly ws: WebSocket, private readonly onEvent: (event: SocketEvent) => void) {}

  static connect(url: string, options: SocketOptions, onEvent: (event: SocketEvent) => void): Promise<ComfySocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: options.headers, handshakeTimeout: options.connectTimeoutMs });
      const socket = new ComfySocket(ws, onEvent);
      let opened = false;
      ws.on("unexpected-response", (request, response) => {
        socket.closedByUs = true;
        request.destroy();
        reject(new SocketConnectError(`the websocket upgrade was answered with HTTP ${response.statusCode ?? "?"}`, response.statusCode));
      });
      ws.on("error", (error) => {
        if (opened) return;
        socket.closedByUs = true;
        reject(new SocketConnectError(`websocket connection failed: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      });
      ws.on("open", () => {
        opened = true;
        socket.startPinging(options.pingIntervalMs ?? 10_000);
        resolve(socket);
      });
      ws.on("message", (data, isBinary) => socket.receive(data, isBinary));
      ws.on("pong", () => {
        socket.awaitingPong = false;
      });
      ws.on("close", (code, reason) => {
        if (!opened) {
          socket.closedByUs = true;
          reject(new SocketConnectError(`websocket closed during the handshake (code ${code})`));
          return;
        }
        socket.report(`closed with code ${code}${reason.length ? ` ${reason.toString()}` : ""}`);
      });
    });
  }

  close(): void {
    this.closedByUs = true;
    clearInterval(this.pingTimer);
    this.ws.terminate();
  }

  private startPinging(intervalMs: number): void {
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        this.report(`no pong within ${(intervalMs / 1000).toFixed(0)} s`);
        this.ws.terminate();
        return;
      }
      this.awaitingPong = true;
      this.ws.ping();
    }, intervalMs);
    this.pingTimer.unref();
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    this.awaitingPong = false; // any traffic proves the connection is alive
    if (isBinary) {
      // Preview images and progress text: [4-byte big-endian event type][payload]. Not needed here.
      this.binaryFrames += 1;
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data as Buffer).toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return;
    }
    const envelope = wsEnvelopeSchema.safeParse(json);
    if (envelope.success) this.onEvent({ kind: "message", type: envelope.data.type, data: envelope.data.data, at: Date.now() });
  }

  private report(reason: string): void {
    clearInterval(this.pingTimer);
    if (this.closedByUs || this.reported) return;
    this.reported = true;
    this.onEvent({ kind: "closed", reason, at: Date.now() });
  }
}
