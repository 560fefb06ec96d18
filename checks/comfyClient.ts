// HTTP client for ComfyUI's API: optional auth header (a proxy in front of ComfyUI), a timeout on every
// request, zod-checked answers, and retries with backoff for GETs and the idempotent upload only.
// POST /prompt is never retried: a blind retry could queue the job twice.
import axios, { type AxiosResponse } from "axios";
import type { z } from "zod";
import {
  historyEntrySchema,
  historySchema,
  objectInfoSchema,
  promptQueuedSchema,
  promptRejectedSchema,
  queueSchema,
  queuedPromptIds,
  systemStatsSchema,
  uploadedSchema,
  type ApiWorkflow,
  type FileRef,
  type HistoryEntry,
  type NodeInfo,
  type PromptQueued,
  type PromptRejected,
  type SystemStats,
  type Uploaded,
} from "./comfyApi";

export interface AuthHeader {
  name: string;
  value: string;
}

/** The header named by `COMFYUI_AUTH_HEADER` (`Name: value`); throws without echoing the value. */
export function parseAuthHeader(raw: string): AuthHeader {
  const colon = raw.indexOf(":");
  const name = colon > 0 ? raw.slice(0, colon).trim() : "";
  const value = colon > 0 ? raw.slice(colon + 1).trim() : "";
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name) || value.length === 0) {
    throw new Error("COMFYUI_AUTH_HEADER must look like 'Name: value' (e.g. 'Authorization: Bearer <token>')");
  }
  return { name, value };
}

/** What went wrong with a request, in terms a caller can decide on. */
export type RequestFailureKind =
  | "unreachable" // connection refused/reset, DNS: nothing (or nothing yet) listens
  | "timeout" // no answer within the request timeout
  | "proxy" // 502/503/504/524: a proxy in front answers, ComfyUI behind it does not (yet)
  | "auth" // 401/403
  | "http" // any other unexpected status
  | "shape" // 2xx with a body that is not what ComfyUI sends
  | "aborted"; // the check's deadline or a cancellation stopped it

export class ComfyRequestError extends Error {
  constructor(
    readonly kind: RequestFailureKind,
    message: string,
    readonly status?: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "ComfyRequestError";
  }

  get transient(): boolean {
    return this.kind === "unreachable" || this.kind === "timeout" || this.kind === "proxy" || (this.kind === "http" && (this.status ?? 0) >= 500);
  }
}

/** POST /prompt answered 400: the workflow failed validation. */
export class PromptRejectedError extends Error {
  constructor(readonly rejection: PromptRejected) {
    super("ComfyUI rejected the workflow");
    this.name = "PromptRejectedError";
  }
}

export const PROXY_STATUSES = new Set([502, 503, 504, 524]);

export interface ComfyClientOptions {
  /** Base URL of ComfyUI, e.g. https://<host>/ or https://<host>/comfy (a path prefix is kept). */
  baseUrl: string;
  auth?: AuthHeader;
  /** Per-request timeout (downloads get their own). Default 15 s. */
  requestTimeoutMs?: number;
  /** Stops every request when the check's deadline passes or it is cancelled. */
  signal?: AbortSignal;
  /** Attempts for retried requests (GETs, uploads). Default 3. */
  attempts?: number;
  /** First backoff step; doubles per retry. Default 250 ms. */
  backoffMs?: number;
}

interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  form?: FormData;
  binary?: boolean;
  timeoutMs?: number;
  retry?: boolean;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Normalises and checks a base URL; throws a usage-style message for anything but http(s). */
export function normaliseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url must be an http(s) URL such as https://<host>/ or http://127.0.0.1:8188, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`--url must use http or https, got "${url.protocol}"`);
  }
  if (url.username || url.password) {
    throw new Error("--url must not carry credentials; put them in COMFYUI_AUTH_HEADER");
  }
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

function describeTransport(error: unknown, timeoutMs: number): ComfyRequestError {
  if (axios.isCancel(error)) return new ComfyRequestError("aborted", "the check was stopped (deadline or cancellation)");
  const code = axios.isAxiosError(error) ? error.code : undefined;
  if (code === "ECONNABORTED" || code === "ETIMEDOUT") {
    return new ComfyRequestError("timeout", `no answer within ${(timeoutMs / 1000).toFixed(0)} s`);
  }
  const cause: unknown = axios.isAxiosError(error) ? error.cause : undefined;
  const causeCode = typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : undefined;
  const what = code ?? causeCode ?? (error instanceof Error ? error.message : "network error");
  return new ComfyRequestError("unreachable", what);
}

