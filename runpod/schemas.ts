// Zod schemas of RunPod REST v2 and of our provider inputs.
// Every schema is built inside a function: Pulumi serializes the dynamic provider by value, and zod
// objects held at module scope do not survive that (pulumi/pulumi#5294).
import { z } from "zod";

/** Pulumi's marker for a value not known yet (preview). */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export const DEFAULT_API_URL = "https://api.runpod.io/v2";

// Response schemas follow RunPod's v2 OpenAPI document (runpod/docs api-reference-v2/openapi.json,
// newest stored version): members the spec requires are required, optional ones optional, and
// unknown members are ignored (`loose`), so a body the spec allows always parses.

/** RunPod's problem+json error body (ErrorResponse: title, status, detail required; errors optional). */
export function problemSchema() {
  return z
    .object({
      title: z.string(),
      status: z.number().int(),
      detail: z.string(),
      errors: z.array(z.string()).optional(),
    })
    .loose();
}

/** PodRuntimePort: every member is optional in the spec. */
function runtimePortSchema() {
  return z
    .object({
      private: z.number().int().optional(),
      public: z.number().int().nullable().optional(),
      type: z.string().optional(),
      ip: z.string().nullable().optional(),
    })
    .loose();
}

/** PodSshEndpoint: host, port, username, command all required. */
function sshEndpointSchema() {
  return z.object({ host: z.string(), port: z.number().int(), username: z.string(), command: z.string() }).loose();
}

/** GpuConfig of a Pod: `id`, `vcpuCount`, `memory` required; `count` optional (default 1). */
function podGpuSchema() {
  return z
    .object({ id: z.string(), count: z.number().int().optional(), vcpuCount: z.number(), memory: z.number() })
    .loose();
}

function mountsSchema() {
  return z
    .object({
      persistent: z.object({ size: z.number().int(), path: z.string() }).loose().optional(),
      network: z.array(z.object({ volumeId: z.string(), path: z.string() }).loose()).optional(),
    })
    .loose();
}

/** PodRuntime: every member optional; `null` when the pod is not RUNNING. */
function podRuntimeSchema() {
  return z.object({ uptime: z.number().int().optional(), ports: z.array(runtimePortSchema()).optional() }).loose();
}

/**
 * The v2 Pod with exactly the spec's required members. Live pods read RUNNING with `runtime: null`
 * for a while; the schema allows that because the spec does (runtime is PodRuntime or null).
 */
export function podSchema() {
  return z
    .object({
      id: z.string(),
      name: z.string(),
      status: z.enum(["PROVISIONING", "STARTING", "RUNNING", "EXITED", "ERROR", "TERMINATED"]),
      // PodAction values; not read here, so a new action does not make a pod unreadable.
      actions: z.array(z.string()),
      image: z.string(),
      args: z.string(),
      disk: z.number().int(),
      mounts: mountsSchema(),
      ports: z.array(z.string()),
      env: z.record(z.string(), z.string()),
      registry: z.string().nullable(),
      cloud: z.enum(["SECURE", "COMMUNITY"]),
      dataCenterId: z.string().nullable(),
      cudaVersion: z.string().nullable(),
      gpu: podGpuSchema().optional(),
      ssh: z.object({ proxy: sshEndpointSchema().nullable(), direct: sshEndpointSchema().nullable() }).loose(),
      template: z.string().nullable(),
      cost: z.number(),
      locked: z.boolean(),
      runtime: podRuntimeSchema().nullable(),
      // date-time strings arrive with a variable number of fraction digits; kept as strings.
      createdAt: z.string(),
      startedAt: z.string().nullable(),
      globalNetworking: z.object({ enabled: z.boolean() }).loose(),
    })
    .loose();
}

/** ListPodsResponse: `pods` required. Later API versions page the list; `pagination` is followed when sent. */
export function podListSchema() {
  return z
    .object({
      pods: z.array(podSchema()),
      pagination: z.object({ nextCursor: z.string().nullable().optional(), hasNextPage: z.boolean().optional() }).loose().optional(),
    })
    .loose();
}

/** One `data:` payload of the pod log stream. */
export function logEventSchema() {
  return z.object({ ts: z.string().optional(), source: z.string().optional(), line: z.string().optional() }).loose();
}

export function registrySchema() {
  return z.object({ id: z.string(), name: z.string() }).loose();
}

export function registryListSchema() {
  return z.object({ registries: z.array(registrySchema()) }).loose();
}

