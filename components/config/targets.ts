// target: which way the image runs, and the keys only some targets read.
import { z } from "zod";
import { field } from "./keyInfo";

/** Where the image runs: a RunPod pod, a container on the user's own Docker GPU host, or a RunPod queue endpoint. */
export const TARGETS = ["runpod", "local", "serverless"] as const;
export type Target = (typeof TARGETS)[number];
/**
 * Keys only one target reads, by prefix. A key of another target is validated but not used, and loadStackConfig
 * warns about it when it differs from its default (Pulumi.yaml once handed defaults to every stack).
 */
const TARGET_ONLY_PREFIX: Record<Target, string> = { runpod: "pod.", local: "local.", serverless: "serverless." };
/** pod.* keys that shape the container on more targets than the pod: its env everywhere, its volume's path locally too. */
const SHARED_POD_KEYS: Record<string, readonly Target[]> = {
  "pod.env": ["runpod", "local", "serverless"],
  "pod.volumeMountPath": ["runpod", "local"],
};
/** Keys of no target's prefix that one target still does not read: serverless workers have no ComfyUI front. */
const NOT_READ_BY: Record<Target, ReadonlySet<string>> = {
  runpod: new Set(),
  local: new Set(),
  serverless: new Set(["comfy.auth", "checks.authHeader"]),
};

export function targetFields() {
  return {
    target: field(
      {
        type: "string",
        expected:
          "runpod (a RunPod GPU pod), local (a container on this machine's Docker GPU host, before paying for a pod) " +
          "or serverless (a RunPod queue endpoint whose workers scale from zero)",
        fix: "pulumi config set target runpod (or local, or serverless)",
      },
      z.enum(TARGETS, "unknown target").default("runpod"),
    ),
  };
}

/** Whether `target` reads the key at all. */
export function readsKey(target: Target, key: string): boolean {
  const shared = SHARED_POD_KEYS[key];
  if (shared) return shared.includes(target);
  if (NOT_READ_BY[target].has(key)) return false;
  return !TARGETS.some((other) => other !== target && key.startsWith(TARGET_ONLY_PREFIX[other]));
}

/** Keys set to something other than their default that `target` does not read (mostly other targets' keys). */
export function keysUnusedBy(target: Target, values: Record<string, unknown>, defaults: Record<string, string>): string[] {
  return Object.keys(values)
    .filter((key) => !readsKey(target, key))
    .filter((key) => (JSON.stringify(values[key]) ?? "") !== defaults[key])
    .sort();
}
