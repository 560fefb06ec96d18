// Where a provider gets its API key and base URL: Pulumi's configure step (stack config) first, then
// the environment. Never from resource inputs, so the key is in no state, output or serialized closure.
import type * as pulumi from "@pulumi/pulumi";
import { runPodError } from "./errors";
import { createClient, type RunPodClient } from "./client";
import { DEFAULT_API_URL } from "./schemas";
import { DEFAULT_JOB_API_URL } from "./serverlessSchemas";

export interface ProviderSettings {
  apiKey?: string;
  apiUrl?: string;
  /** Base of the serverless job API (`runpod:jobApiUrl`), e.g. https://api.runpod.ai/v2. */
  jobApiUrl?: string;
}

/**
 * Settings live in a process-wide WeakMap keyed by provider object, never on the object itself: a
 * provider object is serialized by value, so a key stored on it would be written into state.
 */
function settingsStore(): WeakMap<object, ProviderSettings> {
  const holder = globalThis as unknown as Record<symbol, WeakMap<object, ProviderSettings> | undefined>;
  const key = Symbol.for("steadydancer-runpod.providerSettings");
  return (holder[key] ??= new WeakMap<object, ProviderSettings>());
}

/** The `configure` step: read the key and URL from the stack config (namespaced keys preserved). */
export function configureProvider(provider: object, req: pulumi.dynamic.ConfigureRequest): void {
  const apiKey = req.config.get("runpod:apiKey");
  const apiUrl = req.config.get("runpod:apiUrl");
  const jobApiUrl = req.config.get("runpod:jobApiUrl");
  settingsStore().set(provider, { ...(apiKey ? { apiKey } : {}), ...(apiUrl ? { apiUrl } : {}), ...(jobApiUrl ? { jobApiUrl } : {}) });
}

export function clientFor(provider: object): RunPodClient {
  const settings = settingsStore().get(provider);
  const apiKey = settings?.apiKey || process.env.RUNPOD_API_KEY;
  const apiUrl = settings?.apiUrl || process.env.RUNPOD_API_URL || DEFAULT_API_URL;
  if (!apiKey) {
    throw runPodError({
      kind: "config",
      message:
        "No RunPod API key. Set it as a secret: `pulumi config set --secret runpod:apiKey <key>`, or export RUNPOD_API_KEY.",
    });
  }
  if (!/^https?:\/\/[^\s]+$/.test(apiUrl)) {
    throw runPodError({
      kind: "config",
      message: `runpod:apiUrl must be an http(s) URL such as ${DEFAULT_API_URL}; got "${apiUrl}".`,
    });
  }
  const timeoutMs = Number(process.env.RUNPOD_HTTP_TIMEOUT_MS);
  return createClient({ apiKey, baseUrl: apiUrl, ...(timeoutMs > 0 ? { timeoutMs } : {}) });
}

/**
 * The serverless job API base (`runpod:jobApiUrl`, then RUNPOD_JOB_API_URL, then the default), checked
 * like runpod:apiUrl and without a trailing slash; an endpoint's job URL is `${base}/${endpointId}`.
 */
export function jobApiBaseFor(provider: object): string {
  const url = settingsStore().get(provider)?.jobApiUrl || process.env.RUNPOD_JOB_API_URL || DEFAULT_JOB_API_URL;
  if (!/^https?:\/\/[^\s]+$/.test(url)) {
    throw runPodError({
      kind: "config",
      message: `runpod:jobApiUrl must be an http(s) URL such as ${DEFAULT_JOB_API_URL}; got "${url}". Set it with \`pulumi config set runpod:jobApiUrl <url>\` (or RUNPOD_JOB_API_URL), or unset it to use the default.`,
    });
  }
  return url.replace(/\/+$/, "");
}

/** Progress lines go to stderr, which the Pulumi CLI shows as the resource's diagnostics. */
export function progressLogger(subject: string): (message: string) => void {
  return (message: string) => {
    if (process.env.RUNPOD_PROVIDER_QUIET === "1") return;
    process.stderr.write(`[runpod] ${subject}: ${message}\n`);
  };
}
