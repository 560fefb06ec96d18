// Shared plumbing of the local emulators: listen on 127.0.0.1 on a free port, and keep track of open
// sockets so close() can end keep-alive connections at once.
import type http from "node:http";
import type { Socket } from "node:net";

export function listenOnLoopback(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (!addr || typeof addr === "string") return reject(new Error("no address"));
      resolve(addr.port);
    });
  });
}

export function trackSockets(server: http.Server, sockets: Set<Socket>): void {
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("clientError", (_e, s: Socket) => s.destroy());
}
