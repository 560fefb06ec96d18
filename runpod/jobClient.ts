// Client of one Serverless endpoint's job API (https://api.runpod.ai/v2/<endpointId>): run, status, cancel,
// health. Bearer API key, a timeout on every request, and retries: 429 (after Retry-After) for every call,
// since a turned-away request was not processed; 5xx and network failures with backoff for status, health
// and cancel, which are safe to repeat. POST /run is not repeated after a 5xx or a lost answer (a second
// job would be a second paid GPU run), only when the connection was refused before anything was sent.
import axios from "axios";
import type { AxiosInstance, AxiosResponse } from "axios";
import type { z } from "zod";
import { runPodError, type RunPodErrorKind } from "./errors";
import { retryAfterMs } from "./httpErrors";
import { USER_AGENT } from "./client";
import { scaledMs, sleep } from "./timing";
import { endpointHealthSchema, jobRefSchema, jobStatusSchema, type EndpointHealth, type JobRef, type JobStatus } from "./jobSchemas";

export interface JobClientSettings {
  apiKey: string;
  /** The endpoint's job API base, e.g. https://api.runpod.ai/v2/<endpointId> (a QueueEndpoint's jobApiUrl). */
  endpointUrl: string;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /** Repeats of status/health/cancel after 5xx or network failures; default 3. */
  maxRetries?: number;
  /** Waits after 429 before giving up; default 6. */
  maxRateLimitWaits?: number;
  /** First backoff step, doubled per retry (scaled by RUNPOD_PROVIDER_DELAY_SCALE); default 500 ms. */
  backoffBaseMs?: number;
}

export interface RunOptions {
  /** The job's own execution timeout (the request's `policy.executionTimeout`, ms, > 5000). */
  executionTimeoutMs?: number;
}

type Retry = "repeatable" | "submit";

function hintFor(kind: RunPodErrorKind, path: string, endpointUrl: string): string {
  switch (kind) {
    case "unauthorized":
    case "forbidden":
      return "The job API refused the API key: export RUNPOD_API_KEY with a key of the account that owns this endpoint (https://www.runpod.io/console/user/settings).";
    case "notFound":
      return path.startsWith("/status/") || path.startsWith("/cancel/")
        ? "The endpoint does not know this job: results are kept 30 minutes after a /run job ends (1 minute for /runsync)."
        : `Nothing answers for this endpoint at ${endpointUrl}: check --endpoint-url (https://api.runpod.ai/v2/<endpointId>, the stack's jobApiUrl) and that the endpoint still exists.`;
    case "rateLimited":
      return "RunPod's job API rate limit was hit repeatedly (or the endpoint's queue is full); wait a minute and try again.";
    case "server":
    case "network":
    case "timeout":
      return "RunPod's job API (or the network to it) failed; try again shortly, and see https://uptime.runpod.io if it persists.";
    case "badRequest":
    case "rejected":
      return "The job API refused the request as sent; the detail above says what it did not accept.";
    default:
      return "";
  }
}

function kindOf(status: number): RunPodErrorKind {
  if (status >= 500) return "server";
  if (status === 400) return "badRequest";
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "notFound";
  if (status === 429) return "rateLimited";
  return "rejected";
}

function detailOf(data: unknown): string | undefined {
  if (data === undefined || data === null || data === "") return undefined;
  if (typeof data === "object" && typeof (data as { error?: unknown }).error === "string") return (data as { error: string }).error;
  const text = typeof data === "string" ? data : JSON.stringify(data);
  return text.replace(/\s+/g, " ").trim().slice(0, 300) || undefined;
}

export class JobClient {
  readonly endpointUrl: string;
  private readonly http: AxiosInstance;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly maxRateLimitWaits: number;
  private readonly backoffBaseMs: number;

  constructor(settings: JobClientSettings) {
    this.endpointUrl = settings.endpointUrl.replace(/\/+$/, "");
    this.timeoutMs = settings.timeoutMs ?? 30_000;
    this.maxRetries = settings.maxRetries ?? 3;
    this.maxRateLimitWaits = settings.maxRateLimitWaits ?? 6;
    this.backoffBaseMs = settings.backoffBaseMs ?? 500;
    this.http = axios.create({
      baseURL: this.endpointUrl,
      timeout: this.timeoutMs,
      headers: { Authorization: `Bearer ${settings.apiKey}`, "User-Agent": USER_AGENT, Accept: "application/json" },
      // Every status is handled here, so axios never throws an error that carries the request headers.
      validateStatus: () => true,
      maxRedirects: 0,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
    });
  }

