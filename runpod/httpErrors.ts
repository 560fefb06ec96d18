// Turning RunPod's HTTP answers into typed errors: which statuses the spec names, problem+json
// details, the advice to append, and what an accepted but unreadable create answer still tells us.
import axios from "axios";
import type { AxiosResponse } from "axios";
import { hintFor, runPodError, type RunPodErrorKind } from "./errors";
import { problemSchema } from "./schemas";

export type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** The statuses RunPod's spec names; anything else below 500 is a refusal that repeating will not change. */
function kindForStatus(status: number): RunPodErrorKind {
  if (status >= 500) return "server";
  switch (status) {
    case 400:
      return "badRequest";
    case 401:
      return "unauthorized";
    case 402:
      return "payment";
    case 403:
      return "forbidden";
    case 404:
      return "notFound";
    case 409:
      return "conflict";
    case 422:
      return "validation";
    case 429:
      return "rateLimited";
    default:
      return "rejected";
  }
}

/** The `id` an accepted create answer carries even when the rest of it is unreadable or cut short. */
export function idInBody(data: unknown): string | undefined {
  if (data !== null && typeof data === "object" && typeof (data as { id?: unknown }).id === "string") {
    const id = (data as { id: string }).id;
    return id.length ? id : undefined;
  }
  if (typeof data !== "string") return undefined;
  const match = /^\s*\{\s*"id"\s*:\s*"([^"\\]+)"/.exec(data) ?? /"id"\s*:\s*"([A-Za-z0-9_-]+)"\s*,\s*"name"/.exec(data);
  return match?.[1];
}

function headerValue(response: AxiosResponse, name: string): string | undefined {
  const value: unknown = response.headers[name];
  return typeof value === "string" ? value : undefined;
}

/** Retry-After is an integer number of seconds; bounded so a bad header cannot stall a deploy. */
export function retryAfterMs(response: AxiosResponse): number {
  const seconds = Number(headerValue(response, "retry-after"));
  if (!Number.isFinite(seconds) || seconds < 0) return 1000;
  return Math.min(seconds, 120) * 1000;
}

export function errorFromResponse(method: Method, path: string, response: AxiosResponse): Error {
  const status = response.status;
  const requestId = headerValue(response, "x-request-id");
  const parsed = problemSchema().safeParse(response.data);
  const problem = parsed.success ? parsed.data : undefined;
  const cloudflare = status === 403 && !problem && /1010/.test(String(response.data));
  const kind: RunPodErrorKind = cloudflare ? "cloudflare" : kindForStatus(status);
  const detail = problem?.detail ?? rawDetail(response.data);
  const listed = problem?.errors?.length ? `\n  - ${problem.errors.join("\n  - ")}` : "";
  const location = status >= 300 && status < 400 ? headerValue(response, "location") : undefined;
  const hint = hintFor(kind, status);
  const message =
    `RunPod ${method} ${path} failed: ${status} ${problem?.title ?? ""}`.trimEnd() +
    (detail ? `: ${detail}` : "") +
    listed +
    (location ? ` (Location: ${location})` : "") +
    (requestId ? ` (request id ${requestId})` : "") +
    (hint ? `\n${hint}` : "");
  return runPodError({
    kind,
    message,
    status,
    ...(detail !== undefined ? { detail } : {}),
    ...(problem?.errors ? { errors: problem.errors } : {}),
    method,
    path,
    ...(requestId !== undefined ? { requestId } : {}),
    ambiguous: kind === "server" && (method === "POST" || method === "PATCH"),
  });
}

/** A non-problem+json error body, shortened: a proxy's HTML page or a bare string. */
function rawDetail(data: unknown): string | undefined {
  if (data === undefined || data === null || data === "") return undefined;
  const text = typeof data === "string" ? data : JSON.stringify(data);
  return text.replace(/\s+/g, " ").trim().slice(0, 200) || undefined;
}

export function transportError(method: Method, path: string, error: unknown, timeoutMs: number): Error {
  const code = axios.isAxiosError(error) ? error.code : undefined;
  const timedOut = code === "ECONNABORTED" || code === "ETIMEDOUT";
  const kind: RunPodErrorKind = timedOut ? "timeout" : "network";
  const message = error instanceof Error ? error.message : String(error);
  const what = timedOut ? `no answer within ${timeoutMs / 1000}s` : `${code ?? "network error"}: ${message}`;
  return runPodError({
    kind,
    message: `RunPod ${method} ${path} failed: ${what}\n${hintFor(kind)}`,
    method,
    path,
    ambiguous: method === "POST" || method === "PATCH",
  });
}
