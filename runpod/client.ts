// HTTP client for RunPod REST v2: Bearer auth, a real User-Agent, timeouts, problem+json errors and
// RunPod's documented retry policy. Only 429 (after Retry-After, any method), 5xx and network failures
// are transient. GETs and DELETEs are retried on 5xx/network failures with backoff; POST and PATCH never
// are (a blind retry could create a second billed pod): they fail as "ambiguous" for the caller to
// resolve. Every other status fails at once with RunPod's title/detail and what to change.
import axios from "axios";
import type { AxiosResponse } from "axios";
import type { z } from "zod";
import { hintFor, runPodError } from "./errors";
import { errorFromResponse, idInBody, retryAfterMs, transportError, type Method } from "./httpErrors";

export type { Method };
import { scaledMs, sleep } from "./timing";
import {
  logEventSchema,
  podListSchema,
  podSchema,
  registryListSchema,
  registrySchema,
  type ApiPod,
  type ApiRegistry,
} from "./schemas";

export interface ClientSettings {
  apiKey: string;
  /** API base including the version, e.g. https://api.runpod.io/v2 */
  baseUrl: string;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Retries of idempotent requests after 5xx/network failures. */
  maxRetries?: number;
  /** Waits for 429 before giving up. */
  maxRateLimitWaits?: number;
  /** First backoff step; doubles per retry. */
  backoffBaseMs?: number;
}

export const USER_AGENT = "steadydancer-runpod/0.1 (+pulumi dynamic provider; node)";

export interface RequestOptions {
  body?: unknown;
  /** 404 is an expected answer: return null instead of throwing. */
  allowNotFound?: boolean;
}

export interface LogFollower {
  /** True while the stream is open and delivering. */
  isLive(): boolean;
  close(): void;
}

