// Comparing pod states: what a change of inputs replaces or updates in place, the PATCH body for it,
// and whether a pod already shows a PATCH (to tell an applied update from a lost one).
import type { ApiPod, PodInputs, PodOutputs } from "./schemas";

/** The mounts of a create or PATCH body for these inputs. */
export function mountsFor(inputs: PodInputs): Record<string, unknown> | undefined {
  if (inputs.networkVolumeId !== undefined) {
    return { network: [{ volumeId: inputs.networkVolumeId, path: inputs.volumeMountPath }] };
  }
  if (inputs.volumeGb !== undefined) {
    return { persistent: { size: inputs.volumeGb, path: inputs.volumeMountPath } };
  }
  return undefined;
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
  // A refresh found the pod stopped (EXITED): the update starts it again.
  if (olds.status === "EXITED" && replaces.length === 0) updates.push("status");
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

/** Whether the pod already shows every value a PATCH body sets (to tell an applied PATCH from a lost one). */
export function patchApplied(pod: ApiPod, body: Record<string, unknown>): boolean {
  const shown: Record<string, unknown> = {
    name: pod.name,
    image: pod.image,
    disk: pod.disk,
    ports: pod.ports,
    registry: pod.registry,
    mounts: pod.mounts,
  };
  return Object.entries(body).every(([key, value]) => {
    if (key === "env") return sameEnv(pod.env, value as Record<string, string>);
    if (key === "mounts") {
      const want = value as { persistent?: unknown; network?: unknown };
      return (
        (want.persistent === undefined || sameJson(pod.mounts.persistent, want.persistent)) &&
        (want.network === undefined || sameJson(pod.mounts.network, want.network))
      );
    }
    return sameJson(shown[key], value);
  });
}
