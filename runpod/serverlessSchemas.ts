// Zod schemas of RunPod REST v2's templates and serverless endpoints (runpod/docs
// api-reference-v2/openapi.json: Template, Endpoint, List*Response), and of our two resources' inputs.
// Built inside functions for the same reason as schemas.ts (the provider is serialized by value).
import { z } from "zod";

const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CUDA_PATTERN = /^\d+\.\d+$/;
const PORT_PATTERN = /^([0-9]{1,5})\/(http|tcp)$/;

/**
 * Template with the spec's required members, except `mounts`: the live API omits it when the template
 * has no persistent volume (shared/reference/runpod-rest-v2.md §2.12), and the provider never reads it.
 */
export function templateSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      image: z.string(),
      args: z.string(),
      disk: z.number().int(),
      ports: z.array(z.string()),
      env: z.record(z.string(), z.string()),
      registry: z.string().nullable(),
      serverless: z.boolean(),
      public: z.boolean(),
      // TemplateCategory values; kept as a string so a new category does not make a template unreadable.
      category: z.string(),
      startSsh: z.boolean(),
      startJupyter: z.boolean(),
      allowedCudaVersions: z.array(z.string()),
    })
    .loose();
}

export function templateListSchema() {
  return z.object({ templates: z.array(templateSchema()) }).loose();
}

/**
 * Endpoint: `id`, `name`, `workers` {min, max}, `scaling`, `dataCenterIds`, `networkVolumes`, `timeout`,
 * `flashboot`, `createdAt` are required; `type`, `gpu`, `requestUrls` and the container settings are not.
 * The endpoint's `env` is never read: it may carry the template's secrets.
 */
export function endpointSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      type: z.string().optional(),
      image: z.string().optional(),
      gpu: z
        .object({
          pools: z.array(z.string()),
          excludedTypes: z.array(z.string()).optional(),
          count: z.number().int().optional(),
          allowedCudaVersions: z.array(z.string()),
          minCudaVersion: z.string().nullable(),
        })
        .loose()
        .nullable()
        .optional(),
      workers: z.object({ min: z.number().int(), max: z.number().int(), idleTimeout: z.number().int().optional() }).loose(),
      scaling: z.union([
        z.object({ type: z.literal("QUEUE_DELAY"), queueDelay: z.number() }).loose(),
        z.object({ type: z.literal("REQUEST_COUNT"), requestCount: z.number() }).loose(),
      ]),
      dataCenterIds: z.array(z.string()),
      networkVolumes: z.array(z.string()),
      timeout: z.number().int(),
      flashboot: z.string(),
      createdAt: z.string(),
    })
    .loose();
}

/** ListEndpointsResponse: `endpoints` required; `pagination` followed when a later API version sends it. */
export function endpointListSchema() {
  return z
    .object({
      endpoints: z.array(endpointSchema()),
      pagination: z.object({ nextCursor: z.string().nullable().optional(), hasNextPage: z.boolean().optional() }).loose().optional(),
    })
    .loose();
}

export type ApiTemplate = z.output<ReturnType<typeof templateSchema>>;
export type ApiEndpoint = z.output<ReturnType<typeof endpointSchema>>;

/** Inputs of `runpod:ServerlessTemplate`, normalised. */
export function templateInputsSchema() {
  return z
    .object({
      name: z.string().min(1, "must not be empty").max(191),
      image: z.string().min(1, "must name an image, e.g. repo/name@sha256:…"),
      env: z.record(z.string().regex(ENV_KEY_PATTERN, "env names are letters, digits and _"), z.string()).default({}),
      containerDiskGb: z.number().int().min(1, "at least 1 GB").max(4096).default(50),
      registryId: z.string().min(1).optional(),
      ports: z
        .array(z.string().regex(PORT_PATTERN, "ports are \"<port>/http\" or \"<port>/tcp\""))
        .default([])
        .refine((ports) => new Set(ports.map((p) => p.split("/")[0])).size === ports.length, "a port may be declared once"),
      args: z.string().default(""),
    })
    .strict();
}

export type TemplateInputs = z.output<ReturnType<typeof templateInputsSchema>>;
export type TemplateInputsArg = z.input<ReturnType<typeof templateInputsSchema>>;

export interface TemplateOutputs extends TemplateInputs {
  templateId: string;
  /** 1 at create, +1 for every in-place change of the container settings (endpoints re-apply the template on a change). */
  revision: number;
}

