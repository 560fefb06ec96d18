// Pure pod logic: validation, placement candidates, request bodies, readiness and outputs (diffs and
// PATCH bodies live in podDiff.ts and are re-exported here). No I/O, so every rule is testable without a server.
import type { z } from "zod";
import {
  podInputsSchema,
  UNKNOWN_VALUE,
  type ApiPod,
  type PodInputs,
  type PodOutputs,
  type PortMapping,
} from "./schemas";
import { mountsFor } from "./podDiff";

export { diffPod, patchApplied, patchPodBody, RESETTING_FIELDS, type PodDiff } from "./podDiff";

export interface CheckFailure {
  property: string;
  reason: string;
}

function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN_VALUE) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

/**
 * Validates and normalises inputs against `schema`, reporting every problem at once. Values still
 * unknown during preview are passed through untouched and not validated; a required input that is
 * merely unknown gets its `standIns` value so it does not read as missing.
 */
export function checkInputs(
  schema: z.ZodType,
  news: Record<string, unknown>,
  standIns: Record<string, unknown> = {},
): { inputs: Record<string, unknown>; failures: CheckFailure[] } {
  const known: Record<string, unknown> = {};
  const unknown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(news)) {
    if (key === "__provider") continue;
    if (containsUnknown(value)) unknown[key] = value;
    else known[key] = value;
  }
  const unknownKeys = new Set(Object.keys(unknown));
  const probe = { ...known };
  for (const [key, standIn] of Object.entries(standIns)) if (unknownKeys.has(key)) probe[key] = standIn;
  const result = schema.safeParse(probe);
  if (!result.success) {
    const failures = result.error.issues
      .filter((issue) => !unknownKeys.has(String(issue.path[0])))
      .map((issue) => ({
        property: issue.path.length ? issue.path.map(String).join(".") : "(inputs)",
        reason: issue.message,
      }));
    if (failures.length) return { inputs: news, failures };
  }
  const normalised: Record<string, unknown> = result.success ? { ...(result.data as Record<string, unknown>) } : { ...known };
  return { inputs: stripUndefined({ ...normalised, ...unknown }), failures: [] };
}

/** Pod inputs: `checkInputs` with the pod schema. */
export function checkPodInputs(news: Record<string, unknown>): {
  inputs: Record<string, unknown>;
  failures: CheckFailure[];
} {
  return checkInputs(podInputsSchema(), news, { name: "unknown", image: "unknown", gpuTypeIds: ["unknown"] });
}

export interface Candidate {
  gpuTypeId: string;
  /** null lets RunPod's scheduler choose the data centre. */
  dataCenterId: string | null;
}

/** v2 places one GPU type per request, so we walk GPU types × data centres in the user's order. */
export function placementCandidates(inputs: PodInputs): Candidate[] {
  const dataCenters: Array<string | null> = inputs.dataCenterIds.length ? inputs.dataCenterIds : [null];
  return inputs.gpuTypeIds.flatMap((gpuTypeId) => dataCenters.map((dataCenterId) => ({ gpuTypeId, dataCenterId })));
}

export function describeCandidate(c: Candidate): string {
  return `${c.gpuTypeId} in ${c.dataCenterId ?? "any data centre"}`;
}

/** A CreatePodRequest with only fields of the published v2 spec. */
export function createPodBody(inputs: PodInputs, candidate: Candidate): Record<string, unknown> {
  const mounts = mountsFor(inputs);
  return {
    name: inputs.name,
    image: inputs.image,
    gpu: {
      id: candidate.gpuTypeId,
      count: inputs.gpuCount,
      ...(inputs.minCudaVersion !== undefined ? { minCudaVersion: inputs.minCudaVersion } : {}),
    },
    cloud: inputs.cloud,
    ...(candidate.dataCenterId ? { dataCenterIds: [candidate.dataCenterId] } : {}),
    disk: inputs.containerDiskGb,
    ports: inputs.ports,
    env: inputs.env,
    ...(inputs.registryId ? { registry: inputs.registryId } : {}),
    ...(mounts ? { mounts } : {}),
    // Without it a v2 pod has no SSH access; with it RunPod puts the account's keys into PUBLIC_KEY (unless env has one).
    ...(exposesSsh(inputs.ports) ? { startSsh: true } : {}),
  };
}

export const SSH_PORT = "22/tcp";

export function exposesSsh(ports: string[]): boolean {
  return ports.includes(SSH_PORT);
}

/**
 * `ssh` can only connect when 22/tcp is mapped and the image's sshd has a key: PUBLIC_KEY from our env
 * (pod.publicKey) or injected by RunPod from the account's keys and reported in the pod's env.
 */
function sshCommandOf(inputs: PodInputs, pod: ApiPod): string | null {
  if (pod.status !== "RUNNING" || !exposesSsh(inputs.ports)) return null;
  const key = inputs.env.PUBLIC_KEY ?? pod.env?.PUBLIC_KEY ?? "";
  if (!key.trim()) return null;
  return pod.ssh?.direct?.command ?? null;
}

