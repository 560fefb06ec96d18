// Pure pod logic: validation, placement candidates, request bodies, readiness, outputs and diffs.
// No I/O here, so every rule is testable without a server.
import {
  podInputsSchema,
  UNKNOWN_VALUE,
  type ApiPod,
  type PodInputs,
  type PodOutputs,
  type PortMapping,
} from "./schemas";

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
 * Validates and normalises pod inputs, reporting every problem at once. Values still unknown during
 * preview are passed through untouched and not validated.
 */
export function checkPodInputs(news: Record<string, unknown>): {
  inputs: Record<string, unknown>;
  failures: CheckFailure[];
} {
  const known: Record<string, unknown> = {};
  const unknown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(news)) {
    if (key === "__provider") continue;
    if (containsUnknown(value)) unknown[key] = value;
    else known[key] = value;
  }
  const unknownKeys = new Set(Object.keys(unknown));
  // Required fields that are merely unknown get a stand-in so they do not read as missing.
  const probe = { ...known };
  if (unknownKeys.has("name")) probe.name = "unknown";
  if (unknownKeys.has("image")) probe.image = "unknown";
  if (unknownKeys.has("gpuTypeIds")) probe.gpuTypeIds = ["unknown"];
  const result = podInputsSchema().safeParse(probe);
  if (!result.success) {
    const failures = result.error.issues
      .filter((issue) => !unknownKeys.has(String(issue.path[0])))
      .map((issue) => ({
        property: issue.path.length ? issue.path.map(String).join(".") : "(inputs)",
        reason: issue.message,
      }));
    if (failures.length) return { inputs: news, failures };
  }
  const normalised: Record<string, unknown> = result.success ? { ...result.data } : { ...known };
  return { inputs: stripUndefined({ ...normalised, ...unknown }), failures: [] };
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

