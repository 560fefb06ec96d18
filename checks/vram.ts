// vram: does the GPU ComfyUI runs on have the VRAM the workflow needs?
import { ComfyRequestError, sleep } from "./comfyClient";
import { DEFAULT_MIN_VRAM_GB, clientFor, describeRequestFailure, hintFor, progressOf, type CheckOptions } from "./common";
import { Deadline } from "./deadline";
import { BYTES_PER_GB, describeDevices, devicesOf, gb } from "./devices";
import type { Device, VramResult } from "./result";

export interface VramOptions extends CheckOptions {
  minVramGb?: number;
}

/**
 * torch reports usable memory, which is below the size on the box: "24 GB" cards report 23.6–25.4 GB
 * (an L4 shows 22.03 GiB = 23.65 GB), while the next size down (20 GB cards) reports about 21.5 GB.
 * A 6 % allowance accepts every card sold with the minimum and nothing smaller.
 */
export const VRAM_ALLOWANCE = 0.94;

export function judgeVram(url: string, devices: Device[], minVramGb: number, durationMs: number): VramResult {
  const cuda = devices.filter((d) => d.type === "cuda");
  // ComfyUI lists its primary device first and uses only that one.
  const primary = cuda[0];
  const base = { check: "vram" as const, url, durationMs, minVramGb, devices };
  if (!primary) {
    const seen = devices.length ? devices.map((d) => `${d.name} (${d.type})`).join(", ") : "no devices at all";
    return {
      ...base,
      ok: false,
      message:
        `ComfyUI reports no CUDA device (${seen}): it runs on CPU, so video generation cannot work. ` +
        "The pod has no GPU attached or torch cannot see it: check the GPU type, the CUDA driver and that the image's torch is a CUDA build.",
      gpu: devices[0]?.name ?? null,
      vramTotalGb: null,
      vramFreeGb: null,
    };
  }
  const totalGb = gb(primary.vramTotalBytes);
  const freeGb = gb(primary.vramFreeBytes);
  const others = cuda.length > 1 ? ` (${cuda.length} CUDA devices: ${describeDevices(cuda)}; ComfyUI uses the first)` : "";
  const enough = primary.vramTotalBytes >= minVramGb * BYTES_PER_GB * VRAM_ALLOWANCE;
  if (!enough) {
    return {
      ...base,
      ok: false,
      message:
        `${primary.name} has ${totalGb.toFixed(1)} GB VRAM, the workflow needs ${minVramGb} GB ` +
        `(short by ${(minVramGb - totalGb).toFixed(1)} GB)${others}: use a GPU with at least ${minVramGb} GB of VRAM.`,
      gpu: primary.name,
      vramTotalGb: totalGb,
      vramFreeGb: freeGb,
    };
  }
  // Free memory is only a note: ComfyUI keeps models loaded between jobs and unloads them when needed.
  const freeNote = primary.vramFreeBytes < minVramGb * BYTES_PER_GB * VRAM_ALLOWANCE
    ? ` Only ${freeGb.toFixed(1)} GB is free right now (models still loaded, or another process on the GPU).`
    : "";
  return {
    ...base,
    ok: true,
    message: `${primary.name} has ${totalGb.toFixed(1)} GB VRAM (${freeGb.toFixed(1)} GB free), enough for the ${minVramGb} GB the workflow needs${others}.${freeNote}`,
    gpu: primary.name,
    vramTotalGb: totalGb,
    vramFreeGb: freeGb,
  };
}

export function failedVram(url: string, minVramGb: number, durationMs: number, message: string): VramResult {
  return { check: "vram", ok: false, message, url, durationMs, minVramGb, gpu: null, vramTotalGb: null, vramFreeGb: null, devices: [] };
}

export async function runVramCheck(options: VramOptions): Promise<VramResult> {
  const minVramGb = options.minVramGb ?? DEFAULT_MIN_VRAM_GB;
  const deadline = new Deadline(options.timeoutSeconds * 1000, options.signal);
  const progress = progressOf(options);
  const client = clientFor(options, deadline);
  progress.info(`vram: reading devices from ${client.baseUrl} (minimum ${minVramGb} GB)`);
  let lastError: unknown;
  try {
    while (!deadline.expired()) {
      try {
        const stats = await client.systemStats(true);
        const result = judgeVram(client.baseUrl, devicesOf(stats), minVramGb, deadline.elapsedMs());
        progress.info(result.message);
        return result;
      } catch (error) {
        if (error instanceof ComfyRequestError && (error.kind === "aborted" || !error.transient)) {
          if (error.kind !== "aborted") lastError = error;
          break;
        }
        lastError = error;
        progress.info(`system_stats not available yet: ${describeRequestFailure(error)}`);
        await sleep(Math.min(1_000, deadline.remainingMs()), deadline.signal);
      }
    }
    const why = lastError ? describeRequestFailure(lastError) : `no answer within ${options.timeoutSeconds} s`;
    return failedVram(client.baseUrl, minVramGb, deadline.elapsedMs(), `Could not read the GPU's VRAM from ComfyUI at ${client.baseUrl}: ${why}. ${hintFor(lastError)}`.trim());
  } finally {
    deadline.dispose();
  }
}
