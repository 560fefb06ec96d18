// pod.maxCostPerHour after create: the catalog's list price is checked before creating, but the rate a
// pod is billed is its own `cost` (USD/h), so a created pod above the cap is terminated at once.
import { sleep, type RunPodClient } from "./client";
import { isKind, runPodError } from "./errors";
import { podOutputs } from "./podLogic";
import { partialFailure } from "./podWait";
import type { ApiPod, PodInputs } from "./schemas";

const usd = (n: number): string => `$${n.toFixed(2)}`;

/** Float noise from the API's per-GPU × count arithmetic must not read as over the cap. */
const EPSILON = 1e-6;

export function exceedsCap(pod: ApiPod, inputs: PodInputs): boolean {
  return inputs.maxCostPerHour !== undefined && (pod.cost ?? 0) > inputs.maxCostPerHour + EPSILON;
}

/** Terminates a pod billed above pod.maxCostPerHour and throws saying so; does nothing otherwise. */
export async function enforceCostCap(client: RunPodClient, pod: ApiPod, inputs: PodInputs, log: (message: string) => void): Promise<void> {
  if (!exceedsCap(pod, inputs)) return;
  const cap = inputs.maxCostPerHour ?? 0;
  const what = `Pod ${pod.id} (${pod.gpu?.id ?? "GPU"} ×${inputs.gpuCount}) costs ${usd(pod.cost ?? 0)}/h, above pod.maxCostPerHour ${usd(cap)}/h`;
  log(`${what}; terminating it`);
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      await client.deletePod(pod.id);
      throw runPodError({
        kind: "notReady",
        message: `${what}. It was terminated, so nothing is left running or billed. Raise pod.maxCostPerHour or choose cheaper pod.gpuTypes.`,
      });
    } catch (error) {
      if (isKind(error, "notReady")) throw error;
      lastError = error;
      if (attempt < 3) await sleep(1000 * attempt);
    }
  }
  throw partialFailure(
    pod.id,
    podOutputs(inputs, pod),
    `${what}. Terminating it failed (${lastError instanceof Error ? lastError.message : "unknown error"}); it stays in the stack state, so \`pulumi destroy\` removes it.`,
  );
}