export interface RunPodClient {
  getPod(id: string): Promise<ApiPod | null>;
  listPods(): Promise<ApiPod[]>;
  createPod(body: Record<string, unknown>): Promise<ApiPod>;
  updatePod(id: string, body: Record<string, unknown>): Promise<ApiPod>;
  /** Resolves "deleted", or "gone" when the pod did not exist (404). */
  deletePod(id: string): Promise<"deleted" | "gone">;
  /** POST /pods/{id}/action for start (200, the pod). Never retried blind: a lost answer is the caller's to check. */
  startPod(id: string): Promise<ApiPod>;
  createRegistry(body: { name: string; username: string; password: string }): Promise<ApiRegistry>;
  getRegistry(id: string): Promise<ApiRegistry | null>;
  listRegistries(): Promise<ApiRegistry[]>;
  deleteRegistry(id: string): Promise<"deleted" | "gone">;
  /**
   * Follows the pod's log stream (SSE) and calls `onLine` for each new line, until `close()`.
   * Best effort: any failure just ends the stream, since callers also poll.
   */
  followLogs(id: string, onLine: (source: string, line: string) => void): LogFollower;
  /**
   * Any other v2 route (catalog, network volumes) with the same auth, timeouts, retries and errors; a 2xx
   * body is parsed with `schema`, and null stands for a 404 when `allowNotFound` or for an empty 204.
   */
  call<S extends z.ZodType>(method: Method, path: string, schema: S, options?: RequestOptions): Promise<z.output<S> | null>;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export { sleep } from "./timing";

export function createClient(settings: ClientSettings): RunPodClient {
  const timeoutMs = settings.timeoutMs ?? 30_000;
  const maxRetries = settings.maxRetries ?? 3;
  const maxRateLimitWaits = settings.maxRateLimitWaits ?? 6;
  const backoffBaseMs = settings.backoffBaseMs ?? 500;
  const http = axios.create({
    baseURL: settings.baseUrl.replace(/\/+$/, ""),
    timeout: timeoutMs,
    headers: {
      Authorization: `Bearer ${settings.apiKey}`,
      "User-Agent": USER_AGENT,
      Accept: "application/json, application/problem+json",
    },
    // Every status is handled below, so axios never throws for one (its errors would carry the headers).
    validateStatus: () => true,
    maxRedirects: 0,
  });

  async function send(method: Method, path: string, options: RequestOptions): Promise<AxiosResponse | null> {
    const idempotent = method === "GET" || method === "DELETE";
    let failures = 0;
    let rateLimitWaits = 0;
    for (;;) {
      let response: AxiosResponse;
      try {
        response = await http.request({
          method,
          url: path,
          ...(options.body !== undefined ? { data: options.body, headers: { "Content-Type": "application/json" } } : {}),
        });
      } catch (error) {
        if (idempotent && failures < maxRetries) {
          failures += 1;
          await sleep(scaledMs(backoffBaseMs * 2 ** (failures - 1)));
          continue;
        }
        throw transportError(method, path, error, timeoutMs);
      }
      const status = response.status;
      if (status >= 200 && status < 300) return response;
      if (status === 404 && options.allowNotFound) return null;
      // 429 means the request was turned away before it was processed: safe to repeat for any method.
      if (status === 429 && rateLimitWaits < maxRateLimitWaits) {
        rateLimitWaits += 1;
        await sleep(retryAfterMs(response));
        continue;
      }
      if (status >= 500 && idempotent && failures < maxRetries) {
        failures += 1;
        await sleep(scaledMs(backoffBaseMs * 2 ** (failures - 1)));
        continue;
      }
      throw errorFromResponse(method, path, response);
    }
  }

  /**
   * A 2xx body that does not match the spec. After a POST or PATCH the change was accepted, so the
   * error is ambiguous (and carries the created id when the body still shows one).
   */
  function parse<S extends z.ZodType>(schema: S, method: Method, path: string, response: AxiosResponse | null): z.output<S> {
    const data: unknown = response?.data;
    const result = schema.safeParse(data);
    if (!result.success) {
      const issues = result.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`)
        .join("; ");
      const accepted = method === "POST" || method === "PATCH";
      const createdId = method === "POST" ? idInBody(data) : undefined;
      throw runPodError({
        kind: "unexpected",
        message:
          `RunPod ${method} ${path} answered ${response?.status ?? "?"} with a body that does not match the v2 spec (${issues})` +
          (accepted ? "; the change was accepted, so it may have been applied" : "") +
          `.\n${hintFor("unexpected")}`,
        ...(response ? { status: response.status } : {}),
        method,
        path,
        ambiguous: accepted,
        ...(createdId !== undefined ? { createdId } : {}),
      });
    }
    return result.data;
  }

  const enc = encodeURIComponent;

  return {
    async getPod(id) {
      const path = `/pods/${enc(id)}`;
      const response = await send("GET", path, { allowNotFound: true });
      return response ? parse(podSchema(), "GET", path, response) : null;
    },
    async listPods() {
      const pods: ApiPod[] = [];
      let cursor: string | null | undefined;
      // v2 added cursor paging after the first spec; follow nextCursor when the API sends one.
      for (let page = 0; page < 100; page += 1) {
        const path = cursor ? `/pods?cursor=${enc(cursor)}` : "/pods";
        const response = await send("GET", path, {});
        const list = parse(podListSchema(), "GET", path, response);
        pods.push(...list.pods);
        cursor = list.pagination?.nextCursor;
        if (!cursor || list.pagination?.hasNextPage === false) break;
      }
      return pods;
    },
    async createPod(body) {
      const response = await send("POST", "/pods", { body });
      return parse(podSchema(), "POST", "/pods", response);
    },
    async updatePod(id, body) {
      const path = `/pods/${enc(id)}`;
      const response = await send("PATCH", path, { body });
      return parse(podSchema(), "PATCH", path, response);
    },
    async startPod(id) {
      const path = `/pods/${enc(id)}/action`;
      const response = await send("POST", path, { body: { action: "start" } });
      return parse(podSchema(), "POST", path, response);
    },
    async deletePod(id) {
      const response = await send("DELETE", `/pods/${enc(id)}`, { allowNotFound: true });
      return response ? "deleted" : "gone";
    },
    async createRegistry(body) {
      const response = await send("POST", "/registries", { body });
      return parse(registrySchema(), "POST", "/registries", response);
    },
    async getRegistry(id) {
      const path = `/registries/${enc(id)}`;
      const response = await send("GET", path, { allowNotFound: true });
      return response ? parse(registrySchema(), "GET", path, response) : null;
    },
    async listRegistries() {
      const response = await send("GET", "/registries", {});
      return parse(registryListSchema(), "GET", "/registries", response).registries;
    },
    async deleteRegistry(id) {
      const response = await send("DELETE", `/registries/${enc(id)}`, { allowNotFound: true });
      return response ? "deleted" : "gone";
    },
    async call(method, path, schema, options = {}) {
      const response = await send(method, path, options);
      if (!response || response.status === 204) return null;
      return parse(schema, method, path, response);
    },
    followLogs(id, onLine) {
      const controller = new AbortController();
      let live = false;
      // The stream never ends on its own; it is bounded by the caller's close() and by this
      // deadline for the response headers.
      const headerTimer = setTimeout(() => controller.abort(), timeoutMs);
      http
        .get(`/pods/${enc(id)}/logs`, {
          params: { tail: 0 },
          responseType: "stream",
          timeout: 0,
          signal: controller.signal,
          headers: { Accept: "text/event-stream" },
        })
        .then((response) => {
          clearTimeout(headerTimer);
          const stream = response.data as NodeJS.ReadableStream;
          if (response.status !== 200) {
            controller.abort();
            return;
          }
          live = true;
          let buffer = "";
          stream.on("data", (chunk: Buffer) => {
            buffer += chunk.toString("utf8");
            let end: number;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const event = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = event
                .split("\n")
                .filter((l) => l.startsWith("data:"))
                .map((l) => l.slice(5).trim())
                .join("\n");
              const parsed = logEventSchema().safeParse(safeJson(data));
              if (parsed.success) onLine(parsed.data.source ?? "", parsed.data.line ?? "");
            }
          });
          const ended = () => {
            live = false;
          };
          stream.on("error", ended);
          stream.on("end", ended);
          stream.on("close", ended);
        })
        .catch(() => clearTimeout(headerTimer));
      return {
        isLive: () => live,
        close() {
          live = false;
          clearTimeout(headerTimer);
          controller.abort();
        },
      };
    },
  };
}
