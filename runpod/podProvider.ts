// The `runpod:Pod` dynamic provider over RunPod REST v2.
// Pulumi serializes this object into state and runs it in its own process: everything it needs is
// built inside the methods (clients, schemas), and the API key arrives only through `configure`/env.
import type * as pulumi from "@pulumi/pulumi";
import { sleep, type RunPodClient } from "./client";
import { isKind, isRunPodError, runPodError } from "./errors";
import {
  checkPodInputs,
  createPodBody,
  describeCandidate,
  diffPod,
  patchPodBody,
  placementCandidates,
  podOutputs,
  refreshedOutputs,
  type Candidate,
} from "./podLogic";
import { watchInterrupts, type InterruptWatch } from "./interrupts";
import { abandonPod, partialFailure, waitUntilReady } from "./podWait";
import { enforceCostCap } from "./costCap";
import { clientFor, configureProvider, progressLogger } from "./providerSettings";
import { podInputsSchema, type ApiPod, type PodInputs, type PodOutputs } from "./schemas";

const CAPACITY_DETAIL = /no longer any instances available/i;

function parseInputs(raw: unknown): PodInputs {
  const { __provider: _ignored, ...rest } = raw as Record<string, unknown>;
  return podInputsSchema().parse(rest);
}

/** Finds a pod that an ambiguous (5xx/timeout) create may have made, by its unique name and GPU type. */
async function findCreatedPod(client: RunPodClient, inputs: PodInputs, candidate: Candidate): Promise<ApiPod | undefined> {
  const pods = await client.listPods();
  return pods
    .filter((p) => p.name === inputs.name && (p.gpu?.id ?? candidate.gpuTypeId) === candidate.gpuTypeId && p.status !== "TERMINATED")
    .sort((a, b) => String(b.createdAt ?? "").localeCompare(String(a.createdAt ?? "")))[0];
}

/**
 * One create request for one candidate. A POST is never retried blind: after an ambiguous failure we
 * list pods and adopt ours if it exists; only when it provably does not is the POST sent again.
 */
async function createForCandidate(
  client: RunPodClient,
  inputs: PodInputs,
  candidate: Candidate,
  log: (message: string) => void,
): Promise<ApiPod> {
  const body = createPodBody(inputs, candidate);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await client.createPod(body);
    } catch (error) {
      if (!isRunPodError(error) || !error.ambiguous) throw error;
      log(`create got no clear answer (${error.status ?? error.kind}); checking whether the pod exists before retrying`);
      for (const waitMs of [1000, 2000, 4000]) {
        await sleep(waitMs);
        const adopted = await findCreatedPod(client, inputs, candidate);
        if (adopted) {
          log(`found pod ${adopted.id} made by that request; adopting it instead of creating another`);
          return adopted;
        }
      }
      if (attempt >= 3) throw error;
      log(`no pod was created; retrying the create (attempt ${attempt + 1} of 3)`);
    }
  }
}

async function createPod(
  client: RunPodClient,
  inputs: PodInputs,
  log: (message: string) => void,
  interrupts: InterruptWatch,
): Promise<ApiPod> {
  const skipped: string[] = [];
  let lastBadRequest: string | undefined;
  for (const candidate of placementCandidates(inputs)) {
    if (interrupts.signal) {
      throw runPodError({ kind: "notReady", message: `Interrupted (${interrupts.signal}) before a pod was placed; nothing was created.` });
    }
    try {
      const pod = await createForCandidate(client, inputs, candidate, log);
      log(`created pod ${pod.id}: ${describeCandidate(candidate)}${pod.dataCenterId ? ` → ${pod.dataCenterId}` : ""}`);
      return pod;
    } catch (error) {
      if (isKind(error, "badRequest")) {
        const capacity = CAPACITY_DETAIL.test(error.detail ?? "");
        skipped.push(`${describeCandidate(candidate)}: ${capacity ? "no capacity" : error.detail ?? "400"}`);
        if (!capacity) lastBadRequest = error.detail;
        log(`${describeCandidate(candidate)} unavailable; trying the next candidate`);
        continue;
      }
      if (isKind(error, "forbidden")) {
        skipped.push(`${describeCandidate(candidate)}: access denied to this pool`);
        continue;
      }
      throw error;
    }
  }
  throw runPodError({
    kind: "badRequest",
    message:
      `No pod could be placed; every candidate was refused:\n  - ${skipped.join("\n  - ")}\n` +
      (lastBadRequest
        ? `RunPod's last answer points at the request itself: ${lastBadRequest}`
        : "Add GPU types to pod.gpuTypes, allow more data centres (pod.dataCenters: [] means any), or try pod.cloud COMMUNITY."),
  });
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
    if (diff.resets) {
      progressLogger(parsed.data.name)(`updating ${diff.updates.join(", ")} in place restarts the container (container disk is wiped; /workspace is kept)`);
    }
    return { changes: diff.changes, replaces: diff.replaces, deleteBeforeReplace: diff.deleteBeforeReplace };
  },

  async create(raw) {
    const inputs = parseInputs(raw);
    const client = clientFor(this);
    const log = progressLogger(inputs.name);
    const interrupts = watchInterrupts(log);
    try {
      const pod = await createPod(client, inputs, log, interrupts);
      await enforceCostCap(client, pod, inputs, log);
      let result;
      try {
        result = await waitUntilReady(client, pod, inputs, log, interrupts);
      } catch (error) {
        // The wait itself broke (e.g. the key was revoked): never leave the pod we made untracked.
        return await abandonPod(client, pod, inputs, `waiting failed: ${(error as Error).message}`, log);
      }
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
    let pod = current;
    if (Object.keys(body).length) {
      log(`updating ${Object.keys(body).join(", ")}${diff.resets ? " (the container restarts)" : ""}`);
      pod = await client.updatePod(id, body);
    }
    if (diff.resets) {
      // The pod is already in state: on failure or interrupt it stays there, never deleted by an update.
      const interrupts = watchInterrupts(log);
      try {
        const result = await waitUntilReady(client, pod, news, log, interrupts);
        if (!result.ready) {
          throw partialFailure(id, podOutputs(news, result.pod, olds.gpuTypeId), `Pod ${id} did not come back after the update: ${result.reason}.`);
        }
        pod = result.pod;
      } finally {
        interrupts.dispose();
      }
    }
    return { outs: podOutputs(news, pod, olds.gpuTypeId) };
  },

  async delete(id) {
    const client = clientFor(this);
    const outcome = await client.deletePod(id);
    progressLogger(id)(outcome === "gone" ? "already gone" : "terminated");
  },
};
