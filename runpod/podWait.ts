// Waiting for a pod to really serve, and leaving nothing billed behind when it does not.
import type { RunPodClient } from "./client";
import { isKind, runPodError } from "./errors";
import { podOutputs, podReadiness } from "./podLogic";
import type { InterruptWatch } from "./interrupts";
import type { ApiPod, PodInputs, PodOutputs } from "./schemas";
import { scaledMs, sleep } from "./timing";

/** After a log event, wait this long for the burst of lines to settle, then poll once. */
const EVENT_SETTLE_MS = 250;

/**
 * A sleep that a log event cuts short. Every state change of a pod is narrated on its log stream, so
 * polling right after an event finds readiness within moments while quiet stretches cost few calls.
 */
function eventWaker() {
  let wake: (() => void) | undefined;
  let pending = false;
  return {
    notify(): void {
      if (wake) wake();
      else pending = true;
    },
    sleep(ms: number): Promise<void> {
      if (pending) {
        pending = false;
        ms = Math.min(ms, scaledMs(EVENT_SETTLE_MS));
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve();
        }, ms);
        wake = () => {
          wake = undefined;
          clearTimeout(timer);
          setTimeout(resolve, scaledMs(EVENT_SETTLE_MS));
        };
      });
    },
  };
}

export type WaitResult = { ready: true; pod: ApiPod } | { ready: false; pod: ApiPod; reason: string };

type PollPhase = "starting" | "finishing";

/**
 * The next poll delay. While the log stream narrates state changes, polling is only a slow fallback
 * (5 s doubling to 60 s). Without the stream it backs off from 1 s to 30 s. Once the pod is RUNNING
 * but its container or ports are not reported yet, nothing announces the last step, so it polls every
 * 2 s for 20 s, then backs off to 30 s.
 */
function nextDelayMs(previousMs: number, phase: PollPhase, phaseMs: number, eventsLive: boolean): number {
  const s = scaledMs;
  if (phase === "finishing") return phaseMs < s(20_000) ? s(2000) : Math.min(Math.max(previousMs * 2, s(2000)), s(30_000));
  if (eventsLive) return Math.min(Math.max(previousMs * 2, s(5000)), s(60_000));
  return Math.min(Math.max(previousMs * 2, s(1000)), s(30_000));
}

/**
 * Polls until the pod is ready, fails, or the deadline (by default `readyTimeoutSeconds` from now)
 * passes, following the pod's log stream to poll as soon as something happens. Transient API failures
 * while polling are logged and polling goes on until the deadline.
 */
export async function waitUntilReady(
  client: RunPodClient,
  first: ApiPod,
  inputs: PodInputs,
  log: (message: string) => void,
  interrupts: InterruptWatch,
  deadline: number = Date.now() + inputs.readyTimeoutSeconds * 1000,
): Promise<WaitResult> {
  const waker = eventWaker();
  const logs = client.followLogs(first.id, (source, line) => {
    if (source === "system") log(`system: ${line}`);
    waker.notify();
  });
  interrupts.onInterrupt(() => waker.notify());
  try {
    return await pollUntilReady(client, first, inputs, log, deadline, {
      pause: (ms) => waker.sleep(ms),
      eventsLive: () => logs.isLive(),
      interrupted: () => interrupts.signal,
    });
  } finally {
    logs.close();
  }
}

