// The websocket clients by sid (server.py's `sockets`): a reconnect with the same clientId replaces the old
// socket; events go to one sid or to everyone; binary frames are a 4-byte big-endian event type + payload.
import { randomUUID } from "node:crypto";
import type http from "node:http";
import type { Socket } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import type { SentEvent } from "./options";

export class Clients {
  /** Every event sent, in order (also those no socket received). */
  readonly events: SentEvent[] = [];
  /** Binary websocket frames delivered (previews, progress text). */
  binaryFramesSent = 0;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Map<string, WebSocket>();

  /** Completes the upgrade; `onOpen` gets the client's sid (its clientId, or a new one). */
  accept(req: http.IncomingMessage, socket: Socket, head: Buffer, clientId: string | null, onOpen: (sid: string) => void): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const sid = clientId || randomUUID().replace(/-/g, "");
      this.sockets.set(sid, ws);
      ws.on("close", () => {
        if (this.sockets.get(sid) === ws) this.sockets.delete(sid);
      });
      onOpen(sid);
    });
  }

  send(type: string, data: unknown, to: string | null): void {
    this.events.push({ type, data, at: Date.now(), to });
    const message = JSON.stringify({ type, data });
    const targets = to === null ? [...this.sockets.values()] : [this.sockets.get(to)].filter((w): w is WebSocket => w !== undefined);
    for (const ws of targets) if (ws.readyState === WebSocket.OPEN) ws.send(message);
  }

  sendBinary(eventType: number, payload: Buffer, to: string | null): void {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(eventType, 0);
    const ws = to === null ? undefined : this.sockets.get(to);
    if (ws?.readyState !== WebSocket.OPEN) return;
    ws.send(Buffer.concat([header, payload]), { binary: true });
    this.binaryFramesSent += 1;
  }

  /** Closes every websocket (as a proxy timeout or a dying process would). */
  dropAll(): void {
    for (const ws of this.sockets.values()) ws.terminate();
    this.sockets.clear();
  }

  close(): void {
    this.dropAll();
    this.wss.close();
  }
}