export type Readiness =
  | { state: "ready" }
  | { state: "waiting"; reason: string }
  | { state: "failed"; reason: string };

/**
 * Ready means RUNNING, a reported container (live pods read RUNNING with `runtime: null` first), and
 * every declared port mapped (tcp ports with a public ip and port).
 */
export function podReadiness(pod: ApiPod, ports: string[]): Readiness {
  if (pod.status === "ERROR") return { state: "failed", reason: "the pod went to ERROR while starting (bad image, crash loop or host fault)" };
  if (pod.status === "EXITED") return { state: "failed", reason: "the container exited while starting (check the image's start command and logs)" };
  if (pod.status === "TERMINATED") return { state: "failed", reason: "the pod was terminated while starting" };
  if (pod.status !== "RUNNING") return { state: "waiting", reason: pod.status };
  if (!pod.runtime) return { state: "waiting", reason: "RUNNING, container not reported yet" };
  const mapped = pod.runtime.ports ?? [];
  for (const port of ports) {
    const [num, type] = port.split("/");
    // Every member of a runtime port is optional in the spec; an entry without `type` still counts.
    const entry = mapped.find((m) => String(m.private) === num && (m.type === undefined || m.type === type));
    if (!entry) return { state: "waiting", reason: `RUNNING, port ${port} not mapped yet` };
    if (type === "tcp" && (entry.ip == null || entry.public == null)) {
      return { state: "waiting", reason: `RUNNING, port ${port} has no public address yet` };
    }
  }
  return { state: "ready" };
}

/** http mappings carry an unreachable CGNAT address (100.64.0.0/10); only tcp ones are public. */
function publicIpOf(pod: ApiPod): string | null {
  const tcp = (pod.runtime?.ports ?? []).find((m) => m.type === "tcp" && m.ip && m.public != null);
  return tcp?.ip ?? pod.ssh.direct?.host ?? null;
}

/** The runtime ports that say which container port they map; the others describe nothing usable. */
function portMappingsOf(pod: ApiPod): PortMapping[] {
  const mappings: PortMapping[] = [];
  for (const m of pod.runtime?.ports ?? []) {
    if (m.private === undefined) continue;
    mappings.push({ private: m.private, public: m.public ?? null, type: m.type ?? "unknown", ip: m.ip ?? null });
  }
  return mappings;
}

export function proxyUrl(podId: string, port: string | number): string {
  return `https://${podId}-${port}.proxy.runpod.net`;
}

/** Only the env keys the user declared: RunPod injects its own (PUBLIC_KEY, JUPYTER_PASSWORD). */
export function declaredEnv(podEnv: Record<string, string> | null | undefined, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = podEnv?.[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export function podOutputs(inputs: PodInputs, pod: ApiPod, fallbackGpu?: string): PodOutputs {
  const running = pod.status === "RUNNING";
  const portMappings: PortMapping[] = running ? portMappingsOf(pod) : [];
  const httpUrls: Record<string, string> = {};
  for (const port of inputs.ports) {
    const [num, type] = port.split("/");
    if (type === "http") httpUrls[num] = proxyUrl(pod.id, num);
  }
  const sshCommand = sshCommandOf(inputs, pod);
  return stripUndefined({
    // Present from the create on: an output missing from state reads as unknown in a preview, and
    // GpuPod's restartKey (a trigger of the checks) is computed from it.
    startCount: 0,
    ...inputs,
    podId: pod.id,
    status: pod.status,
    gpuTypeId: pod.gpu?.id ?? fallbackGpu ?? inputs.gpuTypeIds[0],
    dataCenterId: pod.dataCenterId ?? null,
    costPerHour: pod.cost,
    publicIp: running ? publicIpOf(pod) : null,
    portMappings,
    httpUrls,
    sshCommand,
  });
}

/** Outputs after a refresh: what RunPod now reports for the fields we manage. */
export function refreshedOutputs(olds: PodOutputs, pod: ApiPod): PodOutputs {
  const inputs: PodInputs = { ...olds };
  inputs.name = pod.name;
  if (pod.image) inputs.image = pod.image;
  inputs.containerDiskGb = pod.disk;
  inputs.ports = pod.ports;
  inputs.env = declaredEnv(pod.env, Object.keys(olds.env ?? {}));
  if (pod.registry) inputs.registryId = pod.registry;
  else delete inputs.registryId;
  const persistent = pod.mounts.persistent;
  const network = pod.mounts.network?.[0];
  if (persistent) {
    inputs.volumeGb = persistent.size;
    inputs.volumeMountPath = persistent.path;
  } else if (network) {
    inputs.networkVolumeId = network.volumeId;
    inputs.volumeMountPath = network.path;
  }
  return podOutputs(inputs, pod, olds.gpuTypeId);
}

/** Drops undefined values: Pulumi's struct encoding rejects them. */
export function stripUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
