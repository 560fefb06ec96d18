// Typed RunPod errors, made by factory functions rather than classes: Pulumi serializes the provider
// by value, and a serialized `class … extends Error` loses its message and its `instanceof Error`.

export type RunPodErrorKind =
  | "validation" // 422: the request is wrong; never retried
  | "badRequest" // 400: a rule was broken, or (on create) this candidate has no capacity
  | "unauthorized" // 401
  | "payment" // 402: balance too low; no candidate can succeed
  | "forbidden" // 403: no access (on create: to this candidate's pool)
  | "cloudflare" // 403 from RunPod's CDN, not the API (error 1010: rejected client)
  | "notFound" // 404
  | "conflict" // 409
  | "rateLimited" // 429 after our retries
  | "rejected" // any other non-2xx status the spec's table does not name (3xx, 405, 410, 413, …): never retried
  | "server" // 5xx
  | "network" // no HTTP answer (refused, reset, DNS)
  | "timeout" // no answer within our timeout
  | "config" // our own settings are unusable (no API key, bad URL)
  | "notReady" // a pod we created failed to start or timed out (and was cleaned up)
  | "unexpected"; // a 2xx body that does not match the API's schema (on a create: ambiguous, a pod may exist)

export interface RunPodError extends Error {
  readonly isRunPodError: true;
  readonly kind: RunPodErrorKind;
  readonly status?: number;
  readonly detail?: string;
  readonly errors?: string[];
  readonly method?: string;
  readonly path?: string;
  readonly requestId?: string;
  /** True when a mutation may or may not have been applied (5xx, timeout or network failure on POST/PATCH). */
  readonly ambiguous?: boolean;
  /** The id an accepted but unreadable create answer still carried, when it carried one. */
  readonly createdId?: string;
}

export interface RunPodErrorFields {
  kind: RunPodErrorKind;
  message: string;
  status?: number;
  detail?: string;
  errors?: string[];
  method?: string;
  path?: string;
  requestId?: string;
  ambiguous?: boolean;
  createdId?: string;
}

export function runPodError(fields: RunPodErrorFields): RunPodError {
  const { message, ...rest } = fields;
  const error = new Error(message);
  error.name = "RunPodError";
  return Object.assign(error, rest, { isRunPodError: true as const });
}

export function isRunPodError(value: unknown): value is RunPodError {
  return value instanceof Error && (value as Partial<RunPodError>).isRunPodError === true;
}

export function isKind(value: unknown, ...kinds: RunPodErrorKind[]): value is RunPodError {
  return isRunPodError(value) && kinds.includes(value.kind);
}

const API_URL_HINT = "set runpod:apiUrl to https://api.runpod.io/v2 (or unset it, with RUNPOD_API_URL, to use that default)";

/** What to change for a status the spec's table does not name; none of them is worth repeating. */
function rejectedHint(status: number | undefined): string {
  if (status !== undefined && status >= 300 && status < 400) {
    return `RunPod redirected the request instead of answering it: ${API_URL_HINT}.`;
  }
  switch (status) {
    case 405:
      return `This method is not allowed on this path, so runpod:apiUrl probably names another API or version: ${API_URL_HINT}.`;
    case 410:
      return `This API (or API version) has been retired: ${API_URL_HINT}.`;
    case 413:
      return "The request is too large for RunPod: shorten the pod.env values (or other long inputs), then run `pulumi up` again.";
    case 414:
    case 431:
      return "The request line or headers are too long for RunPod: shorten the resource name and inputs, then run `pulumi up` again.";
    default:
      return `RunPod refused this request and repeating it will not help: fix what the detail names (check runpod:apiUrl and the pod.* config), then run \`pulumi up\` again.`;
  }
}

/** What the user should do about an API failure, appended to its message. */
export function hintFor(kind: RunPodErrorKind, status?: number): string {
  switch (kind) {
    case "unauthorized":
      return "Check the key: `pulumi config set --secret runpod:apiKey <key>` (or RUNPOD_API_KEY); keys are at https://www.runpod.io/console/user/settings.";
    case "payment":
      return "Add funds to the RunPod account, then run `pulumi up` again.";
    case "forbidden":
      return "The API key lacks permission for this; use a key with read/write access.";
    case "cloudflare":
      return "RunPod's CDN rejected the client (error 1010). A proxy or runpod:apiUrl may be stripping the User-Agent.";
    case "rateLimited":
      return "RunPod's rate limit was hit repeatedly; wait a minute, then run `pulumi up` again.";
    case "server":
    case "network":
    case "timeout":
      return "RunPod (or the network to it) failed; retry `pulumi up` shortly. Check https://uptime.runpod.io if it persists.";
    case "validation":
      return "The request was rejected as invalid; fix the config values named above, then run `pulumi up` again.";
    case "badRequest":
      return "RunPod rejected the request as sent; fix what the detail names (the pod.* config), then run `pulumi up` again.";
    case "notFound":
      return `Check that the pod or registry still exists (\`pulumi refresh\` forgets ones deleted outside Pulumi) and that runpod:apiUrl is right: ${API_URL_HINT}.`;
    case "conflict":
      return "The pod's state does not allow this now (locked, or in the middle of a transition); wait for it to settle or unlock it in the RunPod console, then run `pulumi up` again.";
    case "rejected":
      return rejectedHint(status);
    case "unexpected":
      return "RunPod's answer does not match its published API (https://api.runpod.io/v2/openapi.json); retry `pulumi up`, and upgrade this provider if it persists.";
    default:
      return "";
  }
}