function bodySnippet(data: unknown): string {
  const text = Buffer.isBuffer(data) ? data.toString("utf8") : typeof data === "string" ? data : JSON.stringify(data);
  return text.replace(/\s+/g, " ").trim().slice(0, 160);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export class ComfyClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private apiPrefix = "/api";

  constructor(private readonly options: ComfyClientOptions) {
    this.baseUrl = normaliseBaseUrl(options.baseUrl);
    this.timeoutMs = options.requestTimeoutMs ?? 15_000;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoffMs = options.backoffMs ?? 250;
  }

  /** Headers for every request and the websocket upgrade. */
  headers(): Record<string, string> {
    return this.options.auth ? { [this.options.auth.name]: this.options.auth.value } : {};
  }

  websocketUrl(clientId: string): string {
    const url = new URL(`${this.baseUrl}/ws`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("clientId", clientId);
    return url.toString();
  }

  /** One attempt at GET system_stats; older builds without the /api prefix are handled once. */
  async systemStats(retry = false): Promise<SystemStats> {
    try {
      return await this.json({ method: "GET", path: "/system_stats", retry }, systemStatsSchema);
    } catch (error) {
      if (error instanceof ComfyRequestError && error.status === 404 && this.apiPrefix !== "") {
        this.apiPrefix = "";
        return this.json({ method: "GET", path: "/system_stats", retry }, systemStatsSchema);
      }
      throw error;
    }
  }

  /** POST /prompt once. 400 → PromptRejectedError with ComfyUI's per-node errors. */
  async queuePrompt(prompt: ApiWorkflow, clientId: string): Promise<PromptQueued> {
    const response = await this.send({ method: "POST", path: "/prompt", json: { prompt, client_id: clientId } });
    if (response.status === 400) {
      const body = safeJson(String(response.data));
      const parsed = promptRejectedSchema.safeParse(body);
      if (parsed.success) throw new PromptRejectedError(parsed.data);
      throw new ComfyRequestError("http", `POST /prompt answered 400: ${bodySnippet(response.data)}`, 400);
    }
    return this.parse(response, "POST /prompt", promptQueuedSchema);
  }

  /** The finished prompt's history entry, or null while ComfyUI has none (unknown, queued or running). */
  async history(promptId: string, retry = true): Promise<HistoryEntry | null> {
    const all = await this.json({ method: "GET", path: `/history/${encodeURIComponent(promptId)}`, retry }, historySchema);
    const entry = all[promptId];
    if (entry === undefined) return null;
    const parsed = historyEntrySchema.safeParse(entry);
    if (!parsed.success) {
      throw new ComfyRequestError("shape", `GET /history/${promptId} answered an unexpected entry: ${parsed.error.issues[0]?.message ?? ""}`);
    }
    return parsed.data;
  }

  async queue(retry = true): Promise<{ running: string[]; pending: string[] }> {
    const q = await this.json({ method: "GET", path: "/queue", retry }, queueSchema);
    return { running: queuedPromptIds(q.queue_running), pending: queuedPromptIds(q.queue_pending) };
  }

  /**
   * What ComfyUI declares for one node class (GET /object_info/{class}), or null when it does not know the
   * class: server.py answers `{}` for it; a build or proxy without the per-class route answers 404.
   */
  async objectInfo(classType: string): Promise<NodeInfo | null> {
    const path = `/object_info/${encodeURIComponent(classType)}`;
    const response = await this.send({ method: "GET", path, retry: true });
    if (response.status === 404) return null;
    const all = this.parse(response, `GET ${path}`, objectInfoSchema);
    return all[classType] ?? null;
  }

  /** Uploads an input file (overwrite=true makes a retry harmless). Returns the name ComfyUI stored. */
  async uploadInput(fileName: string, bytes: Buffer): Promise<Uploaded> {
    const makeForm = (): FormData => {
      const form = new FormData();
      form.append("image", new Blob([new Uint8Array(bytes)]), fileName);
      form.append("type", "input");
      form.append("overwrite", "true");
      return form;
    };
    return this.json({ method: "POST", path: "/upload/image", form: makeForm(), retry: true, timeoutMs: Math.max(this.timeoutMs, 120_000) }, uploadedSchema);
  }

  /** Downloads an output file through /view. */
  async view(ref: FileRef, timeoutMs = 300_000): Promise<Buffer> {
    const response = await this.send({
      method: "GET",
      path: "/view",
      query: { filename: ref.filename, subfolder: ref.subfolder, type: ref.type },
      binary: true,
      timeoutMs,
      retry: true,
    });
    if (response.status !== 200) throw this.statusError("GET /view", response);
    return Buffer.from(response.data as ArrayBuffer);
  }

  /** Targeted interrupt: ComfyUI ignores it unless that prompt is the one running. Best effort. */
  async interrupt(promptId: string): Promise<void> {
    const response = await this.send({ method: "POST", path: "/interrupt", json: { prompt_id: promptId }, timeoutMs: 5_000 }, true);
    if (response.status !== 200) throw this.statusError("POST /interrupt", response);
  }

  /** Removes a prompt that is still waiting in the queue (a running one needs interrupt). Best effort. */
  async deleteFromQueue(promptId: string): Promise<void> {
    const response = await this.send({ method: "POST", path: "/queue", json: { delete: [promptId] }, timeoutMs: 5_000 }, true);
    if (response.status !== 200) throw this.statusError("POST /queue", response);
  }

  private async json<S extends z.ZodType>(spec: RequestSpec, schema: S): Promise<z.output<S>> {
    const response = await this.send(spec);
    return this.parse(response, `${spec.method} ${spec.path}`, schema);
  }

  private parse<S extends z.ZodType>(response: AxiosResponse, what: string, schema: S): z.output<S> {
    if (response.status < 200 || response.status >= 300) throw this.statusError(what, response);
    const body = safeJson(String(response.data));
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join(".") || "(body)"}: ${issue.message}` : "";
      throw new ComfyRequestError("shape", `${what} answered something that is not ComfyUI's API (${where}; body starts "${bodySnippet(response.data)}")`, response.status, body);
    }
    return parsed.data;
  }

  private statusError(what: string, response: AxiosResponse): ComfyRequestError {
    const status = response.status;
    const kind: RequestFailureKind = PROXY_STATUSES.has(status) ? "proxy" : status === 401 || status === 403 ? "auth" : "http";
    return new ComfyRequestError(kind, `${what} answered ${status}${response.data ? `: ${bodySnippet(response.data)}` : ""}`, status);
  }

  /**
   * Sends one request, retrying transient failures when `spec.retry` is set. Statuses come back as
   * responses (axios never throws for them, so its errors never carry our headers into a message).
   */
  private async send(spec: RequestSpec, noRetry = false): Promise<AxiosResponse> {
    const timeout = spec.timeoutMs ?? this.timeoutMs;
    const attempts = spec.retry && !noRetry ? this.attempts : 1;
    let lastError: ComfyRequestError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (this.options.signal?.aborted) throw new ComfyRequestError("aborted", "the check was stopped (deadline or cancellation)");
      try {
        const response = await axios.request({
          method: spec.method,
          url: `${this.baseUrl}${this.apiPrefix}${spec.path}`,
          ...(spec.query ? { params: spec.query } : {}),
          ...(spec.json !== undefined ? { data: JSON.stringify(spec.json) } : {}),
          ...(spec.form ? { data: spec.form } : {}),
          headers: {
            ...this.headers(),
            ...(spec.json !== undefined ? { "Content-Type": "application/json" } : {}),
            Accept: spec.binary ? "*/*" : "application/json",
          },
          timeout,
          responseType: spec.binary ? "arraybuffer" : "text",
          transformResponse: (data: unknown) => data,
          validateStatus: () => true,
          maxRedirects: 0,
          ...(this.options.signal ? { signal: this.options.signal } : {}),
        });
        const transientStatus = PROXY_STATUSES.has(response.status) || response.status >= 500;
        if (!transientStatus || attempt === attempts) return response;
        lastError = this.statusError(`${spec.method} ${spec.path}`, response);
      } catch (error) {
        lastError = describeTransport(error, timeout);
        if (lastError.kind === "aborted" || attempt === attempts) throw lastError;
      }
      await sleep(this.backoffMs * 2 ** (attempt - 1), this.options.signal);
    }
    throw lastError ?? new ComfyRequestError("http", "request failed");
  }
}