const PORT_PATTERN = /^([0-9]{1,5})\/(http|tcp)$/;
const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Inputs of the `runpod:Pod` dynamic resource, normalised (defaults applied). */
export function podInputsSchema() {
  return z
    .object({
      name: z.string().min(1, "must not be empty").max(191),
      image: z.string().min(1, "must name an image, e.g. repo/name@sha256:…"),
      gpuTypeIds: z
        .array(z.string().min(1))
        .min(1, "list at least one GPU type id, e.g. \"NVIDIA GeForce RTX 4090\"")
        .refine((ids) => new Set(ids).size === ids.length, "GPU type ids must not repeat"),
      gpuCount: z.number().int().min(1).max(8).default(1),
      cloud: z.enum(["SECURE", "COMMUNITY"]).default("SECURE"),
      dataCenterIds: z.array(z.string().min(1)).default([]),
      containerDiskGb: z.number().int().min(1).max(4096).default(50),
      volumeGb: z.number().int().min(10, "a pod volume is at least 10 GB").max(4096).optional(),
      networkVolumeId: z.string().min(1).optional(),
      volumeMountPath: z.string().startsWith("/", "must be an absolute path").default("/workspace"),
      ports: z
        .array(
          z.string().regex(PORT_PATTERN, "ports are \"<port>/http\" or \"<port>/tcp\"").refine((p) => {
            const [num, proto] = p.split("/");
            const n = Number(num);
            return n >= 1 && (proto === "tcp" || n <= 65535);
          }, "port number out of range"),
        )
        .default(["8188/http", "22/tcp"])
        .refine((ports) => new Set(ports.map((p) => p.split("/")[0])).size === ports.length, "a port may be declared once"),
      env: z
        .record(z.string().regex(ENV_KEY_PATTERN, "env names are letters, digits and _"), z.string())
        .default({}),
      registryId: z.string().min(1).optional(),
      readyTimeoutSeconds: z.number().int().min(1).max(24 * 3600).default(1200),
      deleteOnFailure: z.boolean().default(true),
      createBeforeDelete: z.boolean().default(false),
      /** Sent as gpu.minCudaVersion: the lowest host CUDA (driver) version the image runs on, "major.minor". */
      minCudaVersion: z.string().regex(/^\d+\.\d+$/, "a CUDA version as major.minor, e.g. 12.4").optional(),
      /** USD per hour: a created pod whose `cost` is above it is terminated (runpod/costCap.ts). */
      maxCostPerHour: z.number().positive().optional(),
    })
    .strict()
    .superRefine((v, ctx) => {
      if (v.volumeGb !== undefined && v.networkVolumeId !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["networkVolumeId"],
          message: "set either volumeGb (a pod volume) or networkVolumeId (a network volume), not both",
        });
      }
      if (v.networkVolumeId !== undefined && v.cloud === "COMMUNITY") {
        ctx.addIssue({ code: "custom", path: ["cloud"], message: "network volumes attach to SECURE cloud pods only" });
      }
    });
}

export type PodInputs = z.output<ReturnType<typeof podInputsSchema>>;
export type PodInputsArg = z.input<ReturnType<typeof podInputsSchema>>;
export type ApiPod = z.output<ReturnType<typeof podSchema>>;
export type ApiRegistry = z.output<ReturnType<typeof registrySchema>>;

export interface PortMapping {
  private: number;
  public: number | null;
  type: string;
  ip: string | null;
}

/** What the provider stores: the normalised inputs plus what RunPod reported. */
export interface PodOutputs extends PodInputs {
  podId: string;
  status: string;
  gpuTypeId: string;
  dataCenterId: string | null;
  costPerHour: number;
  publicIp: string | null;
  portMappings: PortMapping[];
  /** Internal port → https://{podId}-{port}.proxy.runpod.net */
  httpUrls: Record<string, string>;
  sshCommand: string | null;
  /** Times Pulumi started this pod again after it stopped (EXITED); absent in state written before it existed. */
  startCount?: number;
}

export function registryInputsSchema() {
  return z
    .object({
      name: z.string().min(1, "must not be empty"),
      username: z.string().min(1, "must not be empty"),
      password: z.string().min(1, "must not be empty"),
    })
    .strict();
}

export type RegistryInputs = z.output<ReturnType<typeof registryInputsSchema>>;

export interface RegistryOutputs extends RegistryInputs {
  registryId: string;
}
