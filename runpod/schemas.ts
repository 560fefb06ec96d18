// Zod schemas of RunPod REST v2 and of our provider inputs.
// Every schema is built inside a function: Pulumi serializes the dynamic provider by value, and zod
// objects held at module scope do not survive that (pulumi/pulumi#5294).
import { z } from "zod";

/** Pulumi's marker for a value not known yet (preview). */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export const DEFAULT_API_URL = "https://api.runpod.io/v2";

/** RunPod's problem+json error body. */
export function problemSchema() {
  return z
    .object({
      title: z.string().optional(),
      status: z.number().int().optional(),
      detail: z.string().optional(),
      errors: z.array(z.string()).optional(),
    })
    .loose();
}

function runtimePortSchema() {
  return z
    .object({
      private: z.number().int(),
      public: z.number().int().nullable().optional(),
      type: z.string(),
      ip: z.string().nullable().optional(),
    })
    .loose();
}

function sshEndpointSchema() {
  return z.object({ host: z.string(), port: z.number().int(), username: z.string(), command: z.string() }).loose();
}

/** The v2 Pod, tolerant of extra keys and of the live deviations (RUNNING with `runtime: null`). */
export function podSchema() {
  return z
    .object({
      id: z.string().min(1),
      name: z.string(),
      status: z.enum(["PROVISIONING", "STARTING", "RUNNING", "EXITED", "ERROR", "TERMINATED"]),
      actions: z.array(z.string()).optional(),
      image: z.string().nullable().optional(),
      args: z.string().nullable().optional(),
      disk: z.number().nullable().optional(),
      mounts: z
        .object({
          persistent: z.object({ size: z.number(), path: z.string() }).loose().nullable().optional(),
          network: z.array(z.object({ volumeId: z.string(), path: z.string() }).loose()).nullable().optional(),
        })
        .loose()
        .nullable()
        .optional(),
      ports: z.array(z.string()).nullable().optional(),
      env: z.record(z.string(), z.string()).nullable().optional(),
      registry: z.string().nullable().optional(),
      cloud: z.string().nullable().optional(),
      dataCenterId: z.string().nullable().optional(),
      cudaVersion: z.string().nullable().optional(),
      gpu: z.object({ id: z.string(), count: z.number().int() }).loose().nullable().optional(),
      ssh: z
        .object({ proxy: sshEndpointSchema().nullable().optional(), direct: sshEndpointSchema().nullable().optional() })
        .loose()
        .nullable()
        .optional(),
      cost: z.number().nullable().optional(),
      locked: z.boolean().nullable().optional(),
      runtime: z
        .object({ uptime: z.number().optional(), ports: z.array(runtimePortSchema()).nullable().optional() })
        .loose()
        .nullable()
        .optional(),
      // Timestamps arrive with a variable number of fraction digits; keep them as strings.
      createdAt: z.string().nullable().optional(),
      startedAt: z.string().nullable().optional(),
    })
    .loose();
}

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
  return z.object({ id: z.string().min(1), name: z.string() }).loose();
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
