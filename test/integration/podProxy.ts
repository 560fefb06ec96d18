// Stands in for RunPod's https proxy (https://<podId>-<port>.proxy.runpod.net) in the real-engine suite: an
// HTTP forward proxy on loopback, given to the checks as https_proxy. The checks' HTTP client (axios) opens a
// CONNECT tunnel to <podId>-<port>.proxy.runpod.net:443; the proxy ends TLS itself with a throwaway
// certificate for *.proxy.runpod.net (trusted by the checks through NODE_EXTRA_CA_CERTS) and forwards to the
// ComfyUI emulator while that pod is RUNNING in the RunPod emulator (else 404, like RunPod for a pod that is
// gone). The checks' websocket does not use the proxy: it fails to resolve and the checks poll instead, which
// they are built to do. Every request is recorded.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { Socket } from "node:net";
import * as path from "node:path";
import { listenOnLoopback, trackSockets } from "../emulators/loopback";

const HOST = /^([a-z0-9]+)-(\d+)\.proxy\.runpod\.net$/;

/** A self-signed certificate for *.proxy.runpod.net in dir (key.pem, cert.pem), made with openssl. */
export function makeProxyCertificate(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "1",
    "-subj", "/CN=proxy.runpod.net", "-addext", "subjectAltName=DNS:*.proxy.runpod.net",
  ], { stdio: "ignore" });
  return { key: fs.readFileSync(keyFile, "utf8"), cert: fs.readFileSync(certFile, "utf8"), certFile };
}

export interface ProxiedRequest {
  podId: string;
  port: number;
  method: string;
  path: string;
  status: number;
}

export class PodProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: http.Server,
    private readonly tlsServer: https.Server,
    readonly url: string,
    private readonly target: (podId: string, port: number) => string | undefined,
  ) {}

  /** target: the base URL serving that pod's port, or undefined when the pod does not serve. */
  static async start(
    tls: { key: string; cert: string },
    target: (podId: string, port: number) => string | undefined,
  ): Promise<PodProxy> {
    const server = http.createServer();
    const tlsServer = https.createServer(tls);
    const port = await listenOnLoopback(server);
    const proxy = new PodProxy(server, tlsServer, `http://127.0.0.1:${port}`, target);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => proxy.forward(req, res, req.url ?? ""));
    tlsServer.on("request", (req: http.IncomingMessage, res: http.ServerResponse) =>
      proxy.forward(req, res, `https://${req.headers.host ?? ""}${req.url ?? ""}`),
    );
    server.on("connect", (req: http.IncomingMessage, socket: Socket) => {
      const [host, port443] = (req.url ?? "").split(":");
      if (!HOST.test(host ?? "") || port443 !== "443") {
        socket.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
      }
      proxy.sockets.add(socket);
      socket.on("close", () => proxy.sockets.delete(socket));
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n", () => tlsServer.emit("connection", socket));
    });
    trackSockets(server, proxy.sockets);
    return proxy;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.tlsServer.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, absoluteUrl: string): void {
    const answer = (status: number, text: string, record: Omit<ProxiedRequest, "status">): void => {
      this.requests.push({ ...record, status });
      res.writeHead(status, { "content-type": "text/plain" }).end(text);
    };
    let url: URL;
    try {
      url = new URL(absoluteUrl);
    } catch {
      answer(400, "absolute URI expected", { podId: "", port: 0, method: req.method ?? "", path: req.url ?? "" });
      return;
    }
    const match = HOST.exec(url.hostname);
    const record = { podId: match?.[1] ?? "", port: Number(match?.[2] ?? 0), method: req.method ?? "", path: url.pathname + url.search };
    if (!match) {
      answer(502, `not a RunPod proxy host: ${url.hostname}`, record);
      return;
    }
    const base = this.target(record.podId, record.port);
    if (!base) {
      answer(404, `pod ${record.podId} does not serve port ${record.port}`, record);
      return;
    }
    const upstream = http.request(
      `${base}${record.path}`,
      { method: req.method, headers: { ...req.headers, host: new URL(base).host } },
      (answerFromUpstream) => {
        this.requests.push({ ...record, status: answerFromUpstream.statusCode ?? 0 });
        res.writeHead(answerFromUpstream.statusCode ?? 502, answerFromUpstream.headers);
        answerFromUpstream.pipe(res);
      },
    );
    upstream.on("error", (error) => {
      if (!res.headersSent) answer(502, `upstream: ${error.message}`, record);
      else res.destroy();
    });
    req.pipe(upstream);
  }
}