const FLASHBOOT = ["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"] as const;

/** Inputs of `runpod:QueueEndpoint`, normalised (defaults are the spec's). */
export function endpointInputsSchema() {
  return z
    .object({
      name: z.string().min(1, "must not be empty").max(191),
      templateId: z.string().min(1, "pass the templateId of a ServerlessTemplate"),
      /** The template's `revision`: a change re-applies the template's container settings to the endpoint. */
      templateRevision: z.number().int().min(0).optional(),
      gpuPools: z
        .array(z.string().min(1))
        .min(1, "list at least one serverless GPU pool id, e.g. \"ADA_24\" (the `pool` of GET /v2/catalog/gpus)")
        .refine((ids) => new Set(ids).size === ids.length, "pool ids must not repeat"),
      excludedGpuTypes: z
        .array(z.string().regex(/^\s*[^-\s]/, "a GPU type id, e.g. \"NVIDIA L40\""))
        .default([])
        .refine((ids) => new Set(ids.map((i) => i.trim())).size === ids.length, "excluded GPU types must not repeat"),
      gpuCount: z.number().int().min(1).default(1),
      minCudaVersion: z.string().regex(CUDA_PATTERN, "a CUDA version as major.minor, e.g. 12.4").optional(),
      workersMin: z.number().int().min(0).default(0),
      workersMax: z.number().int().min(0).default(3),
      /** Seconds before an idle worker stops; QUEUE_DELAY scaling only (the spec rejects it with REQUEST_COUNT). */
      idleTimeoutSeconds: z.number().int().min(1).max(3600).optional(),
      scalerType: z.enum(["QUEUE_DELAY", "REQUEST_COUNT"]).default("QUEUE_DELAY"),
      /** Seconds of queue wait (QUEUE_DELAY, at least 0.5) or in-flight requests per worker (REQUEST_COUNT, integer ≥ 1). */
      scalerValue: z.number().positive().default(4),
      flashboot: z.enum(FLASHBOOT).default("OFF"),
      networkVolumeIds: z.array(z.string().min(1)).default([]),
      dataCenterIds: z.array(z.string().min(1)).default([]),
      /** Per-job execution timeout (the endpoint's `timeout`, milliseconds). */
      executionTimeoutMs: z.number().int().min(1000, "at least 1000 ms").default(300_000),
      /** Bounds the read-back after the create. */
      readyTimeoutSeconds: z.number().int().min(1).max(3600).default(120),
    })
    .strict()
    .superRefine((v, ctx) => {
      if (v.workersMax < v.workersMin) {
        ctx.addIssue({ code: "custom", path: ["workersMax"], message: `must be at least workersMin (${v.workersMin})` });
      }
      if (v.scalerType === "REQUEST_COUNT" && v.idleTimeoutSeconds !== undefined) {
        ctx.addIssue({ code: "custom", path: ["idleTimeoutSeconds"], message: "does not apply to REQUEST_COUNT scaling: remove it, or use scalerType QUEUE_DELAY" });
      }
      if (v.scalerType === "REQUEST_COUNT" && !Number.isInteger(v.scalerValue)) {
        ctx.addIssue({ code: "custom", path: ["scalerValue"], message: "REQUEST_COUNT scaling takes a whole number of requests per worker" });
      }
      if (v.scalerType === "QUEUE_DELAY" && v.scalerValue < 0.5) {
        ctx.addIssue({ code: "custom", path: ["scalerValue"], message: "QUEUE_DELAY scaling takes at least 0.5 seconds of queue wait" });
      }
    })
    .transform((v) => (v.scalerType === "QUEUE_DELAY" ? { ...v, idleTimeoutSeconds: v.idleTimeoutSeconds ?? 10 } : v));
}

export type EndpointInputs = z.output<ReturnType<typeof endpointInputsSchema>>;
export type EndpointInputsArg = z.input<ReturnType<typeof endpointInputsSchema>>;

export interface EndpointOutputs extends EndpointInputs {
  endpointId: string;
  /** The job API base of this endpoint: `${jobApiUrl}/${endpointId}` (run, runsync, status/{id}, health, …). */
  jobApiUrl: string;
  /** The image RunPod reports the endpoint runs (from the template), or null when it reports none. */
  image: string | null;
  createdAt: string;
}

export const DEFAULT_JOB_API_URL = "https://api.runpod.ai/v2";
