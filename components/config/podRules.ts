// The pod.* rules that span keys (one volume, the models volume's data centre, SSH's port, credentials in
// pod.env) and the typed pod section handed to GpuPod.
import * as pulumi from "@pulumi/pulumi";
import { checkEnvValues } from "./envItems";
import { failed, issue, type LooseValues, type RefineCtx, type ValuesOf } from "./keyInfo";
import { DEFAULT_VOLUME_GB, type podFields } from "./podFields";
import { type podLifecycleFields } from "./podLifecycleFields";

type PodValues = ValuesOf<ReturnType<typeof podFields> & ReturnType<typeof podLifecycleFields>>;

/** The pod has one volume: a pod volume, a network volume of the user's, or the kept models volume. */
export function checkPodVolumes(v: LooseValues, ctx: RefineCtx): void {
  const volumeGb = v["pod.volumeGb"] !== undefined;
  const networkVolume = v["pod.networkVolumeId"] !== undefined;
  if (volumeGb && networkVolume) {
    issue(
      ctx,
      "set either pod.volumeGb (a pod volume) or pod.networkVolumeId (a network volume), not both",
      "pod.networkVolumeId",
      "pulumi config rm pod.volumeGb (or pulumi config rm pod.networkVolumeId)",
    );
  }
  if (v["pod.modelsVolumeGb"] !== undefined) checkModelsVolume(v, ctx);
  if (networkVolume && v["pod.cloud"] === "COMMUNITY") {
    const fix = "pulumi config set pod.cloud SECURE";
    issue(ctx, "network volumes attach to SECURE cloud pods only", "pod.cloud", fix);
  }
}

/** SSH needs its port; pod.env must not carry the RunPod API key, nor credentials in plaintext. */
export function checkPodAccess(v: LooseValues, ctx: RefineCtx, apiKey: unknown, envIsSecret: boolean): void {
  const ports: unknown = v["pod.ports"];
  if (v["pod.publicKey"] !== undefined && Array.isArray(ports) && !ports.includes("22/tcp")) {
    const fix = `add "22/tcp" to pod.ports in Pulumi.<stack>.yaml (or pulumi config rm pod.publicKey)`;
    issue(ctx, "pod.publicKey is set but pod.ports lacks 22/tcp: sshd would have no port to listen on", "pod.ports", fix);
  }
  const env: unknown = v["pod.env"];
  if (env && typeof env === "object" && !failed(ctx, "pod.env")) {
    const values = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string"));
    checkEnvValues(values, envIsSecret, typeof apiKey === "string" ? apiKey : undefined, ctx);
  }
}

export function podSection(v: PodValues, isSecret: (key: string) => boolean) {
  return {
    gpuTypes: v["pod.gpuTypes"],
    gpuCount: v["pod.gpuCount"],
    cloud: v["pod.cloud"],
    dataCenters: v["pod.dataCenters"],
    containerDiskGb: v["pod.containerDiskGb"],
    volumeGb:
      v["pod.networkVolumeId"] === undefined && v["pod.modelsVolumeGb"] === undefined
        ? (v["pod.volumeGb"] ?? DEFAULT_VOLUME_GB)
        : undefined,
    modelsVolume:
      v["pod.modelsVolumeGb"] === undefined
        ? undefined
        : { sizeGb: v["pod.modelsVolumeGb"], dataCenterId: modelsVolumeDataCenter(v) ?? "" },
    networkVolumeId: v["pod.networkVolumeId"],
    volumeMountPath: v["pod.volumeMountPath"],
    ports: v["pod.ports"],
    // A secret pod.env keeps every value secret: the Pod's env input, its state and the restart key.
    env: isSecret("pod.env") ? secretValues(v["pod.env"]) : v["pod.env"],
    readyTimeoutMinutes: v["pod.readyTimeoutMinutes"],
    maxCostPerHour: v["pod.maxCostPerHour"],
    deleteOnFailure: v["pod.deleteOnFailure"],
    createBeforeDelete: v["pod.createBeforeDelete"],
    idleStopMinutes: v["pod.idleStopMinutes"],
    maxLifetimeHours: v["pod.maxLifetimeHours"],
    lifetimeAction: v["pod.lifetimeAction"],
    publicKey: v["pod.publicKey"],
  };
}

function secretValues(env: Record<string, string>): Record<string, pulumi.Input<string>> {
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, pulumi.secret(value)]));
}

/** The models volume's data centre: its own key, else the first of pod.dataCenters. */
function modelsVolumeDataCenter(v: LooseValues): string | undefined {
  const own = v["pod.modelsVolumeDataCenter"];
  if (typeof own === "string") return own;
  const listed = v["pod.dataCenters"];
  return Array.isArray(listed) && typeof listed[0] === "string" ? listed[0] : undefined;
}

/** pod.modelsVolumeGb replaces the pod volume with a network volume, which pins the pod to one data centre. */
function checkModelsVolume(v: LooseValues, ctx: RefineCtx): void {
  for (const other of ["pod.volumeGb", "pod.networkVolumeId"]) {
    if (v[other] !== undefined) {
      issue(ctx, `set either pod.modelsVolumeGb or ${other}, not both: both give the pod its one volume`, "pod.modelsVolumeGb", `pulumi config rm ${other}`);
    }
  }
  if (v["pod.cloud"] === "COMMUNITY") {
    issue(ctx, "network volumes attach to SECURE cloud pods only", "pod.cloud", "pulumi config set pod.cloud SECURE");
  }
  const dc = modelsVolumeDataCenter(v);
  const listed = v["pod.dataCenters"];
  if (dc === undefined) {
    issue(
      ctx,
      "has no data centre: a network volume lives in one, and the pod must run there",
      "pod.modelsVolumeDataCenter",
      "pulumi config set pod.modelsVolumeDataCenter EU-RO-1 (a data centre that offers network volumes and your GPU types)",
    );
  } else if (Array.isArray(listed) && listed.length > 0 && !listed.includes(dc)) {
    issue(
      ctx,
      `${dc} is not in pod.dataCenters, but the pod must run where its models volume is`,
      "pod.modelsVolumeDataCenter",
      `add ${dc} to pod.dataCenters in Pulumi.<stack>.yaml, or pulumi config set pod.modelsVolumeDataCenter ${String(listed[0])}`,
    );
  }
}