function mountsFor(inputs: PodInputs): Record<string, unknown> | undefined {
  if (inputs.networkVolumeId !== undefined) {
    return { network: [{ volumeId: inputs.networkVolumeId, path: inputs.volumeMountPath }] };
  }
  if (inputs.volumeGb !== undefined) {
    return { persistent: { size: inputs.volumeGb, path: inputs.volumeMountPath } };
  }
  return undefined;
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
  };
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
    const entry = mapped.find((m) => String(m.private) === num && m.type === type);
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
  return tcp?.ip ?? pod.ssh?.direct?.host ?? null;
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
  const portMappings: PortMapping[] = running
    ? (pod.runtime?.ports ?? []).map((m) => ({ private: m.private, public: m.public ?? null, type: m.type, ip: m.ip ?? null }))
    : [];
  const httpUrls: Record<string, string> = {};
  for (const port of inputs.ports) {
    const [num, type] = port.split("/");
    if (type === "http") httpUrls[num] = proxyUrl(pod.id, num);
  }
  const direct = running ? pod.ssh?.direct : null;
  const sshCommand = direct?.command ?? pod.ssh?.proxy?.command ?? null;
  return stripUndefined({
    ...inputs,
    podId: pod.id,
    status: pod.status,
    gpuTypeId: pod.gpu?.id ?? fallbackGpu ?? inputs.gpuTypeIds[0],
    dataCenterId: pod.dataCenterId ?? null,
    costPerHour: pod.cost ?? 0,
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
  if (pod.disk != null) inputs.containerDiskGb = pod.disk;
  if (pod.ports) inputs.ports = pod.ports;
  inputs.env = declaredEnv(pod.env, Object.keys(olds.env ?? {}));
  if (pod.registry) inputs.registryId = pod.registry;
  else delete inputs.registryId;
  const persistent = pod.mounts?.persistent;
  const network = pod.mounts?.network?.[0];
  if (persistent) {
    inputs.volumeGb = persistent.size;
    inputs.volumeMountPath = persistent.path;
  } else if (network) {
    inputs.networkVolumeId = network.volumeId;
    inputs.volumeMountPath = network.path;
  }
  return podOutputs(inputs, pod, olds.gpuTypeId);
}

type MountKind = "network" | "persistent" | "none";

function mountKind(v: { volumeGb?: number; networkVolumeId?: string }): MountKind {
  if (v.networkVolumeId !== undefined) return "network";
  if (v.volumeGb !== undefined) return "persistent";
  return "none";
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sameEnv(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return sameJson(ka, kb) && ka.every((k) => a?.[k] === b?.[k]);
}

/** Fields a PATCH changes by recreating the container (disk wiped, new port mappings). */
export const RESETTING_FIELDS = ["image", "containerDiskGb", "ports", "env", "registryId", "volumeGb", "networkVolumeId", "volumeMountPath"] as const;
/** Fields that are ours only: changing them touches no API. */
// minCudaVersion only filters where a new pod may go: a running pod already sits on a host that runs it.
const LOCAL_FIELDS = [
  "readyTimeoutSeconds",
  "deleteOnFailure",
  "createBeforeDelete",
  "gpuTypeIds",
  "dataCenterIds",
  "minCudaVersion",
  "maxCostPerHour",
] as const;

export interface PodDiff {
  changes: boolean;
  replaces: string[];
  deleteBeforeReplace: boolean;
  /** Changed fields applied in place. */
  updates: string[];
  /** True when the in-place update restarts the container. */
  resets: boolean;
}

export function diffPod(olds: PodOutputs, news: PodInputs): PodDiff {
  const replaces: string[] = [];
  // Reordering or extending the fallback lists keeps a pod whose placement is still allowed.
  if (olds.gpuTypeId && !news.gpuTypeIds.includes(olds.gpuTypeId)) replaces.push("gpuTypeIds");
  if (olds.gpuCount !== news.gpuCount) replaces.push("gpuCount");
  if (olds.cloud !== news.cloud) replaces.push("cloud");
  if (news.dataCenterIds.length && olds.dataCenterId && !news.dataCenterIds.includes(olds.dataCenterId)) {
    replaces.push("dataCenterIds");
  }
  const oldKind = mountKind(olds);
  const newKind = mountKind(news);
  if (oldKind !== newKind) replaces.push(newKind === "network" || oldKind === "network" ? "networkVolumeId" : "volumeGb");
  else if (newKind === "network" && olds.networkVolumeId !== news.networkVolumeId) replaces.push("networkVolumeId");
  else if (newKind === "persistent" && (news.volumeGb ?? 0) < (olds.volumeGb ?? 0)) replaces.push("volumeGb");

  const updates: string[] = [];
  if (olds.name !== news.name) updates.push("name");
  for (const field of RESETTING_FIELDS) {
    const same = field === "env" ? sameEnv(olds.env, news.env) : sameJson(olds[field], news[field]);
    if (!same && !replaces.includes(field)) updates.push(field);
  }
  for (const field of LOCAL_FIELDS) {
    if (!sameJson(olds[field], news[field]) && !replaces.includes(field)) updates.push(field);
  }
  return {
    changes: replaces.length > 0 || updates.length > 0,
    replaces,
    deleteBeforeReplace: !news.createBeforeDelete,
    updates,
    resets: replaces.length === 0 && updates.some((f) => (RESETTING_FIELDS as readonly string[]).includes(f)),
  };
}

/**
 * The PATCH body for an in-place update. `env` is sent whole (PATCH replaces the map): keys the user
 * dropped are removed, keys RunPod injected are kept.
 */
export function patchPodBody(olds: PodOutputs, news: PodInputs, currentEnv: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (olds.name !== news.name) body.name = news.name;
  if (olds.image !== news.image) body.image = news.image;
  if (olds.containerDiskGb !== news.containerDiskGb) body.disk = news.containerDiskGb;
  if (!sameJson(olds.ports, news.ports)) body.ports = news.ports;
  if (!sameEnv(olds.env, news.env)) {
    const env = { ...currentEnv };
    for (const key of Object.keys(olds.env ?? {})) delete env[key];
    body.env = { ...env, ...news.env };
  }
  if ((olds.registryId ?? null) !== (news.registryId ?? null)) body.registry = news.registryId ?? null;
  const mountChanged =
    olds.volumeMountPath !== news.volumeMountPath || olds.volumeGb !== news.volumeGb || olds.networkVolumeId !== news.networkVolumeId;
  const mounts = mountsFor(news);
  if (mountChanged && mounts) body.mounts = mounts;
  return body;
}

/** Drops undefined values: Pulumi's struct encoding rejects them. */
export function stripUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
