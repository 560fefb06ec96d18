// The seeded plan of one soak run: placement inputs, emulator stock, the faults to inject and the
// operations that follow the create. Everything here derives from (seed, run index) alone, so a run
// is reproduced from the printed seed.
import type { FaultSpec, StockEntry } from "../../emulators/runpod";

export const GPU_IDS = [
  "NVIDIA GeForce RTX 4090",
  "NVIDIA L40S",
  "NVIDIA RTX 6000 Ada Generation",
  "NVIDIA A100 80GB PCIe",
  "NVIDIA H100 80GB HBM3",
];
export const DATA_CENTERS = ["US-TX-3", "EU-RO-1", "CA-MTL-1"];

export const FAULT_KINDS = [
  "ambiguousCreate", // 502 on create, and the pod was made anyway
  "failedCreate", // 5xx on create, nothing made
  "rateLimited", // 429 with Retry-After on any route
  "pollError", // 5xx while polling the pod
  "transport", // connection reset or a hung request, on any route
  "bootError", // the pod goes to ERROR while booting
  "slowStart", // the pod takes longer than readyTimeoutSeconds
  "unreadableCreate", // 201 with a truncated or incomplete body
  "deleteError", // DELETE answers 500 before it succeeds
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type Operation = "read" | "update";

export interface Fault {
  kind: FaultKind;
  /** What the emulator is told (none for the boot faults, which are emulator knobs). */
  spec?: FaultSpec;
  /** Human summary for a failure report. */
  label: string;
}

export interface RunPlan {
  index: number;
  form: "direct" | "serialized";
  gpuTypeIds: string[];
  cloud: "SECURE" | "COMMUNITY";
  dataCenterIds: string[];
  stock: StockEntry[];
  faults: Fault[];
  operations: Operation[];
  readyTimeoutSeconds: number;
  /** Some candidate has stock, and no fault keeps the pod from booting in time. */
  expectCreated: boolean;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POD = /^\/v2\/pods\/[a-z0-9]+$/;
const PODS = /^\/v2\/pods$/;
const ROUTES: Array<{ method: string; path: RegExp; name: string }> = [
  { method: "POST", path: PODS, name: "POST /pods" },
  { method: "GET", path: PODS, name: "GET /pods" },
  { method: "GET", path: POD, name: "GET /pods/{id}" },
  { method: "PATCH", path: POD, name: "PATCH /pods/{id}" },
  { method: "DELETE", path: POD, name: "DELETE /pods/{id}" },
];

export interface PlanSettings {
  clientTimeoutMs: number;
}

export function planRun(seed: number, index: number, settings: PlanSettings): RunPlan {
  const next = rng((seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0);
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const sample = <T>(xs: readonly T[], n: number): T[] => [...xs].sort(() => next() - 0.5).slice(0, n);

  const gpuTypeIds = sample(GPU_IDS, int(1, 3));
  const cloud = next() < 0.7 ? "SECURE" : "COMMUNITY";
  const dataCenterIds = next() < 0.5 ? [] : sample(DATA_CENTERS, int(1, 2));
  // Stock: each (GPU, DC) pair is sold out, stocked for the other cloud only, or available.
  const stock: StockEntry[] = [];
  const soldOutEverywhere = next() < 0.1;
  for (const gpuId of GPU_IDS) {
    for (const dataCenterId of DATA_CENTERS) {
      const roll = next();
      if (soldOutEverywhere || roll < 0.45) continue;
      const other = cloud === "SECURE" ? "COMMUNITY" : "SECURE";
      stock.push({ gpuId, dataCenterId, available: int(1, 2), ...(roll < 0.6 ? { cloud: other } : next() < 0.5 ? { cloud } : {}) });
    }
  }
  const placeable = gpuTypeIds.some((gpu) =>
    stock.some(
      (s) => s.gpuId === gpu && (s.cloud === undefined || s.cloud === cloud) && (dataCenterIds.length === 0 || dataCenterIds.includes(s.dataCenterId)),
    ),
  );

  const faults: Fault[] = [];
  // The boot faults end a run at the create; at half weight more runs go on to update and delete.
  const weighted = FAULT_KINDS.flatMap((k) => (k === "bootError" || k === "slowStart" ? [k] : [k, k]));
  for (let n = int(0, 4); n > 0; n -= 1) faults.push(fault(pick(weighted), { int, next, pick }, settings));
  const count = (k: FaultKind): number => faults.filter((f) => f.kind === k).length;
  // Generous enough for every queued 429 (1 s each), hung request and create lookup on top of a fast
  // boot, with room for a machine busy with other work.
  const createFaults = count("ambiguousCreate") + count("failedCreate") + count("unreadableCreate");
  const readyTimeoutSeconds = 5 + count("rateLimited") + 2 * count("transport") + createFaults;
  const operations: Operation[] = [];
  for (let n = int(1, 3); n > 0; n -= 1) operations.push(next() < 0.5 ? "read" : "update");
  return {
    index,
    form: index % 2 === 0 ? "direct" : "serialized",
    gpuTypeIds,
    cloud,
    dataCenterIds,
    stock,
    faults,
    operations,
    readyTimeoutSeconds,
    expectCreated: placeable && count("bootError") === 0 && count("slowStart") === 0,
  };
}

interface Draw {
  int: (lo: number, hi: number) => number;
  next: () => number;
  pick: <T>(xs: readonly T[]) => T;
}

function fault(kind: FaultKind, d: Draw, settings: PlanSettings): Fault {
  switch (kind) {
    case "ambiguousCreate":
      return { kind, label: "502 on create, pod made", spec: { method: "POST", path: PODS, status: 502, applyFirst: true } };
    case "failedCreate": {
      const status = d.pick([500, 502, 503, 504]);
      return { kind, label: `${status} on create, nothing made`, spec: { method: "POST", path: PODS, status } };
    }
    case "rateLimited": {
      const route = d.pick(ROUTES);
      return { kind, label: `429 on ${route.name}`, spec: { method: route.method, path: route.path, status: 429, retryAfter: 1 } };
    }
    case "pollError": {
      const status = d.pick([500, 502, 503]);
      const times = d.int(1, 3);
      return { kind, label: `${status} x${times} while polling`, spec: { method: "GET", path: POD, status, times } };
    }
    case "transport": {
      const route = d.pick(ROUTES);
      const applyFirst = d.next() < 0.5;
      if (d.next() < 0.5) {
        return { kind, label: `reset on ${route.name}${applyFirst ? " after processing" : ""}`, spec: { method: route.method, path: route.path, reset: true, applyFirst } };
      }
      // Hung past the client's timeout; the server finishes the request later (or has already).
      const hangMs = Math.round(settings.clientTimeoutMs * (1.5 + d.next()));
      return { kind, label: `${route.name} hung ${hangMs} ms`, spec: { method: route.method, path: route.path, hangMs, applyFirst } };
    }
    case "bootError":
      return { kind, label: "boot ERROR" };
    case "slowStart":
      return { kind, label: "start slower than readyTimeoutSeconds" };
    case "unreadableCreate": {
      if (d.next() < 0.5) {
        const cut = Math.round((0.05 + d.next() * 0.9) * 100) / 100;
        return { kind, label: `201 cut to ${Math.round(cut * 100)}%`, spec: { method: "POST", path: PODS, truncateBody: cut } };
      }
      const member = d.pick(["id", "status", "ssh", "gpu.vcpuCount", "runtime", "createdAt"]);
      return { kind, label: `201 without ${member}`, spec: { method: "POST", path: PODS, dropMembers: [member] } };
    }
    case "deleteError": {
      const times = d.int(1, 2);
      return { kind, label: `500 x${times} on DELETE`, spec: { method: "DELETE", path: POD, status: 500, times } };
    }
  }
}
