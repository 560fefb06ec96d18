// Where a provider gets its API key and base URL: Pulumi's configure step (stack config) first, then
// the environment. Never from resource inputs, so the key is in no state, output or serialized closure.
import type * as pulumi from "@pulumi/pulumi";
import { runPodError } from "./errors";
import { createClient, type RunPodClient } from "./client";
import { DEFAULT_API_URL } from "./schemas";

export interface ProviderSettings {
  apiKey?: string;
  apiUrl?: string;
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
  settingsStore().set(provider, { ...(apiKey ? { apiKey } : {}), ...(apiUrl ? { apiUrl } : {}) });
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

/** Progress lines go to stderr, which the Pulumi CLI shows as the resource's diagnostics. */
export function progressLogger(subject: string): (message: string) => void {
  return (message: string) => {
    if (process.env.RUNPOD_PROVIDER_QUIET === "1") return;
    process.stderr.write(`[runpod] ${subject}: ${message}\n`);
  };
}
