// health: GET /api/system_stats until it answers or the deadline passes, riding out a pod that is still
// booting (connection refused, proxy 502/503/524, timeouts) with backoff.
import type { SystemStats } from "./comfyApi";
import { ComfyRequestError, sleep } from "./comfyClient";
import { clientFor, describeRequestFailure, hintFor, progressOf, type CheckOptions } from "./common";
import { Deadline } from "./deadline";
import { describeDevices, devicesOf, shortPythonVersion } from "./devices";
import type { HealthResult } from "./result";

export interface HealthOptions extends CheckOptions {
  /** First wait between attempts; doubles up to `maxBackoffMs`. */
  firstBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Print the unchanged state again after this long, so a long boot still shows signs of life. */
const HEARTBEAT_MS = 30_000;

export function healthFromStats(url: string, stats: SystemStats, durationMs: number, message: string): HealthResult {
  const version = stats.system.comfyui_version;
  return {
    check: "health",
    ok: true,
    message,
    url,
    durationMs,
    comfyuiVersion: version && version !== "unknown" ? version : null,
    pythonVersion: shortPythonVersion(stats.system.python_version),
    pytorchVersion: stats.system.pytorch_version ?? null,
    devices: devicesOf(stats),
  };
}

export function failedHealth(url: string, durationMs: number, message: string): HealthResult {
  return { check: "health", ok: false, message, url, durationMs, comfyuiVersion: null, pythonVersion: null, pytorchVersion: null, devices: [] };
}

export async function runHealthCheck(options: HealthOptions): Promise<HealthResult> {
  const deadline = new Deadline(options.timeoutSeconds * 1000, options.signal);
  const progress = progressOf(options);
  const client = clientFor(options, deadline);
  const firstBackoff = options.firstBackoffMs ?? 250;
  const maxBackoff = options.maxBackoffMs ?? 5_000;
  let backoff = firstBackoff;
  let lastState = "";
  let lastPrintedAt = 0;
  let lastError: unknown;
  progress.info(`health: waiting for ComfyUI at ${client.baseUrl} (GET /api/system_stats, up to ${options.timeoutSeconds} s)`);
  try {
    for (;;) {
      try {
        const stats = await client.systemStats();
        const result = healthFromStats(client.baseUrl, stats, deadline.elapsedMs(), "");
        const versions = [
          `ComfyUI ${result.comfyuiVersion ?? "(version unknown)"}`,
          `Python ${result.pythonVersion ?? "?"}`,
          `torch ${result.pytorchVersion ?? "?"}`,
        ].join(", ");
        result.message = `ComfyUI answers after ${(deadline.elapsedMs() / 1000).toFixed(0)} s: ${versions}; devices: ${describeDevices(result.devices)}.`;
        progress.info(result.message);
        return result;
      } catch (error) {
        if (error instanceof ComfyRequestError && error.kind === "aborted") break;
        lastError = error;
        if (error instanceof ComfyRequestError && error.kind === "auth") {
          const message = `ComfyUI at ${client.baseUrl} refused GET /api/system_stats with ${error.status ?? "401/403"}. ${hintFor(error)}`;
          return failedHealth(client.baseUrl, deadline.elapsedMs(), message);
        }
        if (deadline.expired()) break;
        const state = describeRequestFailure(error);
        const now = Date.now();
        if (state !== lastState || now - lastPrintedAt >= HEARTBEAT_MS) {
          progress.info(`still booting: ${state}, ${(deadline.elapsedMs() / 1000).toFixed(0)} s elapsed`);
          lastState = state;
          lastPrintedAt = now;
        }
        await sleep(Math.min(backoff, deadline.remainingMs()), deadline.signal);
        backoff = Math.min(backoff * 2, maxBackoff);
        if (deadline.expired()) break;
      }
    }
    const why = deadline.stoppedBecause === "cancelled" ? "the check was cancelled" : `no healthy answer within ${options.timeoutSeconds} s`;
    const message = `ComfyUI at ${client.baseUrl} is not healthy: ${why} (last: ${lastState || describeRequestFailure(lastError)}). ${hintFor(lastError)}`.trim();
    return failedHealth(client.baseUrl, deadline.elapsedMs(), message);
  } finally {
    deadline.dispose();
  }
}
