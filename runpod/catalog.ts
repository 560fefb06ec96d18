// Pre-flight against RunPod's GPU catalog (`GET /v2/catalog/gpus`): every GPU type id exists, has the
// memory the model needs and is offered for this cloud and GPU count, and its list price × gpuCount is
// within the cost cap. Pure apart from fetchGpuCatalog, so every rule is testable without a server.
import type { RunPodClient } from "./client";
import { gpuTypeListSchema, type ApiGpuType } from "./catalogSchemas";

export type Cloud = "SECURE" | "COMMUNITY";

export interface CatalogRequest {
  gpuTypeIds: string[];
  gpuCount: number;
  cloud: Cloud;
  /** GPU memory (per GPU) the model variant needs; unset: not checked. */
  minVramGb?: number;
  /** USD per hour for the whole pod (price × gpuCount); unset: no cap. */
  maxCostPerHour?: number;
}

export interface PricedCandidate {
  gpuTypeId: string;
  memoryGb: number;
  /** List price × gpuCount for the chosen cloud, USD per hour. */
  perHour: number;
}

export interface CatalogVerdict {
  /** Config mistakes: the deployment must not go ahead (nothing is built or created). */
  problems: string[];
  /** Candidates that pass, in the user's order. */
  allowed: PricedCandidate[];
  /** Candidates left out, with the reason (price above the cap, not offered on this cloud, too many GPUs). */
  skipped: Array<{ gpuTypeId: string; reason: string }>;
}

export async function fetchGpuCatalog(client: RunPodClient): Promise<ApiGpuType[]> {
  // Without include=AVAILABILITY the list is the price list: every type, whatever its stock.
  const list = await client.call("GET", "/catalog/gpus", gpuTypeListSchema());
  return list?.gpus ?? [];
}

const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const next = [i];
    for (let j = 1; j <= b.length; j += 1) {
      next[j] = Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The catalog ids a mistyped one most likely meant: its display name, a containing id, or a near spelling. */
export function closestGpuIds(wanted: string, gpus: ApiGpuType[]): string[] {
  const key = squash(wanted);
  if (!key) return [];
  const byName = gpus.filter((g) => squash(g.name) === key || squash(g.id) === key);
  if (byName.length) return byName.map((g) => g.id);
  const containing = gpus.filter((g) => squash(g.id).endsWith(key) || squash(g.id).includes(key));
  if (containing.length) return containing.slice(0, 3).map((g) => g.id);
  const scored = gpus
    .map((g) => ({ id: g.id, d: Math.min(editDistance(key, squash(g.id)), editDistance(key, squash(g.name))) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(key.length / 4)))
    .sort((a, b) => a.d - b.d);
  return scored.slice(0, 3).map((x) => x.id);
}

export const usd = (n: number): string => `$${n.toFixed(2)}`;

/** The catalog entry of a requested GPU type id, or the config problem with it (unknown id, too little memory). */
export function findGpu(
  byId: ReadonlyMap<string, ApiGpuType>,
  gpus: ApiGpuType[],
  id: string,
  configKey: string,
  minVramGb: number | undefined,
): { gpu: ApiGpuType } | { problem: string } {
  const gpu = byId.get(id);
  if (!gpu) {
    const guesses = closestGpuIds(id, gpus);
    const hint = guesses.length ? `; did you mean ${guesses.map((g) => JSON.stringify(g)).join(" or ")}?` : "";
    return {
      problem:
        `${configKey}: ${JSON.stringify(id)} is not a GPU type id in RunPod's catalog${hint} ` +
        "(ids are the `id` of GET /v2/catalog/gpus, e.g. \"NVIDIA L40S\")",
    };
  }
  if (minVramGb !== undefined && gpu.memory < minVramGb) {
    return {
      problem:
        `${configKey}: ${JSON.stringify(id)} has ${gpu.memory} GB of GPU memory, below the ${minVramGb} GB the model ` +
        "variant needs; remove it, pick a larger GPU, or a smaller model.variant",
    };
  }
  return { gpu };
}

export function assessCatalog(gpus: ApiGpuType[], req: CatalogRequest): CatalogVerdict {
  const verdict: CatalogVerdict = { problems: [], allowed: [], skipped: [] };
  const byId = new Map(gpus.map((g) => [g.id, g]));
  const cloudKey = req.cloud === "SECURE" ? "secure" : "community";
  for (const id of req.gpuTypeIds) {
    const found = findGpu(byId, gpus, id, "pod.gpuTypes", req.minVramGb);
    if ("problem" in found) {
      verdict.problems.push(found.problem);
      continue;
    }
    const gpu = found.gpu;
    const perHour = Math.round(gpu.price[cloudKey] * req.gpuCount * 10000) / 10000;
    if (!gpu[cloudKey]) {
      verdict.skipped.push({ gpuTypeId: id, reason: `not offered on ${req.cloud} cloud` });
    } else if (req.gpuCount > gpu.maxCount[cloudKey]) {
      verdict.skipped.push({ gpuTypeId: id, reason: `at most ${gpu.maxCount[cloudKey]} per pod on ${req.cloud} cloud` });
    } else if (req.maxCostPerHour !== undefined && perHour > req.maxCostPerHour) {
      verdict.skipped.push({ gpuTypeId: id, reason: `${usd(perHour)}/h is above pod.maxCostPerHour ${usd(req.maxCostPerHour)}/h` });
    } else {
      verdict.allowed.push({ gpuTypeId: id, memoryGb: gpu.memory, perHour });
    }
  }
  if (verdict.problems.length === 0 && verdict.allowed.length === 0) {
    verdict.problems.push(
      `no GPU type in pod.gpuTypes can be used: ${verdict.skipped.map((s) => `${s.gpuTypeId} (${s.reason})`).join("; ")}. ` +
        "Raise pod.maxCostPerHour, add cheaper GPU types, lower pod.gpuCount or change pod.cloud",
    );
  }
  return verdict;
}

/** One line for the user: the price range of the candidates left and what was skipped. */
export function describeVerdict(verdict: CatalogVerdict, req: CatalogRequest): string {
  const gpus = `${req.gpuCount} GPU${req.gpuCount === 1 ? "" : "s"}, ${req.cloud} cloud`;
  const prices = verdict.allowed.map((c) => c.perHour);
  const range = prices.length
    ? `${usd(Math.min(...prices))}–${usd(Math.max(...prices))}/h (list price × ${req.gpuCount}, ${gpus})`
    : "none";
  const each = verdict.allowed.map((c) => `${c.gpuTypeId} ${usd(c.perHour)}/h`).join(", ");
  const skipped = verdict.skipped.length
    ? `; skipped: ${verdict.skipped.map((s) => `${s.gpuTypeId} (${s.reason})`).join(", ")}`
    : "";
  return `GPU candidates ${range}: ${each || "none"}${skipped}`;
}
