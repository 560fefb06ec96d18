// Zod schemas of RunPod REST v2's GPU catalog and network volumes, with exactly the members the spec
// marks required (runpod/docs api-reference-v2/openapi.json, commit 081392fe: GpuType, NetworkVolume);
// unknown members are ignored. Built inside functions: the dynamic providers are serialized by value.
import { z } from "zod";

/** A `GpuType` of `GET /v2/catalog/gpus`: `price` is USD per hour for ONE GPU, per cloud. */
export function gpuTypeSchema() {
  const perCloud = <S extends z.ZodType>(value: S) => z.object({ secure: value, community: value }).loose();
  // `serverless` (optional): the list price of the GPU's serverless pool, USD per GPU per hour.
  const price = z.object({ secure: z.number(), community: z.number(), serverless: z.number().optional() }).loose();
  return z
    .object({
      id: z.string(),
      name: z.string(),
      pool: z.string().nullable(),
      manufacturer: z.string(),
      memory: z.number().int(),
      secure: z.boolean(),
      community: z.boolean(),
      price,
      maxCount: perCloud(z.number().int()),
    })
    .loose();
}

export function gpuTypeListSchema() {
  return z.object({ gpus: z.array(gpuTypeSchema()) }).loose();
}

export type ApiGpuType = z.output<ReturnType<typeof gpuTypeSchema>>;

/** A `NetworkVolume`: `dataCenter` and `type` are immutable after creation; `size` may only grow. */
export function networkVolumeSchema() {
  return z
    .object({ id: z.string().min(1), name: z.string(), size: z.number().int(), dataCenter: z.string(), type: z.string() })
    .loose();
}

export function networkVolumeListSchema() {
  return z.object({ networkVolumes: z.array(networkVolumeSchema()) }).loose();
}

export type ApiNetworkVolume = z.output<ReturnType<typeof networkVolumeSchema>>;