async function pollUntilReady(
  client: RunPodClient,
  first: ApiPod,
  inputs: PodInputs,
  log: (message: string) => void,
  deadline: number,
  hooks: { pause: (ms: number) => Promise<void>; eventsLive: () => boolean; interrupted: () => string | undefined },
): Promise<WaitResult> {
  const started = Date.now();
  let pod = first;
  let lastReason = "";
  let delay = 0;
  let lastHeartbeat = started;
  let phase: PollPhase = "starting";
  let phaseStarted = started;
  for (;;) {
    const readiness = podReadiness(pod, inputs.ports);
    const elapsed = Math.round((Date.now() - started) / 1000);
    if (readiness.state === "ready") {
      log(`ready after ${elapsed}s (${pod.gpu?.id ?? "GPU"} in ${pod.dataCenterId ?? "?"}, $${pod.cost ?? "?"}/h)`);
      return { ready: true, pod };
    }
    if (readiness.state === "failed") return { ready: false, pod, reason: readiness.reason };
    const changed = readiness.reason !== lastReason;
    if (changed || Date.now() - lastHeartbeat >= 30_000) {
      log(`${readiness.reason} (${elapsed}s of at most ${inputs.readyTimeoutSeconds}s)`);
      lastHeartbeat = Date.now();
    }
    lastReason = readiness.reason;
    const nowPhase: PollPhase = pod.status === "RUNNING" ? "finishing" : "starting";
    if (nowPhase !== phase) {
      phase = nowPhase;
      phaseStarted = Date.now();
      delay = 0;
    }
    delay = nextDelayMs(delay, phase, Date.now() - phaseStarted, hooks.eventsLive());
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      return {
        ready: false,
        pod,
        reason: `the pod was not ready within ${inputs.readyTimeoutSeconds}s (last state: ${readiness.reason}); raise pod.readyTimeoutMinutes if the image is large`,
      };
    }
    await hooks.pause(Math.min(delay, remaining));
    const signal = hooks.interrupted();
    if (signal) return { ready: false, pod, reason: `the deployment was interrupted (${signal}) while the pod was starting` };
    try {
      const latest = await client.getPod(pod.id);
      if (!latest) return { ready: false, pod, reason: "the pod disappeared while starting (deleted outside Pulumi?)" };
      pod = latest;
    } catch (error) {
      // Only transient failures are waited out; a refusal (401, 403, 405, 410, …) will not heal.
      if (!isKind(error, "server", "network", "timeout", "rateLimited", "unexpected")) throw error;
      log(`status check failed (${error.kind}); still waiting`);
    }
  }
}

/**
 * Called when a pod we created will not become ready. With deleteOnFailure it is terminated before we
 * throw; otherwise (or when terminating fails) the error carries the id so Pulumi keeps it in state.
 */
export async function abandonPod(
  client: RunPodClient,
  pod: ApiPod,
  inputs: PodInputs,
  reason: string,
  log: (message: string) => void,
): Promise<never> {
  const outs = podOutputs(inputs, pod);
  if (inputs.deleteOnFailure) {
    log(`${reason}; terminating pod ${pod.id}`);
    let cleanupError: unknown = null;
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      try {
        await client.deletePod(pod.id);
        cleanupError = null;
        break;
      } catch (error) {
        cleanupError = error;
        if (attempt < 3) await sleep(scaledMs(1000 * attempt));
      }
    }
    if (cleanupError === null) {
      throw runPodError({
        kind: "notReady",
        message: `Pod ${pod.id} did not become ready: ${reason}. It was terminated, so nothing is left running or billed; fix the cause, then run \`pulumi up\` again.`,
      });
    }
    throw partialFailure(
      pod.id,
      outs,
      `Pod ${pod.id} did not become ready: ${reason}. Terminating it failed too (${cleanupError instanceof Error ? cleanupError.message : "unknown error"}); it stays in the stack state, so \`pulumi destroy\` or the next \`pulumi up\` removes it.`,
    );
  }
  throw partialFailure(
    pod.id,
    outs,
    `Pod ${pod.id} did not become ready: ${reason}. It was kept (pod.deleteOnFailure=false) and is tracked in the stack state; inspect it, then \`pulumi up\` to retry or \`pulumi destroy\` to remove it.`,
  );
}

/**
 * Pulumi's partial-state error: an error carrying `id` becomes ErrorResourceInitFailed, so the engine
 * records the resource instead of forgetting a pod that exists.
 */
export function partialFailure(id: string, properties: PodOutputs, message: string): Error {
  return Object.assign(new Error(message), { id, properties, reasons: [message] });
}
