// Executes one soak run against its own emulator and checks the invariants the user would notice:
// no pod left billing that no state holds, no second pod per create, the API key nowhere, every error
// saying what to do, and every create back within its deadline plus 30 s.
import { randomBytes } from "node:crypto";
import type { PodOutputs } from "../../../runpod";
import { RunPodEmulator } from "../../emulators/runpod";
import type { PodProvider } from "../serializedProvider";
import type { RunPlan } from "./plan";

/** Phrases of advice; an error message must contain one. */
export const ADVICE =
  /pulumi (up|destroy|refresh)|retry|run .{0,40}again|set runpod|set --secret|check |add |raise |fix |wait |use a key|upgrade|inspect|shorten|unset|look for|terminate it/i;

export interface RunReport {
  index: number;
  plan: RunPlan;
  created: boolean;
  createError?: string;
  orphans: string[];
  duplicates: number;
  keyLeaks: string[];
  badMessages: string[];
  errors: number;
  /** create duration minus its deadline (readyTimeoutSeconds), ms; negative is early. */
  createOverDeadlineMs: number;
  createMs: number;
  apiKey: string;
  notes: string[];
  /** Operations that succeeded, e.g. { read: 1, update: 2, delete: 2 }. */
  done: Record<string, number>;
  /** Emulator faults injected, and those that never fired (their route was not reached). */
  faultsInjected: number;
  faultsUnfired: number;
}

export interface RunSettings {
  loadProvider: (form: RunPlan["form"], apiKey: string, apiUrl: string) => Promise<PodProvider>;
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(error)) extra[key] = (error as unknown as Record<string, unknown>)[key];
  return `${error.message}\n${JSON.stringify(extra)}`;
}

export async function executeRun(plan: RunPlan, settings: RunSettings): Promise<RunReport> {
  const apiKey = `rp_soak_${plan.index}_${randomBytes(6).toString("hex")}`;
  const emulator = await RunPodEmulator.start({ apiKey, stock: plan.stock, timings: { provisionMs: 40, startMs: 60, runtimeNullMs: 0 } });
  const report: RunReport = {
    index: plan.index,
    plan,
    created: false,
    orphans: [],
    duplicates: 0,
    keyLeaks: [],
    badMessages: [],
    errors: 0,
    createOverDeadlineMs: Number.NEGATIVE_INFINITY,
    createMs: 0,
    apiKey,
    notes: [],
    done: {},
    faultsInjected: 0,
    faultsUnfired: 0,
  };
  const did = (op: string): void => {
    report.done[op] = (report.done[op] ?? 0) + 1;
  };
  const texts: string[] = [];
  const checkError = (what: string, error: unknown): void => {
    report.errors += 1;
    const message = error instanceof Error ? error.message : "";
    texts.push(errorText(error));
    if (!message.trim() || !ADVICE.test(message)) report.badMessages.push(`${what}: ${message || "(empty)"}`);
  };
  const live = (): string[] => emulator.livePods().map((p) => p.id);
  const orphansBeyond = (held: string[], when: string): void => {
    for (const id of live()) if (!held.includes(id)) report.orphans.push(`${id} (${when})`);
  };

  try {
    const pod = await settings.loadProvider(plan.form, apiKey, emulator.baseUrl);
    for (const f of plan.faults) {
      if (f.kind === "bootError") emulator.failNextBoot("ERROR");
      else if (f.kind === "slowStart") emulator.slowNextBoot(plan.readyTimeoutSeconds * 1000 + 1500);
      else if (f.spec) emulator.inject(f.spec);
    }
    report.faultsInjected = emulator.pendingFaults();
    const checked = await pod.check!({}, {
      name: `soak-${plan.index}-${randomBytes(3).toString("hex")}`,
      image: "ghcr.io/example/comfyui-steadydancer:1",
      gpuTypeIds: plan.gpuTypeIds,
      cloud: plan.cloud,
      dataCenterIds: plan.dataCenterIds,
      volumeGb: 20,
      ports: ["8188/http", "22/tcp"],
      readyTimeoutSeconds: plan.readyTimeoutSeconds,
    });
    if (checked.failures?.length) throw new Error(`soak inputs failed check: ${JSON.stringify(checked.failures)}`);
    const inputs = checked.inputs ?? {};

    // create
    let id: string | undefined;
    let outs: PodOutputs | undefined;
    const started = Date.now();
    try {
      const result = await pod.create(inputs);
      id = result.id;
      outs = result.outs;
      report.created = true;
      texts.push(JSON.stringify(result));
    } catch (error) {
      checkError("create", error);
      report.createError = error instanceof Error ? error.message.split("\n")[0] : String(error);
      const held = (error as { id?: unknown }).id;
      if (typeof held === "string" && held) {
        id = held; // partial-state error: Pulumi holds this pod
        outs = (error as { properties?: PodOutputs }).properties;
      }
    }
    report.createMs = Date.now() - started;
    report.createOverDeadlineMs = report.createMs - plan.readyTimeoutSeconds * 1000;
    report.duplicates = Math.max(0, emulator.allPods().length - 1);
    orphansBeyond(id ? [id] : [], report.created ? "after create" : "after a failed create");

    // read / update, then delete twice
    if (id && outs) {
      for (const op of report.created ? plan.operations : []) {
        try {
          if (op === "read") {
            const read = await pod.read!(id, outs);
            texts.push(JSON.stringify(read));
            if (read.id !== id) report.notes.push(`read lost pod ${id}`);
            if (read.props) outs = read.props;
            did("read");
          } else {
            const news = { ...inputs, image: `ghcr.io/example/comfyui-steadydancer:${randomBytes(2).toString("hex")}` };
            const updated = await pod.update!(id, outs, news);
            texts.push(JSON.stringify(updated));
            if (updated.outs) outs = updated.outs;
            did("update");
          }
        } catch (error) {
          checkError(op, error);
        }
        orphansBeyond([id], `after ${op}`);
      }
      for (const attempt of [1, 2]) {
        let deleted = false;
        // A failed delete leaves the pod in state; the user runs `pulumi destroy` again.
        for (let tries = 0; tries < 3 && !deleted; tries += 1) {
          try {
            await pod.delete!(id, outs);
            deleted = true;
          } catch (error) {
            checkError(`delete ${attempt}`, error);
          }
        }
        if (deleted) {
          did("delete");
          orphansBeyond([], `after delete ${attempt}`);
        }
        else report.notes.push(`delete ${attempt} kept failing`);
      }
    }
    // A hung request may still finish at the emulator: whatever it makes must not outlive the run.
    const settleMs = Math.max(0, ...plan.faults.map((f) => f.spec?.hangMs ?? 0));
    if (settleMs) await new Promise((resolve) => setTimeout(resolve, settleMs + 50));
    orphansBeyond([], "at the end");
    report.faultsUnfired = emulator.pendingFaults();
    for (const text of texts) if (text.includes(apiKey)) report.keyLeaks.push(text.slice(0, 200));
  } finally {
    await emulator.close();
  }
  report.orphans = [...new Set(report.orphans.map((o) => o.split(" ")[0]))].map((idOnly) => report.orphans.find((o) => o.startsWith(idOnly)) ?? idOnly);
  return report;
}
