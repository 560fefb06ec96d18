// Pure QueueEndpoint logic: the CreateEndpointRequest and UpdateEndpointRequest bodies, the diff, and
// outputs from what RunPod reports. No I/O.
import type { ApiEndpoint, EndpointInputs, EndpointOutputs } from "./serverlessSchemas";

function canon(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => p.localeCompare(q))) : x,
  );
}

const same = (a: unknown, b: unknown): boolean => canon(a) === canon(b);

/** Inputs of ours only: changing them touches no API. */
const LOCAL_FIELDS = ["readyTimeoutSeconds"] as const;
const GPU_FIELDS = ["gpuPools", "excludedGpuTypes", "gpuCount", "minCudaVersion"] as const;
const WORKER_FIELDS = ["workersMin", "workersMax", "idleTimeoutSeconds"] as const;
const SCALER_FIELDS = ["scalerType", "scalerValue"] as const;
const PLAIN_FIELDS = ["name", "flashboot", "networkVolumeIds", "dataCenterIds", "executionTimeoutMs"] as const;
const TEMPLATE_FIELDS = ["templateId", "templateRevision"] as const;
const ALL_FIELDS = [...PLAIN_FIELDS, ...TEMPLATE_FIELDS, ...GPU_FIELDS, ...WORKER_FIELDS, ...SCALER_FIELDS, ...LOCAL_FIELDS] as const;

function gpuBody(v: EndpointInputs): Record<string, unknown> {
  // `pools` and `excludedTypes` are one selection: a PATCH with pools but without excludedTypes clears them.
  return {
    pools: v.gpuPools,
    ...(v.excludedGpuTypes.length ? { excludedTypes: v.excludedGpuTypes } : {}),
    count: v.gpuCount,
    ...(v.minCudaVersion !== undefined ? { minCudaVersion: v.minCudaVersion } : {}),
  };
}

function workersBody(v: EndpointInputs): Record<string, unknown> {
  return { min: v.workersMin, max: v.workersMax, ...(v.scalerType === "QUEUE_DELAY" && v.idleTimeoutSeconds !== undefined ? { idleTimeout: v.idleTimeoutSeconds } : {}) };
}

function scalingBody(v: EndpointInputs): Record<string, unknown> {
  return v.scalerType === "QUEUE_DELAY" ? { type: "QUEUE_DELAY", queueDelay: v.scalerValue } : { type: "REQUEST_COUNT", requestCount: v.scalerValue };
}

/** A CreateEndpointRequest for a GPU queue endpoint whose container settings come from the template. */
export function createEndpointBody(v: EndpointInputs): Record<string, unknown> {
  return {
    name: v.name,
    type: "QUEUE",
    templateId: v.templateId,
    gpu: gpuBody(v),
    workers: workersBody(v),
    scaling: scalingBody(v),
    flashboot: v.flashboot,
    networkVolumes: v.networkVolumeIds,
    dataCenterIds: v.dataCenterIds,
    timeout: v.executionTimeoutMs,
  };
}

export interface EndpointDiff {
  changes: boolean;
  /** Changed inputs, all applied in place (UpdateEndpointRequest accepts every one of them). */
  updates: string[];
}

export function diffEndpoint(olds: EndpointInputs, news: EndpointInputs): EndpointDiff {
  const updates = ALL_FIELDS.filter((f) => !same(olds[f], news[f]));
  return { changes: updates.length > 0, updates };
}

