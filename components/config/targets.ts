// target: which way the image runs, and the keys only one target reads.
import { z } from "zod";
import { field } from "./keyInfo";

/** Where the image runs: a RunPod pod, or a container on the user's own Docker GPU host. */
export const TARGETS = ["runpod", "local"] as const;
export type Target = (typeof TARGETS)[number];
/**
 * Keys only one target reads. pod.env and pod.volumeMountPath shape the container on both targets; the other
 * pod.* keys describe RunPod placement and billing. A key of the other target is validated but not used, and
 * loadStackConfig warns about it when it differs from its default (Pulumi.yaml hands defaults to every stack).
 */
const TARGET_ONLY_PREFIX: Record<Target, string> = { runpod: "pod.", local: "local." };
const SHARED_POD_KEYS = new Set(["pod.env", "pod.volumeMountPath"]);

export function targetFields() {
  return {
    target: field(
      {
        type: "string",
        expected: "runpod (a RunPod GPU pod) or local (a container on this machine's Docker GPU host, before paying for a pod)",
        fix: "pulumi config set target runpod (or pulumi config set target local)",
      },
      z.enum(TARGETS, "unknown target").default("runpod"),
    ),
  };
}

/** Keys set to something other than their default that `target` does not read (the other target's keys). */
export function keysUnusedBy(target: Target, values: Record<string, unknown>, defaults: Record<string, string>): string[] {
  const other = TARGETS.find((t) => t !== target) ?? target;
  const prefix = TARGET_ONLY_PREFIX[other];
  return Object.keys(values)
    .filter((key) => key.startsWith(prefix) && !SHARED_POD_KEYS.has(key))
    .filter((key) => (JSON.stringify(values[key]) ?? "") !== defaults[key])
    .sort();
}
