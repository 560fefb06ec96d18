// The job emulator with a REAL worker process: test/fixtures/runpod-worker/stub_handler.py on the runpod SDK
// (pinned; .ci/run installs it into .venv-test), started by the emulator with the environment a RunPod worker
// gets. It proves the worker protocol end to end: job-take, progress and results on job-done, pings, and the
// stop channel for a cancelled job. About 5-8 s on 2 busy cores (the SDK's own start-up is ~3 s of it).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Progress, loadWorkflow } from "../../checks";
import { JobClient } from "../../runpod";
import { runEndpointGenerateCheck } from "../../runpod/endpointGenerateCheck";
import { scratchDir } from "../checks/helpers";
import { writeMp4 } from "./mp4";
import { RunPodJobEmulator, type EmulatedEndpointSettings } from "./runpodJobs";
import { RUNPOD_SDK_PIN, sdkPython } from "../helpers/runpodSdk";

const ROOT = path.resolve(__dirname, "../../..");
const STUB = path.join(ROOT, "test", "fixtures", "runpod-worker", "stub_handler.py");
async function until<T>(what: string, look: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await look();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("RunPod job API emulator with a real runpod SDK worker process", function () {
  this.timeout(60_000);
  let emu: RunPodJobEmulator | undefined;

  before(function () {
    const python = sdkPython();
    if (!python) {
      const why = `no Python with ${RUNPOD_SDK_PIN} (.ci/run installs it into .venv-test; or set RUNPOD_SDK_PYTHON)`;
      if (process.env.CI) throw new Error(why);
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    const video = path.join(scratchDir("sdk-worker"), "stub.mp4");
    fs.writeFileSync(video, writeMp4({ width: 256, height: 256, frames: 16 }));
    const endpoint: EmulatedEndpointSettings = {
      id: "ep1", workersMin: 0, workersMax: 1, idleTimeoutSeconds: 600, executionTimeoutMs: 600_000, scalerType: "QUEUE_DELAY", scalerValue: 4, flashboot: false,
    };
    return RunPodJobEmulator.start({
      endpoints: (id) => (id === "ep1" ? endpoint : undefined),
      worker: { process: { command: python ?? "python3", args: [STUB], env: { STUB_VIDEO_FILE: video, STUB_RUN_SECONDS: "0.6" } } },
      coldStartMs: 50,
      holdMs: 500,
    }).then((started) => {
      emu = started;
    });
  });
  after(() => emu?.close());

  it("serves the SDK worker's job-take, progress, result, ping and stop requests", async () => {
    if (!emu) throw new Error("no emulator");
    const started = Date.now();
    const lines: string[] = [];
    const progress = new Progress(Date.now(), (l) => lines.push(l), 0);
    const client = new JobClient({ apiKey: emu.apiKey, endpointUrl: emu.jobApiUrl("ep1") });
    const savedScale = process.env.RUNPOD_PROVIDER_DELAY_SCALE;
    process.env.RUNPOD_PROVIDER_DELAY_SCALE = "0.05";
    try {
      const verdict = await runEndpointGenerateCheck({ client, timeoutSeconds: 40, progress, workflow: loadWorkflow({ workflow: "smoke" }), outDir: scratchDir("sdk-out"), seed: 3 });
      const worker = emu.workers("ep1")[0];
      assert.ok(verdict.ok, `${verdict.message}\n${lines.join("\n")}\n${worker ? emu.workerLog(worker.id).slice(-20).join("\n") : "no worker"}`);
      assert.ok(worker);
      assert.ok((verdict.coldStartSeconds ?? 0) > 0.05, "the SDK's start-up is part of the job's delayTime");
      assert.ok(lines.some((l) => l.includes(`worker: stub worker ${worker.id} got job`)), lines.join("\n"));
      await until("a ping", () => Promise.resolve(emu && emu.workerPings(worker.id) > 0 ? true : undefined), 5000);

      // A ComfyUI-style {error} return and a raise both fail the job, with the SDK's own shapes.
      const failed = await client.run({ stub: "fail" });
      const failedStatus = await until("FAILED", async () => {
        const s = await client.status(failed.id);
        return s.status === "FAILED" ? s : undefined;
      }, 10_000);
      assert.match(String(failedStatus.error), /Prompt outputs failed validation: KSampler 3/);

      // A cancelled job is stopped on the worker (job-stop channel): the one worker is then free for the next.
      const sleeper = await client.run({ stub: "sleep" });
      await until("IN_PROGRESS", async () => ((await client.status(sleeper.id)).status === "IN_PROGRESS" ? true : undefined), 10_000);
      assert.equal((await client.cancel(sleeper.id)).status, "CANCELLED");
      const raised = await client.run({ stub: "raise" });
      const raisedStatus = await until("the next job on the freed worker", async () => {
        const s = await client.status(raised.id);
        return s.status === "FAILED" ? s : undefined;
      }, 10_000);
      assert.equal((JSON.parse(String(raisedStatus.error)) as { error_message: string }).error_message, "the stub handler raised on purpose");
      assert.equal(raisedStatus.workerId, worker.id, "one warm worker ran every job");
      assert.equal(emu.workers("ep1").length, 1);
      console.log(`      real SDK worker: ${((Date.now() - started) / 1000).toFixed(1)} s for 4 jobs, cold start ${verdict.coldStartSeconds?.toFixed(1)} s`);
    } finally {
      if (savedScale === undefined) delete process.env.RUNPOD_PROVIDER_DELAY_SCALE;
      else process.env.RUNPOD_PROVIDER_DELAY_SCALE = savedScale;
    }
  });
});
