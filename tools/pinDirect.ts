// The `models:pin` step for a manifest file published on its own host (DIRECT_URL_HOSTS, e.g. OpenMMLab's
// download.openmmlab.com) rather than on the Hub: its size from a HEAD (or, failing that, a one-byte Range GET's
// Content-Range), its sha256 by streaming the whole file through the hash (resuming with a Range request after a
// dropped connection), checked against the sha256Prefix the publisher put into the file name. The Hugging Face
// token is never sent here: these requests go through their own client, without any Authorization header.
import { createHash } from "crypto";
import type { IncomingMessage } from "http";
import axios, { type AxiosInstance } from "axios";
import { directDownloadUrl, DIRECT_URL_HOSTS, type DirectModelFile } from "../models";

export type DirectPinOutcome =
  | { id: string; source: "url"; status: "pinned" | "unchanged" | "changed"; size: number; sha256: string; previous?: { size: number | null; sha256: string | null } }
  | { id: string; source: "url"; status: "failed"; reason: string };

export interface DirectPinOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  log: (line: string) => void;
  /** Seconds between progress lines while hashing. */
  progressSeconds?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class FetchError extends Error {
  constructor(message: string, readonly transient: boolean) {
    super(message);
  }
}

function networkReason(err: unknown): string {
  return axios.isAxiosError(err) ? (err.code ?? err.message) : err instanceof Error ? err.message : String(err);
}

function statusError(status: number, url: string): FetchError {
  const transient = status === 429 || status >= 500;
  const hint = status === 404 ? " (check the manifest url)" : status === 401 || status === 403 ? " (the host refuses it: a mirror that needs its own access?)" : "";
  return new FetchError(`HTTP ${status} from ${url}${hint}`, transient);
}

/** Runs `attempt` until it succeeds or a non-transient error, with exponential backoff between tries. */
async function withRetry<T>(what: string, opts: DirectPinOptions, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      const fetchError = err instanceof FetchError ? err : new FetchError(networkReason(err), true);
      if (!fetchError.transient || i >= opts.retries) throw new FetchError(`${what}: ${fetchError.message}`, fetchError.transient);
      await sleep(opts.retryDelayMs * 2 ** i);
    }
  }
}

/** Size from HEAD's Content-Length, else from a `Range: bytes=0-0` answer's Content-Range total; null if neither. */
async function remoteSize(http: AxiosInstance, url: string, opts: DirectPinOptions): Promise<number | null> {
  const head = await withRetry(`HEAD ${url}`, opts, async () => {
    const res = await http.head(url, { validateStatus: () => true });
    if (res.status >= 400 && res.status !== 405 && res.status !== 501) throw statusError(res.status, url);
    return res;
  });
  const length = Number(head.headers["content-length"]);
  if (head.status < 300 && Number.isSafeInteger(length) && length > 0) return length;
  const ranged = await withRetry(`GET ${url} (bytes 0-0)`, opts, async () => {
    const res = await http.get(url, { headers: { Range: "bytes=0-0" }, responseType: "arraybuffer", validateStatus: () => true });
    if (res.status >= 400) throw statusError(res.status, url);
    return res;
  });
  const total = /\/(\d+)\s*$/.exec(String(ranged.headers["content-range"] ?? ""))?.[1];
  return total === undefined ? null : Number(total);
}

/** sha256 and length of the whole body, resuming with `Range: bytes=N-` after a dropped connection. */
async function streamHash(http: AxiosInstance, file: DirectModelFile, url: string, expectedSize: number | null, opts: DirectPinOptions): Promise<{ sha256: string; size: number }> {
  let hash = createHash("sha256");
  let received = 0;
  let lastLine = Date.now();
  const every = (opts.progressSeconds ?? 15) * 1000;
  await withRetry(`GET ${url}`, opts, async () => {
    const res = await http.get<IncomingMessage>(url, {
      responseType: "stream",
      headers: received > 0 ? { Range: `bytes=${received}-` } : {},
      validateStatus: () => true,
    });
    if (res.status >= 400) {
      res.data.destroy();
      throw statusError(res.status, url);
    }
    const start = res.status === 206 ? Number(/^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""))?.[1]) : 0;
    if (start !== received) {
      // A server that ignores the Range (200) starts over; a 206 from elsewhere cannot be stitched on.
      if (start !== 0) {
        res.data.destroy();
        throw new FetchError(`asked for bytes ${received}- and got a range from ${start}`, false);
      }
      hash = createHash("sha256");
      received = 0;
    }
    await new Promise<void>((resolve, reject) => {
      res.data.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
        if (Date.now() - lastLine >= every) {
          lastLine = Date.now();
          opts.log(`hashing   ${file.id}: ${(received / 1e6).toFixed(1)} MB${expectedSize ? ` of ${(expectedSize / 1e6).toFixed(1)} MB` : ""}`);
        }
      });
      res.data.on("end", () => resolve());
      res.data.on("error", reject);
      res.data.on("aborted", () => reject(new Error("connection closed mid-body")));
    });
    if (expectedSize !== null && received < expectedSize) throw new FetchError(`connection closed after ${received} of ${expectedSize} bytes`, true);
  });
  return { sha256: hash.digest("hex"), size: received };
}

export async function pinDirectFile(file: DirectModelFile, opts: DirectPinOptions): Promise<DirectPinOutcome> {
  const url = directDownloadUrl(file, opts.env);
  const host = new URL(file.url).hostname;
  const mirrorVariable = DIRECT_URL_HOSTS[host] ?? "";
  const failed = (reason: string): DirectPinOutcome => ({ id: file.id, source: "url", status: "failed", reason });
  // Its own client: no default headers shared with the Hub's, so HF_TOKEN cannot ride along.
  const http = axios.create({ timeout: opts.timeoutMs, maxRedirects: 5, headers: { "User-Agent": "steadydancer-models-pin/1" } });
  try {
    const size = await remoteSize(http, url, opts);
    if (file.size !== null && size !== null && size !== file.size) {
      opts.log(`${file.id}: ${url} is ${size} bytes, the manifest pins ${file.size}: hashing it to see what changed`);
    }
    const hashed = await streamHash(http, file, url, size, opts);
    if (size !== null && hashed.size !== size) return failed(`${url} sent ${hashed.size} bytes but announced ${size}`);
    if (file.sha256Prefix !== undefined && !hashed.sha256.startsWith(file.sha256Prefix)) {
      return failed(`${url} has sha256 ${hashed.sha256}, which does not start with the sha256Prefix ${file.sha256Prefix} its publisher states: not the published file (a mirror or proxy serving something else?); nothing was pinned`);
    }
    const previous = { size: file.size, sha256: file.sha256 };
    const status = file.size === null && file.sha256 === null ? "pinned" : file.size === hashed.size && file.sha256 === hashed.sha256 ? "unchanged" : "changed";
    return { id: file.id, source: "url", status, size: hashed.size, sha256: hashed.sha256, ...(status === "changed" ? { previous } : {}) };
  } catch (err) {
    if (!(err instanceof FetchError)) throw err;
    const where = url === file.url ? host : `${new URL(url).origin} (${mirrorVariable})`;
    return failed(`cannot pin from ${where}: ${err.message}; its size and sha256 stay as they are (run models:pin where ${host} is reachable${mirrorVariable ? `, or set ${mirrorVariable} to a mirror of it` : ""})`);
  }
}
