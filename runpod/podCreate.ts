// Placing a pod: one POST per candidate, and never a second billed pod. A create whose answer is
// ambiguous (5xx, no answer, or a 2xx whose body yields no usable pod) is resolved by looking for the
// pod by its unique name; it is adopted when found, and anything else carrying that name that this
// create made is terminated before we return or throw.
import type { RunPodClient } from "./client";
import { isKind, isRunPodError, runPodError, type RunPodError } from "./errors";
import type { InterruptWatch } from "./interrupts";
import { createPodBody, describeCandidate, placementCandidates, type Candidate } from "./podLogic";
import type { ApiPod, PodInputs } from "./schemas";
import { scaledMs, sleep } from "./timing";

const CAPACITY_DETAIL = /no longer any instances available/i;
/** Lookups after a 5xx: the server answered, so a pod it made is listed within seconds. */
const ANSWERED_LOOKUPS_MS = [1000, 2000, 4000];
/** Lookups after no answer, or an accepted but unreadable one: the server may still be working. */
const UNANSWERED_LOOKUPS_MS = [1000, 2000, 4000, 8000, 16000];
/** The spec's createPod guidance retries a 5xx on the same candidate up to 5 attempts. */
const MAX_POSTS_PER_CANDIDATE = 5;

export interface Placement {
  pod: ApiPod;
  /** Some create answer was ambiguous: strays may exist and are swept once the outcome is known. */
  ambiguous: boolean;
  /** Pods that carried our name before the first POST (e.g. the pod a create-before-delete replaces). */
  preexisting: ReadonlySet<string>;
}

type Log = (message: string) => void;

interface Context {
  client: RunPodClient;
  inputs: PodInputs;
  log: Log;
  preexisting: ReadonlySet<string>;
}

/** Ours: our name, made by this create (not there before it), alive, and for this candidate's GPU. */
function isOurs(ctx: Context, pod: ApiPod, candidate: Candidate): boolean {
  return (
    pod.name === ctx.inputs.name &&
    pod.id !== "" &&
    !ctx.preexisting.has(pod.id) &&
    pod.status !== "TERMINATED" &&
    (pod.gpu?.id ?? candidate.gpuTypeId) === candidate.gpuTypeId
  );
}

type Lookup = { found: ApiPod } | { found: undefined; listed: boolean };

/** Looks for the pod an ambiguous create may have made, over a few growing pauses. */
async function lookForPod(ctx: Context, candidate: Candidate, error: RunPodError, scheduleMs: number[]): Promise<Lookup> {
  let listed = false;
  for (const waitMs of scheduleMs) {
    await sleep(scaledMs(waitMs));
    try {
      if (error.createdId) {
        const byId = await ctx.client.getPod(error.createdId);
        if (byId && isOurs(ctx, byId, candidate)) return { found: byId };
      }
      const pods = (await ctx.client.listPods()).filter((p) => isOurs(ctx, p, candidate));
      listed = true;
      const newest = pods.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
      if (newest) return { found: newest };
    } catch (lookupError) {
      ctx.log(`looking for the pod failed (${isRunPodError(lookupError) ? lookupError.kind : "error"}); looking again`);
    }
  }
  return { found: undefined, listed };
}

function unusableAnswer(): RunPodError {
  return runPodError({
    kind: "unexpected",
    message: "RunPod POST /pods answered with a pod without an id; the create was accepted, so a pod may exist.",
    method: "POST",
    path: "/pods",
    ambiguous: true,
  });
}

/**
 * An accepted create whose pod cannot be found or read. The id its answer named is ours, so that pod
 * is terminated rather than left billing; without an id the user is told where to look.
 */
async function unreadableCreate(ctx: Context, error: RunPodError): Promise<RunPodError> {
  const id = error.createdId;
  let terminated = false;
  if (id) {
    try {
      await ctx.client.deletePod(id);
      terminated = true;
      ctx.log(`terminated pod ${id}, whose create answer could not be read`);
    } catch {
      // reported below
    }
  }
  const what = terminated
    ? `Pod ${id} it made was terminated, so nothing is left billed; retry \`pulumi up\`, and upgrade this provider if this persists.`
    : `Look for pod "${ctx.inputs.name}"${id ? ` (${id})` : ""} at https://www.runpod.io/console/pods and terminate it if it is there, then run \`pulumi up\` again.`;
  return runPodError({
    kind: "unexpected",
    message: `RunPod accepted the create of pod "${ctx.inputs.name}" but its answer could not be read, and the pod could not be found and read since. ${what}\n(${error.message})`,
    method: "POST",
    path: "/pods",
  });
}

/**
 * One candidate. A POST is never retried blind: after an ambiguous answer we look for our pod and
 * adopt it; the POST is sent again only after a complete listing showed none, and never after an
 * accepted (2xx) answer.
 */
