// The emulated ComfyUI process: one HTTP server on a fixed loopback port that can stop listening (a restart,
// a pod still booting) and come back on the same port, timers that close() cancels, and a lifetime signal
// that is aborted when the process "dies".
import http from "node:http";
import type { Socket } from "node:net";
import { trackSockets } from "../loopback";

export type Phase = "refused" | "proxy502" | "up";

export abstract class EmulatedProcess {
  protected readonly server: http.Server;
  protected phase: Phase = "up";
  protected life = new AbortController(); // aborted when the process dies or the emulator closes
  protected closed = false;
  private readonly connections = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private port = 0;
  private listening = false;

  protected constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    trackSockets(this.server, this.connections);
    this.server.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  protected abstract upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void;
  /** Ends what lives on top of the HTTP server (websockets, requests held open). */
  protected abstract dropClients(): void;

  protected later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  protected listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        const address = this.server.address();
        if (address && typeof address === "object") this.port = address.port;
        this.listening = true;
        resolve();
      });
    });
  }

  protected async stopListening(): Promise<void> {
    this.dropClients();
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
  }

  /** Refused for refusedMs, then 502 from the proxy for proxy502Ms, then ComfyUI answers. */
  protected async boot(refusedMs: number, proxy502Ms: number): Promise<void> {
    this.phase = "refused";
    await this.stopListening();
    this.later(refusedMs, () => {
      if (this.closed) return;
      this.phase = "proxy502";
      void this.listen().then(() => {
        this.later(proxy502Ms, () => {
          this.phase = "up";
        });
      });
    });
  }

  /** Gone for downMs (connections refused, or a proxy's 502 while the port stays open), then up again. */
  protected async restart(downMs: number, downAs: "refused" | "502", beforeUp: () => void): Promise<void> {
    if (downAs === "502") {
      this.dropClients();
      this.phase = "proxy502";
    } else {
      this.phase = "refused";
      await this.stopListening();
    }
    this.later(downMs, () => {
      if (this.closed) return;
      beforeUp();
      const up = (): void => {
        this.phase = "up";
      };
      if (this.listening) up();
      else void this.listen().then(up);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.life.abort();
    for (const t of this.timers) clearTimeout(t);
    await this.stopListening();
  }
}
