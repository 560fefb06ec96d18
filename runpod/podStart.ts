// Starting a pod that stopped outside Pulumi (its idle/lifetime watchdog, the console): `pulumi refresh` records
// EXITED, and the next `pulumi up` starts it with the v2 start action and waits until it serves again.
import type { RunPodClient } from "./client";
import { isKind, isRunPodError, runPodError } from "./errors";
import type { InterruptWatch } from "./interrupts";
import { waitUntilReady, type WaitResult } from "./podWait";
import type { ApiPod, PodInputs, PodOutputs } from "./schemas";

/** The state a stopped pod is recorded in; `start` is valid from it (and from ERROR, which we leave to the user). */
export const STOPPED_STATUS = "EXITED";

export function isStopped(outs: Pick<PodOutputs, "status">): boolean {
  return outs.status === STOPPED_STATUS;
}

/** How often Pulumi has started this pod again after it stopped; a trigger that re-runs the checks. */
export function startCountOf(outs: Partial<Pick<PodOutputs, "startCount">>): number {
  return typeof outs.startCount === "number" ? outs.startCount : 0;
}

/**
 * Sends `start` and waits until the pod serves. A lost answer (5xx, timeout) or a 409 is settled by reading
 * the pod: STARTING or RUNNING means the start went through, so it is never sent twice blind.
 */
export async function startStoppedPod(
  client: RunPodClient,
  pod: ApiPod,
  inputs: PodInputs,
  log: (message: string) => void,
  interrupts: InterruptWatch,
): Promise<WaitResult> {
  log(`pod ${pod.id} is ${pod.status} (stopped outside Pulumi, e.g. by pod.idleStopMinutes or pod.maxLifetimeHours): starting it`);
  let starting: ApiPod;
  try {
    starting = await client.startPod(pod.id);
  } catch (error) {
    if (isKind(error, "badRequest")) {
      throw runPodError({
        kind: "badRequest",
        status: error.status ?? 400,
        message:
          `Pod ${pod.id} could not be started: ${error.detail ?? error.message}\n` +
          "A stopped pod keeps its host: when that host's GPUs are taken, it cannot start until they are free. " +
          "Run `pulumi up` again later, or replace the pod: `pulumi up --replace <the pod's URN>` (its volume is lost).",
      });
    }
    if (!isRunPodError(error) || !(error.ambiguous || error.kind === "conflict")) throw error;
    const now = await client.getPod(pod.id);
    if (!now || (now.status !== "STARTING" && now.status !== "RUNNING")) throw error;
    log(`the start request got no clear answer (${error.status ?? error.kind}), but the pod is ${now.status}: waiting`);
    starting = now;
  }
  return waitUntilReady(client, starting, inputs, log, interrupts);
}