async function createForCandidate(ctx: Context, candidate: Candidate, onAmbiguous: () => void): Promise<ApiPod> {
  const body = createPodBody(ctx.inputs, candidate);
  for (let attempt = 1; ; attempt += 1) {
    let error: RunPodError;
    try {
      const pod = await ctx.client.createPod(body);
      if (pod.id !== "") return pod;
      error = unusableAnswer();
    } catch (caught) {
      if (!isRunPodError(caught) || !caught.ambiguous) throw caught;
      error = caught;
    }
    onAmbiguous();
    const accepted = error.kind === "unexpected";
    const answered = error.kind === "server";
    ctx.log(`create got no usable answer (${error.status ?? error.kind}); looking for the pod before doing anything else`);
    const lookup = await lookForPod(ctx, candidate, error, answered ? ANSWERED_LOOKUPS_MS : UNANSWERED_LOOKUPS_MS);
    if (lookup.found) {
      ctx.log(`found pod ${lookup.found.id} made by that request; adopting it instead of creating another`);
      return lookup.found;
    }
    if (accepted) throw await unreadableCreate(ctx, error);
    if (!lookup.listed) {
      throw runPodError({
        kind: error.kind,
        message:
          `${error.message}\nThe pods could not be listed afterwards either, so whether pod "${ctx.inputs.name}" was created is unknown; ` +
          "look for it at https://www.runpod.io/console/pods and terminate it if it is there, then run `pulumi up` again.",
        method: "POST",
        path: "/pods",
      });
    }
    if (attempt >= MAX_POSTS_PER_CANDIDATE) throw error;
    ctx.log(`no pod was created; sending the create again (attempt ${attempt + 1} of ${MAX_POSTS_PER_CANDIDATE})`);
  }
}

/** Terminates every pod with our name that this create made, except `keepId`. Best effort: logs what it cannot. */
export async function sweepStrays(
  client: RunPodClient,
  inputs: PodInputs,
  preexisting: ReadonlySet<string>,
  keepId: string | undefined,
  log: Log,
): Promise<string[]> {
  let pods: ApiPod[] | undefined;
  for (let attempt = 1; attempt <= 3 && !pods; attempt += 1) {
    try {
      pods = await client.listPods();
    } catch {
      await sleep(scaledMs(1000 * attempt));
    }
  }
  if (!pods) {
    log(`could not list pods to check for strays named ${inputs.name}; check https://www.runpod.io/console/pods`);
    return [];
  }
  const strays = pods.filter((p) => p.name === inputs.name && p.id !== keepId && !preexisting.has(p.id) && p.status !== "TERMINATED");
  const left: string[] = [];
  for (const stray of strays) {
    try {
      await client.deletePod(stray.id);
      log(`terminated stray pod ${stray.id} left by an ambiguous create`);
    } catch {
      left.push(stray.id);
      log(`could not terminate stray pod ${stray.id}; terminate it at https://www.runpod.io/console/pods`);
    }
  }
  return left;
}

/** Walks the candidates until one is placed; every refusal is collected for the final error. */
export async function placePod(
  client: RunPodClient,
  inputs: PodInputs,
  log: Log,
  interrupts: InterruptWatch,
  deadline: number,
): Promise<Placement> {
  // A replacement made before the old pod is deleted carries the same name: never adopt or sweep it.
  const preexisting = new Set((await client.listPods()).filter((p) => p.name === inputs.name).map((p) => p.id));
  const ctx: Context = { client, inputs, log, preexisting };
  let ambiguous = false;
  const skipped: string[] = [];
  let lastBadRequest: string | undefined;
  let outOfTime = false;
  try {
    for (const candidate of placementCandidates(inputs)) {
      if (interrupts.signal) {
        throw runPodError({
          kind: "notReady",
          message: `Interrupted (${interrupts.signal}) before a pod was placed; nothing was created. Run \`pulumi up\` again to deploy.`,
        });
      }
      if (Date.now() >= deadline) {
        skipped.push(`${describeCandidate(candidate)}: not tried, time ran out`);
        outOfTime = true;
        continue;
      }
      try {
        const pod = await createForCandidate(ctx, candidate, () => (ambiguous = true));
        log(`created pod ${pod.id}: ${describeCandidate(candidate)}${pod.dataCenterId ? ` → ${pod.dataCenterId}` : ""}`);
        return { pod, ambiguous, preexisting };
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
    if (outOfTime) {
      throw runPodError({
        kind: "notReady",
        message:
          `No pod was placed within pod.readyTimeoutMinutes (${inputs.readyTimeoutSeconds}s); nothing was created:\n  - ${skipped.join("\n  - ")}\n` +
          "Run `pulumi up` again, or raise pod.readyTimeoutMinutes if RunPod keeps answering slowly.",
      });
    }
    throw runPodError({
      kind: "badRequest",
      message:
        `No pod could be placed; every candidate was refused:\n  - ${skipped.join("\n  - ")}\n` +
        (lastBadRequest
          ? `RunPod's last answer points at the request itself: ${lastBadRequest}. Fix that in the pod.* config, then run \`pulumi up\` again.`
          : "Add GPU types to pod.gpuTypes, allow more data centres (pod.dataCenters: [] means any), or try pod.cloud COMMUNITY; then run `pulumi up` again."),
    });
  } catch (error) {
    if (ambiguous) await sweepStrays(client, inputs, preexisting, undefined, log);
    throw error;
  }
}
