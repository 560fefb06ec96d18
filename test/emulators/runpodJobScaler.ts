// The endpoint's scaler, as endpoint-configurations.mdx (runpod/docs 0a2b94f) describes it: how many workers an
// endpoint wants now, and which idle workers go. Pure functions over the endpoint's state.
import type { EmulatedEndpointSettings, EmulatedWorker } from "./runpodJobEndpoint";

export interface ScalerView {
  settings: EmulatedEndpointSettings;
  workers: EmulatedWorker[];
  queued: number;
  inProgress: number;
  /** How long the oldest queued job has waited (ms). */
  oldestWaitMs: number;
  timeScale: number;
}

export function workersWanted(view: ScalerView): number {
  const { workersMin, workersMax, scalerType, scalerValue } = view.settings;
  const workers = view.workers;
  let target = workers.length;
  if (scalerType === "REQUEST_COUNT") {
    // Math.ceil((requestsInQueue + requestsInProgress) / scalerValue).
    target = Math.max(target, Math.ceil((view.queued + view.inProgress) / Math.max(1, scalerValue)));
  } else {
    const free = workers.filter((w) => w.state === "idle" || w.state === "initializing").length;
    const healthy = workers.filter((w) => w.state !== "unhealthy").length;
    // A worker is added when a request waited more than scalerValue seconds; with no worker at all the first
    // one starts at once (docs silent; otherwise every job on an idle endpoint would wait that long first).
    if (view.queued > free && (healthy === 0 || view.oldestWaitMs > scalerValue * 1000 * view.timeScale)) target = workers.length + 1;
  }
  return Math.min(workersMax, Math.max(workersMin, target));
}

/**
 * Idle workers past the idle timeout, while more than workersMin are left (applied to both scaler types;
 * the docs say the timeout matters mainly with queue delay). An unhealthy worker is replaced after the same
 * pause, standing for the platform's retry with backoff.
 */
export function workersToRetire(view: ScalerView, now: number): EmulatedWorker[] {
  const { workersMin, idleTimeoutSeconds } = view.settings;
  const limit = idleTimeoutSeconds * 1000 * view.timeScale;
  let left = view.workers.length;
  const retire: EmulatedWorker[] = [];
  for (const worker of view.workers) {
    const idleFor = now - worker.idleSince;
    if (worker.state === "unhealthy" && idleFor > limit) {
      retire.push(worker);
      left -= 1;
    } else if (worker.state === "idle" && idleFor > limit && left > workersMin) {
      retire.push(worker);
      left -= 1;
    }
  }
  return retire;
}