/** The PATCH body: only what changed, each group whole (the spec's gpu, workers and scaling semantics). */
export function patchEndpointBody(olds: EndpointInputs, news: EndpointInputs): Record<string, unknown> {
  const changed = new Set<string>(diffEndpoint(olds, news).updates);
  const any = (fields: readonly string[]) => fields.some((f) => changed.has(f));
  const body: Record<string, unknown> = {};
  if (changed.has("name")) body.name = news.name;
  // The template is a snapshot: a new id, or a new revision of the same one, is applied again.
  if (any(TEMPLATE_FIELDS)) body.templateId = news.templateId;
  if (any(GPU_FIELDS)) {
    body.gpu = gpuBody(news);
    // An explicit "" clears a floor the endpoint already carries.
    if (news.minCudaVersion === undefined && olds.minCudaVersion !== undefined) (body.gpu as Record<string, unknown>).minCudaVersion = "";
  }
  if (any(WORKER_FIELDS) || any(SCALER_FIELDS)) body.workers = workersBody(news);
  if (any(SCALER_FIELDS)) body.scaling = scalingBody(news);
  if (changed.has("flashboot")) body.flashboot = news.flashboot;
  if (changed.has("networkVolumeIds")) body.networkVolumes = news.networkVolumeIds;
  if (changed.has("dataCenterIds")) body.dataCenterIds = news.dataCenterIds;
  if (changed.has("executionTimeoutMs")) body.timeout = news.executionTimeoutMs;
  return body;
}

/** What RunPod reports, in our input names. */
function reported(e: ApiEndpoint): Partial<EndpointInputs> {
  const scaling = e.scaling;
  const out: Partial<EndpointInputs> = {
    name: e.name,
    workersMin: e.workers.min,
    workersMax: e.workers.max,
    scalerType: scaling.type,
    scalerValue: scaling.type === "QUEUE_DELAY" ? scaling.queueDelay : scaling.requestCount,
    networkVolumeIds: e.networkVolumes,
    dataCenterIds: e.dataCenterIds,
    executionTimeoutMs: e.timeout,
  };
  if (e.workers.idleTimeout !== undefined) out.idleTimeoutSeconds = e.workers.idleTimeout;
  if (e.flashboot === "OFF" || e.flashboot === "FLASHBOOT" || e.flashboot === "PRIORITY_FLASHBOOT") out.flashboot = e.flashboot;
  if (e.gpu) {
    out.gpuPools = e.gpu.pools;
    out.excludedGpuTypes = e.gpu.excludedTypes ?? [];
    if (e.gpu.count !== undefined) out.gpuCount = e.gpu.count;
    out.minCudaVersion = e.gpu.minCudaVersion ?? undefined;
  }
  return out;
}

/** Whether the endpoint already shows every value a PATCH body sets (to tell an applied PATCH from a lost one). */
export function endpointPatchApplied(e: ApiEndpoint, news: EndpointInputs, body: Record<string, unknown>): boolean {
  const shown = { ...news, ...reported(e) };
  const fieldsOf: Record<string, readonly string[]> = {
    name: ["name"], gpu: GPU_FIELDS, workers: WORKER_FIELDS, scaling: SCALER_FIELDS, flashboot: ["flashboot"],
    networkVolumes: ["networkVolumeIds"], dataCenterIds: ["dataCenterIds"], timeout: ["executionTimeoutMs"],
  };
  // A re-applied template leaves no readable trace on the endpoint, and sending it again is harmless: re-send it.
  if ("templateId" in body) return false;
  return Object.keys(body).every((k) => (fieldsOf[k] ?? []).every((f) => same(shown[f as keyof EndpointInputs], news[f as keyof EndpointInputs])));
}

export function endpointOutputs(inputs: EndpointInputs, e: ApiEndpoint, jobApiBase: string): EndpointOutputs {
  return JSON.parse(
    JSON.stringify({ ...inputs, ...reported(e), endpointId: e.id, jobApiUrl: `${jobApiBase}/${e.id}`, image: e.image ?? null, createdAt: e.createdAt }),
  ) as EndpointOutputs;
}

/** The warning an operator must see: min workers run (and bill) with no jobs at all. */
export function idleWorkersWarning(v: { workersMin: number }): string | undefined {
  if (v.workersMin <= 0) return undefined;
  return (
    `warning: workersMin ${v.workersMin} keeps ${v.workersMin} worker${v.workersMin > 1 ? "s" : ""} running and billed at all times, ` +
    "even with no jobs queued (the endpoint never scales to zero); set workersMin 0 to pay only while jobs run"
  );
}
