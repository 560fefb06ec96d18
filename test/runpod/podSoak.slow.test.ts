// A seeded fault soak of the pod provider against the RunPod v2 emulator: many runs, each with random
// GPU types, clouds, stock and 0–4 faults, then reads, updates and two deletes, driving the provider
// both directly and in the serialized form Pulumi stores. It prints its seed; SOAK_SEED=<seed>
// reproduces every run's plan (SOAK_RUNS=<n> changes how many).
import * as assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { podProvider } from "../../runpod";
import { captureSerializedProviders, configureLikeHost, type PodProvider, type SerializedProviders } from "./serializedProvider";
import { FAULT_KINDS, planRun } from "./soak/plan";
import { executeRun, type RunReport } from "./soak/run";

const RUNS = Number(process.env.SOAK_RUNS) > 0 ? Number(process.env.SOAK_RUNS) : 60;
const SEED = process.env.SOAK_SEED !== undefined && process.env.SOAK_SEED !== "" ? Number(process.env.SOAK_SEED) >>> 0 : randomInt(2 ** 31);
// SOAK_ONLY=<index> replays one run; SOAK_VERBOSE=1 shows the provider's progress lines.
const ONLY = process.env.SOAK_ONLY !== undefined && process.env.SOAK_ONLY !== "" ? Number(process.env.SOAK_ONLY) : undefined;
const VERBOSE = process.env.SOAK_VERBOSE === "1";
const CONCURRENCY = 12;
// Small real delays instead of a fake clock: the provider runs its real code, only faster.
const CLIENT_TIMEOUT_MS = 800;
const DELAY_SCALE = "0.05";

