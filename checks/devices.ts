// Turns ComfyUI's system_stats devices into the verdict's device list.
import type { SystemDevice, SystemStats } from "./comfyApi";
import type { Device } from "./result";

/** Decimal gigabytes, the unit GPU vendors use. */
export const BYTES_PER_GB = 1e9;

/**
 * "cuda:0 NVIDIA RTX A4000 : cudaMallocAsync" → "NVIDIA RTX A4000". ComfyUI prefixes the torch device and
 * appends the allocator; the 2024 build used the same format for its single device.
 */
export function gpuName(raw: string): string {
  return raw.replace(/^[a-z]+:\d+\s+/i, "").replace(/\s+:\s+[A-Za-z_]+$/, "").trim() || raw;
}

export function toDevice(device: SystemDevice): Device {
  return {
    name: device.type === "cuda" ? gpuName(device.name) : device.name,
    type: device.type,
    index: device.index ?? null,
    vramTotalBytes: device.vram_total,
    vramFreeBytes: device.vram_free,
  };
}

export function devicesOf(stats: SystemStats): Device[] {
  return stats.devices.map(toDevice);
}

export function gb(bytes: number): number {
  return Math.round((bytes / BYTES_PER_GB) * 10) / 10;
}

/** "NVIDIA L40S (48.3 GB, 47.9 GB free)" style summary for progress lines and messages. */
export function describeDevices(devices: Device[]): string {
  if (devices.length === 0) return "no devices reported";
  return devices
    .map((d) => (d.type === "cuda" ? `${d.name} (${gb(d.vramTotalBytes).toFixed(1)} GB, ${gb(d.vramFreeBytes).toFixed(1)} GB free)` : `${d.name} (${d.type})`))
    .join(", ");
}

/** "3.11.9 (main, …) [GCC …]" → "3.11.9". */
export function shortPythonVersion(raw: string | undefined): string | null {
  if (!raw) return null;
  return raw.split(/\s/)[0] ?? raw;
}