  /** POST /run: queues a job; its answer is `{id, status}`. */
  run(input: unknown, options: RunOptions = {}): Promise<JobRef> {
    const policy = options.executionTimeoutMs !== undefined ? { policy: { executionTimeout: Math.round(options.executionTimeoutMs) } } : {};
    return this.call("POST", "/run", jobRefSchema(), "submit", { input, ...policy });
  }

  /** GET /status/{id}. */
  status(jobId: string): Promise<JobStatus> {
    return this.call("GET", `/status/${encodeURIComponent(jobId)}`, jobStatusSchema(), "repeatable");
  }

  /** POST /cancel/{id}: stops a running job or removes a queued one. */
  cancel(jobId: string): Promise<JobRef> {
    return this.call("POST", `/cancel/${encodeURIComponent(jobId)}`, jobRefSchema(), "repeatable");
  }

  /** GET /health: job counts and worker states. */
  health(): Promise<EndpointHealth> {
    return this.call("GET", "/health", endpointHealthSchema(), "repeatable");
  }

  private async call<S extends z.ZodType>(method: "GET" | "POST", path: string, schema: S, retry: Retry, body?: unknown): Promise<z.output<S>> {
    const response = await this.send(method, path, retry, body);
    const parsed = schema.safeParse(response.data);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ");
      throw runPodError({
        kind: "unexpected",
        message:
          `RunPod job API ${method} ${path} answered ${response.status} with a body that does not match the documented shape (${issues}). ` +
          "Check --endpoint-url: it must be the endpoint's job API (https://api.runpod.ai/v2/<endpointId>).",
        status: response.status,
        method,
        path,
        ambiguous: method === "POST",
      });
    }
    return parsed.data;
  }

  private async send(method: "GET" | "POST", path: string, retry: Retry, body: unknown): Promise<AxiosResponse> {
    let failures = 0;
    let rateLimitWaits = 0;
    for (;;) {
      let response: AxiosResponse;
      try {
        response = await this.http.request({
          method,
          url: path,
          ...(body !== undefined ? { data: body, headers: { "Content-Type": "application/json" } } : {}),
        });
      } catch (error) {
        const code = axios.isAxiosError(error) ? error.code : undefined;
        const neverSent = code === "ECONNREFUSED";
        if ((retry === "repeatable" || neverSent) && failures < this.maxRetries) {
          failures += 1;
          await sleep(scaledMs(this.backoffBaseMs * 2 ** (failures - 1)));
          continue;
        }
        throw this.transportError(method, path, error, retry === "submit" && !neverSent);
      }
      const status = response.status;
      if (status >= 200 && status < 300) return response;
      if (status === 429 && rateLimitWaits < this.maxRateLimitWaits) {
        rateLimitWaits += 1;
        await sleep(retryAfterMs(response));
        continue;
      }
      if (status >= 500 && retry === "repeatable" && failures < this.maxRetries) {
        failures += 1;
        await sleep(scaledMs(this.backoffBaseMs * 2 ** (failures - 1)));
        continue;
      }
      const kind = kindOf(status);
      const detail = detailOf(response.data);
      const ambiguous = retry === "submit" && status >= 500;
      throw runPodError({
        kind,
        message:
          `RunPod job API ${method} ${path} failed: ${status}${detail ? `: ${detail}` : ""}` +
          (ambiguous ? " (the job may have been queued anyway)" : "") +
          `\n${hintFor(kind, path, this.endpointUrl)}`.trimEnd(),
        status,
        ...(detail !== undefined ? { detail } : {}),
        method,
        path,
        ambiguous,
      });
    }
  }

  private transportError(method: string, path: string, error: unknown, ambiguous: boolean): Error {
    const code = axios.isAxiosError(error) ? error.code : undefined;
    const timedOut = code === "ECONNABORTED" || code === "ETIMEDOUT";
    const kind: RunPodErrorKind = timedOut ? "timeout" : "network";
    const text = error instanceof Error ? error.message : String(error);
    const what = timedOut ? `no answer within ${this.timeoutMs / 1000} s` : `${code ?? "network error"}: ${text}`;
    return runPodError({
      kind,
      message:
        `RunPod job API ${method} ${path} failed: ${what}` +
        (ambiguous ? " (the job may have been queued anyway)" : "") +
        `\n${hintFor(kind, path, this.endpointUrl)}`,
      method,
      path,
      ambiguous,
    });
  }
}