describe("pod provider fault soak", function () {
  this.timeout(180_000);
  const saved: Record<string, string | undefined> = {};
  const captured: string[] = [];
  let originalWrite: typeof process.stderr.write | undefined;
  let serialized: SerializedProviders;
  let maxListeners = 10;

  before(async () => {
    serialized = await captureSerializedProviders();
    for (const key of ["RUNPOD_HTTP_TIMEOUT_MS", "RUNPOD_PROVIDER_DELAY_SCALE", "RUNPOD_PROVIDER_QUIET", "RUNPOD_API_KEY", "RUNPOD_API_URL"]) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
    process.env.RUNPOD_HTTP_TIMEOUT_MS = String(CLIENT_TIMEOUT_MS);
    process.env.RUNPOD_PROVIDER_DELAY_SCALE = DELAY_SCALE;
    // Progress lines are captured (to look for the key in them), not shown.
    originalWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      if (text.startsWith("[runpod]")) {
        captured.push(text);
        if (!VERBOSE) return true;
      }
      return (originalWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
    // Every create and update in flight listens for SIGINT/SIGTERM/SIGHUP.
    maxListeners = process.getMaxListeners();
    process.setMaxListeners(Math.max(maxListeners, CONCURRENCY * 2 + 10));
  });

  after(() => {
    if (originalWrite) process.stderr.write = originalWrite;
    process.setMaxListeners(maxListeners);
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it(`${RUNS} seeded runs: no orphaned or duplicate pod, no key leak, every error says what to do, creates on time`, async () => {
    console.log(`      pod fault soak: seed ${SEED}, ${RUNS} runs (reproduce: SOAK_SEED=${SEED} npm run test:slow)`);
    const loadProvider = async (form: "direct" | "serialized", apiKey: string, apiUrl: string): Promise<PodProvider> => {
      const provider = form === "direct" ? { ...podProvider } : serialized.load().pod;
      return configureLikeHost(provider, { "runpod:apiKey": apiKey, "runpod:apiUrl": apiUrl });
    };
    const started = Date.now();
    const reports: RunReport[] = [];
    let nextIndex = ONLY ?? 0;
    const last = ONLY !== undefined ? ONLY + 1 : RUNS;
    const worker = async (): Promise<void> => {
      while (nextIndex < last) {
        const plan = planRun(SEED, nextIndex++, { clientTimeoutMs: CLIENT_TIMEOUT_MS });
        reports.push(await executeRun(plan, { loadProvider }));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (Date.now() - started) / 1000;
    reports.sort((a, b) => a.index - b.index);

    const logText = captured.join("");
    const leaks = reports.flatMap((r) => [...r.keyLeaks, ...(logText.includes(r.apiKey) ? [`progress output of run ${r.index}`] : [])]);
    const leakedIntoSerialized = reports.filter((r) => serialized.texts.pod.includes(r.apiKey)).length;
    const orphans = reports.flatMap((r) => r.orphans.map((o) => `run ${r.index}: ${o}`));
    const duplicates = reports.reduce((n, r) => n + r.duplicates, 0);
    const badMessages = reports.flatMap((r) => r.badMessages.map((m) => `run ${r.index}: ${m}`));
    const late = reports.filter((r) => r.createOverDeadlineMs > 30_000);
    const slowest = reports.reduce((a, b) => (b.createOverDeadlineMs > a.createOverDeadlineMs ? b : a));
    const missed = reports.filter((r) => r.plan.expectCreated && !r.created);
    const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, reports.reduce((n, r) => n + r.plan.faults.filter((f) => f.kind === k).length, 0)]));
    const errors = reports.reduce((n, r) => n + r.errors, 0);

    console.log(
      `      ${RUNS} runs (${reports.filter((r) => r.plan.form === "direct").length} direct, ${reports.filter((r) => r.plan.form === "serialized").length} serialized) in ${seconds.toFixed(1)} s; ` +
        `${reports.filter((r) => r.created).length} created, ${reports.filter((r) => !r.created).length} failed as planned or refused, ${errors} errors checked`,
    );
    const sum = (f: (r: RunReport) => number): number => reports.reduce((n, r) => n + f(r), 0);
    console.log(`      faults planned: ${Object.entries(faults).map(([k, n]) => `${k} ${n}`).join(", ")}`);
    console.log(
      `      emulator faults fired ${sum((r) => r.faultsInjected - r.faultsUnfired)} of ${sum((r) => r.faultsInjected)} (the rest sat on routes a run never reached); ` +
        `then ${sum((r) => r.done.read ?? 0)} reads, ${sum((r) => r.done.update ?? 0)} updates, ${sum((r) => r.done.delete ?? 0)} deletes succeeded`,
    );
    console.log(
      `      orphans ${orphans.length}, duplicates ${duplicates}, key leaks ${leaks.length + leakedIntoSerialized}, errors without advice ${badMessages.length}, ` +
        `creates past deadline+30s ${late.length}, expected creates that failed ${missed.length}; ` +
        `slowest create ${(slowest.createMs / 1000).toFixed(1)} s against a ${slowest.plan.readyTimeoutSeconds} s deadline (run ${slowest.index})`,
    );
    const detail = (r: RunReport): string =>
      `run ${r.index} [${r.plan.form}; ${r.plan.gpuTypeIds.join(", ")}; ${r.plan.cloud}; dc ${r.plan.dataCenterIds.join(",") || "any"}; faults: ${r.plan.faults.map((f) => f.label).join("; ") || "none"}]` +
      `${r.createError ? ` create failed: ${r.createError}` : ""}${r.notes.length ? ` notes: ${r.notes.join("; ")}` : ""}`;
    const why = (label: string, items: string[], runs: RunReport[]): string =>
      `${label} (seed ${SEED}):\n  ${items.slice(0, 5).join("\n  ")}\n  ${runs.slice(0, 5).map(detail).join("\n  ")}`;

    assert.deepEqual(orphans, [], why("orphaned pods", orphans, reports.filter((r) => r.orphans.length)));
    assert.equal(duplicates, 0, why("duplicate pods", [], reports.filter((r) => r.duplicates)));
    assert.deepEqual(leaks, [], why("API key leaked", leaks, []));
    assert.equal(leakedIntoSerialized, 0);
    assert.deepEqual(badMessages, [], why("errors without advice", badMessages, reports.filter((r) => r.badMessages.length)));
    assert.deepEqual(late.map((r) => r.index), [], why("creates past deadline + 30 s", [], late));
    assert.deepEqual(missed.map((r) => r.index), [], why("creates that should have succeeded", [], missed));
  });
});
