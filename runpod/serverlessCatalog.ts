// The serverless side of the GPU catalog pre-flight. A serverless endpoint is placed by GPU *pool* (the
// catalog's `pool` of each GPU type), not by GPU type: the user's serverless.gpuTypes become the pools that
// hold them, and every other type in those pools is excluded, so workers land only on the GPUs named.
import { findGpu, usd } from "./catalog";
import type { ApiGpuType } from "./catalogSchemas";

export interface ServerlessCatalogRequest {
  gpuTypeIds: string[];
  gpuCount: number;
  minVramGb?: number;
}

export interface ServerlessCatalogVerdict {
  problems: string[];
  /** The pools holding the requested types, in the order of the first type named in each. */
  pools: string[];
  /** Types in those pools the user did not name. */
  excludedGpuTypeIds: string[];
  /** The serverless list price × gpuCount per candidate, USD per worker-hour, where the catalog gives one. */
  prices: Array<{ gpuTypeId: string; perHour: number }>;
}

const KEY = "serverless.gpuTypes";

export function assessServerlessCatalog(gpus: ApiGpuType[], req: ServerlessCatalogRequest): ServerlessCatalogVerdict {
  const verdict: ServerlessCatalogVerdict = { problems: [], pools: [], excludedGpuTypeIds: [], prices: [] };
  const byId = new Map(gpus.map((g) => [g.id, g]));
  for (const id of req.gpuTypeIds) {
    const found = findGpu(byId, gpus, id, KEY, req.minVramGb);
    if ("problem" in found) {
      verdict.problems.push(found.problem);
      continue;
    }
    const gpu = found.gpu;
    if (gpu.pool === null) {
      verdict.problems.push(`${KEY}: ${JSON.stringify(id)} is in no serverless GPU pool (its catalog \`pool\` is null): pods only`);
      continue;
    }
    if (!verdict.pools.includes(gpu.pool)) verdict.pools.push(gpu.pool);
    if (gpu.price.serverless !== undefined) {
      verdict.prices.push({ gpuTypeId: id, perHour: Math.round(gpu.price.serverless * req.gpuCount * 10000) / 10000 });
    }
  }
  if (verdict.problems.length) return { ...verdict, pools: [], excludedGpuTypeIds: [] };
  verdict.excludedGpuTypeIds = gpus
    .filter((g) => g.pool !== null && verdict.pools.includes(g.pool) && !req.gpuTypeIds.includes(g.id))
    .map((g) => g.id);
  return verdict;
}

export function describeServerlessVerdict(verdict: ServerlessCatalogVerdict, req: ServerlessCatalogRequest): string {
  const excluded = verdict.excludedGpuTypeIds.length ? ` excluding ${verdict.excludedGpuTypeIds.join(", ")}` : "";
  const prices = verdict.prices.length
    ? `; serverless list price ${verdict.prices.map((p) => `${p.gpuTypeId} ${usd(p.perHour)}/worker-hour`).join(", ")}`
    : "; the catalog lists no serverless price for these GPUs";
  return `serverless GPU pools ${verdict.pools.join(", ")} (${req.gpuCount} GPU${req.gpuCount === 1 ? "" : "s"} a worker)${excluded}${prices}`;
}
