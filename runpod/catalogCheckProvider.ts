// The `runpod:GpuCatalogCheck` dynamic provider: the catalog pre-flight runs in its `check` step, which
// Pulumi calls on every preview and update before any step that depends on this resource (the image
// build, the pod). It holds no RunPod object: create and delete touch nothing.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { assessCatalog, describeVerdict, fetchGpuCatalog, type CatalogRequest } from "./catalog";
import { isKind } from "./errors";
import { clientFor, configureProvider, progressLogger } from "./providerSettings";
import { assessServerlessCatalog, describeServerlessVerdict } from "./serverlessCatalog";

export function catalogCheckInputsSchema() {
  return z
    .object({
      gpuTypeIds: z.array(z.string().min(1)).min(1, "list at least one GPU type id"),
      gpuCount: z.number().int().min(1).max(8).default(1),
      cloud: z.enum(["SECURE", "COMMUNITY"]).default("SECURE"),
      minVramGb: z.number().positive().optional(),
      maxCostPerHour: z.number().positive().optional(),
      /** POD checks placement by GPU type and price; SERVERLESS maps the types to the endpoint's GPU pools. */
      product: z.enum(["POD", "SERVERLESS"]).default("POD"),
      /** True under `pulumi preview`: a missing API key then skips the check instead of failing it. */
      preview: z.boolean().default(false),
    })
    .strict();
}

export type CatalogCheckInputs = z.output<ReturnType<typeof catalogCheckInputsSchema>>;
export type CatalogCheckInputsArg = z.input<ReturnType<typeof catalogCheckInputsSchema>>;

export interface CatalogCheckOutputs extends Omit<CatalogCheckInputs, "preview"> {
  /** The GPU types the pod may use, in the user's order: the ones that passed (all of them when skipped). */
  allowedGpuTypeIds: string[];
  /** What the pre-flight found (or why it was skipped), one line. */
  summary: string;
  /** Cheapest and dearest candidate, USD per hour for the pod; null when the check was skipped. */
  priceRange: { min: number; max: number } | null;
  /** SERVERLESS: the GPU pools of the allowed types and the other types in them, to exclude; empty for POD. */
  gpuPools: string[];
  excludedGpuTypeIds: string[];
}

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const COMPARED = [
  "gpuTypeIds", "gpuCount", "cloud", "minVramGb", "maxCostPerHour", "product",
  "allowedGpuTypeIds", "summary", "priceRange", "gpuPools", "excludedGpuTypeIds",
] as const;
// Stands for the pools in a preview without an API key: the endpoint's own check accepts it, and `up` replaces it.
export const POOLS_UNRESOLVED = "(resolved from the catalog at up)";

function withoutProvider(raw: Record<string, unknown>): Record<string, unknown> {
  const { __provider: _ignored, ...rest } = raw;
  return rest;
}

async function runCheck(provider: object, inputs: CatalogCheckInputs): Promise<{ outs?: CatalogCheckOutputs; failures: string[] }> {
  const { preview, ...request } = inputs;
  let client;
  try {
    client = clientFor(provider);
  } catch (error) {
    if (!preview || !isKind(error, "config")) throw error;
    const summary =
      "GPU catalog pre-flight skipped: no RunPod API key (runpod:apiKey or RUNPOD_API_KEY); `pulumi up` runs it before building";
    const gpuPools = request.product === "SERVERLESS" ? [POOLS_UNRESOLVED] : [];
    return { outs: { ...request, allowedGpuTypeIds: request.gpuTypeIds, summary, priceRange: null, gpuPools, excludedGpuTypeIds: [] }, failures: [] };
  }
  const gpus = await fetchGpuCatalog(client);
  if (request.product === "SERVERLESS") {
    const verdict = assessServerlessCatalog(gpus, request);
    if (verdict.problems.length) return { failures: verdict.problems };
    const prices = verdict.prices.map((p) => p.perHour);
    return {
      outs: {
        ...request,
        allowedGpuTypeIds: request.gpuTypeIds,
        summary: describeServerlessVerdict(verdict, request),
        priceRange: prices.length ? { min: Math.min(...prices), max: Math.max(...prices) } : null,
        gpuPools: verdict.pools,
        excludedGpuTypeIds: verdict.excludedGpuTypeIds,
      },
      failures: [],
    };
  }
  const catalogRequest: CatalogRequest = request;
  const verdict = assessCatalog(gpus, catalogRequest);
  if (verdict.problems.length) return { failures: verdict.problems };
  const prices = verdict.allowed.map((c) => c.perHour);
  return {
    outs: {
      ...request,
      allowedGpuTypeIds: verdict.allowed.map((c) => c.gpuTypeId),
      summary: describeVerdict(verdict, catalogRequest),
      priceRange: { min: Math.min(...prices), max: Math.max(...prices) },
      gpuPools: [],
      excludedGpuTypeIds: [],
    },
    failures: [],
  };
}

export const catalogCheckProvider: pulumi.dynamic.ResourceProvider<Record<string, unknown>, CatalogCheckOutputs> = {
  // eslint-disable-next-line @typescript-eslint/require-await
  async configure(req) {
    configureProvider(this, req);
  },

  async check(_olds, news) {
    const raw = withoutProvider(news);
    // Values not known yet (a preview waiting on other resources): nothing to check against.
    if (Object.values(raw).some((v) => JSON.stringify(v ?? null).includes(UNKNOWN))) return { inputs: news };
    const parsed = catalogCheckInputsSchema().safeParse(raw);
    if (!parsed.success) {
      return {
        inputs: news,
        failures: parsed.error.issues.map((i) => ({ property: i.path.map(String).join(".") || "(inputs)", reason: i.message })),
      };
    }
    const result = await runCheck(this, parsed.data);
    if (!result.outs) return { inputs: news, failures: result.failures.map((reason) => ({ property: "gpuTypeIds", reason })) };
    progressLogger("gpu catalog")(result.outs.summary);
    return { inputs: { ...result.outs, preview: parsed.data.preview } };
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async diff(_id, olds, news) {
    const changed = COMPARED.filter((key) => JSON.stringify(olds[key] ?? null) !== JSON.stringify(news[key] ?? null));
    return { changes: changed.length > 0 };
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async create(inputs) {
    const { preview: _preview, ...outs } = withoutProvider(inputs);
    return { id: "gpu-catalog", outs: outs as unknown as CatalogCheckOutputs };
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async update(_id, _olds, news) {
    const { preview: _preview, ...outs } = withoutProvider(news);
    return { outs: outs as unknown as CatalogCheckOutputs };
  },
};
