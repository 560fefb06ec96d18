// The `runpod:Pod` dynamic provider over RunPod REST v2.
// Pulumi serializes this object into state and runs it in its own process: everything it needs is
// built inside the methods (clients, schemas), and the API key arrives only through `configure`/env.
import type * as pulumi from "@pulumi/pulumi";
import type { RunPodClient } from "./client";
import { runPodError } from "./errors";
import { patchIdempotently } from "./patchRetry";
import { checkPodInputs, diffPod, patchApplied, patchPodBody, podOutputs, refreshedOutputs } from "./podLogic";
import { watchInterrupts } from "./interrupts";
import { placePod, sweepStrays } from "./podCreate";
import { abandonPod, partialFailure, waitUntilReady } from "./podWait";
import { enforceCostCap } from "./costCap";
import { isStopped, startCountOf, startStoppedPod } from "./podStart";
import { clientFor, configureProvider, progressLogger } from "./providerSettings";
import { podInputsSchema, type ApiPod, type PodInputs, type PodOutputs } from "./schemas";

function parseInputs(raw: unknown): PodInputs {
  const { __provider: _ignored, ...rest } = raw as Record<string, unknown>;
  return podInputsSchema().parse(rest);
}

/** PATCHes the pod; an ambiguous answer is settled by reading the pod (runpod/patchRetry.ts). */
function patchPod(client: RunPodClient, id: string, body: Record<string, unknown>, log: (m: string) => void): Promise<ApiPod> {
  return patchIdempotently(() => client.updatePod(id, body), () => client.getPod(id), (pod) => patchApplied(pod, body), log, "pod");
}

export const podProvider: pulumi.dynamic.ResourceProvider<Record<string, unknown>, PodOutputs> = {
  // eslint-disable-next-line @typescript-eslint/require-await
  async configure(req) {
    configureProvider(this, req);
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async check(_olds, news) {
    return checkPodInputs(news);
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async diff(_id, olds, news) {
    const parsed = podInputsSchema().safeParse(Object.fromEntries(Object.entries(news).filter(([k]) => k !== "__provider")));
    // Unknown values (preview): an honest "maybe", let the engine compare inputs.
    if (!parsed.success) return {};
    const diff = diffPod(olds, parsed.data);
    if (isStopped(olds) && diff.updates.includes("status")) {
      progressLogger(parsed.data.name)(`pod ${olds.podId} is stopped (EXITED): this update starts it again and re-runs the checks`);
    } else if (diff.resets) {
      progressLogger(parsed.data.name)(`updating ${diff.updates.join(", ")} in place restarts the container (container disk is wiped; /workspace is kept)`);
    }
    return { changes: diff.changes, replaces: diff.replaces, deleteBeforeReplace: diff.deleteBeforeReplace };
  },

  async create(raw) {
    const inputs = parseInputs(raw);
    const client = clientFor(this);
    const log = progressLogger(inputs.name);
    const interrupts = watchInterrupts(log);
    // pod.readyTimeoutMinutes bounds the whole create, placement included.
    const deadline = Date.now() + inputs.readyTimeoutSeconds * 1000;
    try {
      const { pod, ambiguous, preexisting } = await placePod(client, inputs, log, interrupts, deadline);
      const sweep = async (): Promise<void> => {
        if (ambiguous) await sweepStrays(client, inputs, preexisting, pod.id, log);
      };
      try {
        await enforceCostCap(client, pod, inputs, log);
      } finally {
        await sweep();
      }
      let result;
      try {
        result = await waitUntilReady(client, pod, inputs, log, interrupts, deadline);
      } catch (error) {
        // The wait itself broke (e.g. the key was revoked): never leave the pod we made untracked.
        await sweep();
        const why = error instanceof Error ? error.message : String(error);
        return await abandonPod(client, pod, inputs, `waiting failed: ${why}`, log);
      }
      await sweep();
      if (!result.ready) return await abandonPod(client, result.pod, inputs, result.reason, log);
      await enforceCostCap(client, result.pod, inputs, log);
      return { id: pod.id, outs: podOutputs(inputs, result.pod, pod.gpu?.id) };
    } finally {
      interrupts.dispose();
    }
  },

  async read(id, props) {
    const client = clientFor(this);
    const pod = await client.getPod(id);
    if (!pod || pod.status === "TERMINATED") return { id: "" };
    const { __provider: _ignored, ...olds } = (props ?? {}) as PodOutputs & { __provider?: string };
    return { id, props: refreshedOutputs(olds, pod) };
  },

  async update(id, olds, raw) {
    const news = parseInputs(raw);
    const client = clientFor(this);
    const log = progressLogger(news.name);
    const current = await client.getPod(id);
    if (!current || current.status === "TERMINATED") {
      throw runPodError({
        kind: "notFound",
        message: `Pod ${id} no longer exists (deleted outside Pulumi?). Run \`pulumi refresh\`, then \`pulumi up\` to create a new one.`,
      });
    }
    const diff = diffPod(olds, news);
    const body = patchPodBody(olds, news, current.env ?? {});
    const stopped = current.status === "EXITED";
    let starts = startCountOf(olds);
    const outputs = (p: typeof current) => ({ ...podOutputs(news, p, olds.gpuTypeId), startCount: starts });
    let pod = current;
    if (Object.keys(body).length) {
      log(`updating ${Object.keys(body).join(", ")}${diff.resets && !stopped ? " (the container restarts)" : ""}`);
      pod = await patchPod(client, id, body, log);
    }
    if (diff.resets || stopped) {
      // The pod is already in state: on failure or interrupt it stays there, never deleted by an update.
      const interrupts = watchInterrupts(log);
      try {
        let result;
        if (stopped) {
          result = await startStoppedPod(client, pod, news, log, interrupts);
          starts += 1;
        } else {
          result = await waitUntilReady(client, pod, news, log, interrupts);
        }
        if (!result.ready) {
          throw partialFailure(id, outputs(result.pod), `Pod ${id} did not come back after the ${stopped ? "start" : "update"}: ${result.reason}. It stays in the stack state: inspect it, fix the cause and run \`pulumi up\` again, or \`pulumi destroy\` it.`);
        }
        pod = result.pod;
      } finally {
        interrupts.dispose();
      }
    }
    return { outs: outputs(pod) };
  },

  async delete(id) {
    const client = clientFor(this);
    const outcome = await client.deletePod(id);
    progressLogger(id)(outcome === "gone" ? "already gone" : "terminated");
  },
};
