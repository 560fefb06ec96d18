// What every check takes, and the wording shared by their failure messages.
import { ComfyClient, ComfyRequestError, type AuthHeader } from "./comfyClient";
import type { Deadline } from "./deadline";
import { Progress } from "./progress";

export interface CheckOptions {
  /** ComfyUI base URL. */
  url: string;
  /** Optional header for a proxy with auth in front of ComfyUI. Never printed. */
  auth?: AuthHeader;
  /** The whole check's deadline in seconds. */
  timeoutSeconds: number;
  /** Progress lines (stderr by default). */
  progress?: Progress;
  /** Cancels the check (e.g. SIGTERM); the check still returns a verdict. */
  signal?: AbortSignal;
  /** Per-request timeout; default 15 s. */
  requestTimeoutMs?: number;
}

export const DEFAULT_TIMEOUT_SECONDS = { health: 900, vram: 60, generate: 1800 } as const;
export const DEFAULT_MIN_VRAM_GB = 24;

export function clientFor(options: CheckOptions, deadline: Deadline): ComfyClient {
  return new ComfyClient({
    baseUrl: options.url,
    ...(options.auth ? { auth: options.auth } : {}),
    signal: deadline.signal,
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
  });
}

export function progressOf(options: CheckOptions): Progress {
  return options.progress ?? new Progress();
}

/** A short state for progress lines: "502 from proxy", "connection refused (ECONNREFUSED)". */
export function describeRequestFailure(error: unknown): string {
  if (error instanceof ComfyRequestError) {
    switch (error.kind) {
      case "proxy":
        return `${error.status ?? ""} from proxy`.trim();
      case "unreachable":
        return /ECONNREFUSED/.test(error.message) ? "connection refused (ECONNREFUSED)" : `connection failed (${error.message})`;
      case "timeout":
        return error.message;
      case "auth":
        return `${error.status ?? ""} (not authorised)`;
      case "aborted":
        return "stopped";
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** What a person should do about a request failure. */
export function hintFor(error: unknown): string {
  if (!(error instanceof ComfyRequestError)) return "";
  switch (error.kind) {
    case "auth":
      return "The server refused our credentials: set COMFYUI_AUTH_HEADER ('Name: value') to what the proxy in front of ComfyUI expects.";
    case "unreachable":
      return "Nothing answers at that address: check that the pod is running and exposes 8188/http, then look at the pod's logs (ComfyUI may have crashed at startup).";
    case "proxy":
      return "The proxy reaches the pod but ComfyUI behind it does not answer: it is still starting (model downloads, custom node imports) or it crashed; look at the pod's logs.";
    case "timeout":
      return "ComfyUI accepted the connection but did not answer in time: it may be overloaded or stuck; look at the pod's logs.";
    case "shape":
      return "Something answers at that URL, but not ComfyUI's API: check --url (it must be ComfyUI's base URL, port 8188).";
    case "http":
      return error.status === 404
        ? "Nothing at that URL serves ComfyUI's API (404): check --url (ComfyUI's base URL, port 8188, exposed as http)."
        : "";
    default:
      return "";
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
