// The checks over a Serverless endpoint (runpod/jobChecksCli.ts and the check functions behind it) against
// the job API emulator with in-process workers that answer like the worker contract says.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { Progress, loadWorkflow, parseCheckOutput, type EndpointGenerateResult } from "../../checks";
import { JobClient } from "../../runpod";
import { runEndpointGenerateCheck } from "../../runpod/endpointGenerateCheck";
import { runEndpointHealthCheck } from "../../runpod/endpointHealthCheck";
import { parseEndpointInvocation } from "../../runpod/jobChecksCli";
import { scratchDir, writeDanceAssets, writeLoaderWorkflow } from "../checks/helpers";
import { writeMp4 } from "../emulators/mp4";
import { RunPodJobEmulator, type EmulatedEndpointSettings, type JobHandler } from "../emulators/runpodJobs";

const CLI = path.resolve(__dirname, "..", "..", "runpod", "jobChecksCli.js");
const ENDPOINT: EmulatedEndpointSettings = {
  id: "ep1", workersMin: 0, workersMax: 2, idleTimeoutSeconds: 5, executionTimeoutMs: 600_000, scalerType: "QUEUE_DELAY", scalerValue: 4, flashboot: false,
};
const COLD_MS = 120;
const SLOW_COLD_MS = 500;
const SMOKE_MP4 = writeMp4({ width: 256, height: 256, frames: 16 });

function videoOutput(bytes: Buffer): Record<string, unknown> {
  return { promptId: "p1", video: { filename: "smoke_00001.mp4", mimeType: "video/mp4", sizeBytes: bytes.length, base64: bytes.toString("base64") }, frames: 16, fps: 8 };
}

interface CliRun { code: number | null; stdout: string; stderr: string }
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, RUNPOD_PROVIDER_DELAY_SCALE: "0.05", ...env };
    if (!("RUNPOD_API_KEY" in env)) delete childEnv.RUNPOD_API_KEY;
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("endpoint checks over the job API (check:endpoint)", function () {
  let emu: RunPodJobEmulator;
  let handler: JobHandler;
  let lines: string[];
  let progress: Progress;
  const savedScale = process.env.RUNPOD_PROVIDER_DELAY_SCALE;

  before(() => {
    process.env.RUNPOD_PROVIDER_DELAY_SCALE = "0.05"; // polls every 100 ms instead of 2 s
  });
  after(() => {
    if (savedScale === undefined) delete process.env.RUNPOD_PROVIDER_DELAY_SCALE;
    else process.env.RUNPOD_PROVIDER_DELAY_SCALE = savedScale;
  });
  const startEmulator = (coldStartMs: number): Promise<RunPodJobEmulator> =>
    RunPodJobEmulator.start({
      endpoints: (id) => (id === "ep1" ? ENDPOINT : undefined),
      worker: { handler: (job, ctx) => handler(job, ctx) },
      timeScale: 0.01,
      coldStartMs,
    });
  beforeEach(async () => {
    handler = () => videoOutput(SMOKE_MP4);
    emu = await startEmulator(COLD_MS);
    lines = [];
    progress = new Progress(Date.now(), (line) => lines.push(line), 0);
  });
  afterEach(() => emu.close());

  const client = (): JobClient => new JobClient({ apiKey: emu.apiKey, endpointUrl: emu.jobApiUrl("ep1") });
  const generate = (timeoutSeconds = 10, workflow = loadWorkflow({ workflow: "smoke" }), outDir = scratchDir("endpoint")): Promise<EndpointGenerateResult> =>
    runEndpointGenerateCheck({ client: client(), timeoutSeconds, progress, workflow, outDir, seed: 7 });

  it("generate passes on a valid MP4 and reports the cold start (delayTime) and run time (executionTime)", async () => {
    // A cold start several polls long, so the queue is seen waiting even on a busy machine.
    await emu.close();
    emu = await startEmulator(SLOW_COLD_MS);
    let seen: Record<string, unknown> = {};
    handler = async (job, ctx) => {
      seen = job.input as Record<string, unknown>;
      ctx.progress("executing node 2 of 3");
      await new Promise((r) => setTimeout(r, 150));
      return videoOutput(SMOKE_MP4);
    };
    const verdict = await generate();
    assert.ok(verdict.ok, verdict.message);
    assert.equal(seen.workflow, "smoke");
    assert.equal(seen.seed, 7);
    assert.deepEqual(seen.inputs, []);
    assert.equal(verdict.jobStatus, "COMPLETED");
    assert.deepEqual([verdict.width, verdict.height, verdict.frames, verdict.fileBytes], [256, 256, 16, SMOKE_MP4.length]);
    assert.ok((verdict.coldStartSeconds ?? 0) >= (SLOW_COLD_MS - 5) / 1000, `coldStartSeconds ${verdict.coldStartSeconds}`);
    assert.ok((verdict.runSeconds ?? 0) >= 0.14, `runSeconds ${verdict.runSeconds}`);
    assert.ok(verdict.videoPath && fs.readFileSync(verdict.videoPath).equals(SMOKE_MP4));
    assert.ok(lines.some((l) => /IN_PROGRESS on worker w/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes("worker: executing node 2 of 3")), lines.join("\n"));
    assert.ok(lines.some((l) => /waiting in the endpoint's queue .*workers 1 initializing/.test(l)), lines.join("\n"));
  });

  it("sends a workflow file's prompt and its input files as base64, and reads a video from a URL", async () => {
    const dir = scratchDir("endpoint-file");
    const file = writeLoaderWorkflow(dir, "ref.png");
    fs.mkdirSync(path.join(dir, "assets"));
    fs.writeFileSync(path.join(dir, "assets", "ref.png"), Buffer.from("png bytes"));
    const server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "video/mp4" }).end(SMOKE_MP4));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    let seen: Record<string, unknown> = {};
    handler = (job) => {
      seen = job.input as Record<string, unknown>;
      return { promptId: "p2", video: { filename: "run.mp4", url: `http://127.0.0.1:${port}/run.mp4?X-Amz-Signature=secret` } };
    };
    try {
      const verdict = await generate(10, loadWorkflow({ workflow: file, expect: { width: 256, height: 256, frames: 16 } }));
      assert.ok(verdict.ok, verdict.message);
      assert.equal((seen.workflow as Record<string, { class_type: string }>)["1"]?.class_type, "LoadImage");
      assert.deepEqual(seen.inputs, [{ name: "ref.png", data: Buffer.from("png bytes").toString("base64") }]);
    } finally {
      server.close();
    }
  });

  it("a FAILED job's verdict carries the worker's (ComfyUI's) error text", async () => {
    const comfyError = "Prompt outputs failed validation: KSampler 3: Value not in list: sampler_name: 'nope' not in ['euler']";
    handler = () => ({ error: comfyError });
    const verdict = await generate();
    assert.equal(verdict.ok, false);
    assert.equal(verdict.jobStatus, "FAILED");
    assert.ok(verdict.message.includes(comfyError), verdict.message);

    handler = () => {
      throw new Error("CUDA out of memory. Tried to allocate 2.00 GiB");
    };
    const raised = await generate();
    assert.match(raised.message, /failed job .*: Error: CUDA out of memory\. Tried to allocate 2\.00 GiB$/);
  });

  it("fails a truncated MP4 and one of the wrong size, as the pod check words it", async () => {
    handler = () => videoOutput(SMOKE_MP4.subarray(0, SMOKE_MP4.length - 300));
    const truncated = await generate();
    assert.equal(truncated.ok, false);
    assert.match(truncated.message, /truncated\/corrupt/);
    handler = () => videoOutput(writeMp4({ width: 512, height: 512, frames: 16 }));
    const wrong = await generate();
    assert.match(wrong.message, /valid MP4 but it is 512x512, the workflow asked for 256x256/);
    handler = () => ({ promptId: "p", frames: 16 });
    assert.match((await generate()).message, /output is not the worker contract's/);
  });

  it("cancels the job at the deadline and says where it was", async () => {
    let aborted = false;
    handler = (_job, ctx) =>
      new Promise((resolve) => {
        ctx.progress("executing node 5 of 9");
        ctx.signal.addEventListener("abort", () => {
          aborted = true;
          resolve({});
        });
      });
    const verdict = await generate(0.6);
    assert.equal(verdict.ok, false);
    assert.match(verdict.message, /did not finish within 0\.6 s \(running on worker w\w+, last progress: executing node 5 of 9\); sent \/cancel \(job now CANCELLED\)/);
    assert.ok(emu.calls.some((c) => c.method === "POST" && c.path.startsWith("/v2/ep1/cancel/")));
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(aborted, "the worker was told to stop");
  });

  it("health passes with the endpoint's counts and fails at once on a refused key", async () => {
    const ok = await runEndpointHealthCheck({ client: client(), timeoutSeconds: 5, progress });
    assert.ok(ok.ok, ok.message);
    assert.deepEqual(ok.jobs, { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 });
    assert.equal(ok.workers?.idle, 0);
    const refused = await runEndpointHealthCheck({ client: new JobClient({ apiKey: "wrong", endpointUrl: emu.jobApiUrl("ep1") }), timeoutSeconds: 30, progress });
    assert.equal(refused.ok, false);
    assert.ok(refused.durationMs < 2000);
    assert.match(refused.message, /401/);
  });

  it("the CLI prints the verdict last on stdout, exits 0/1/2, and never prints the API key", async () => {
    const pass = await runCli(["generate", "--endpoint-url", emu.jobApiUrl("ep1"), "--out", scratchDir("endpoint-cli"), "--timeout", "20"], { RUNPOD_API_KEY: emu.apiKey });
    assert.equal(pass.code, 0, pass.stderr);
    const verdict = parseCheckOutput(pass.stdout);
    assert.ok(verdict.check === "endpointGenerate" && verdict.ok && verdict.coldStartSeconds !== null && verdict.runSeconds !== null, pass.stdout);
    assert.doesNotMatch(pass.stdout + pass.stderr, new RegExp(emu.apiKey));

    handler = () => ({ error: "KSampler 3: CUDA error: out of memory" });
    const failed = await runCli(["generate", "--endpoint-url", emu.jobApiUrl("ep1"), "--out", scratchDir("endpoint-cli")], { RUNPOD_API_KEY: emu.apiKey });
    assert.equal(failed.code, 1);
    assert.match(parseCheckOutput(failed.stdout).message, /KSampler 3: CUDA error: out of memory/);

    const usage = await runCli(["health", "--endpoint-url", emu.jobApiUrl("ep1")], {});
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /RUNPOD_API_KEY is not set/);
    assert.throws(() => parseEndpointInvocation(["health", "--endpoint-url", "https://api.runpod.io/v2"], { RUNPOD_API_KEY: "k" }), /job API, https:\/\/api\.runpod\.ai\/v2\/<endpointId>/);
    assert.throws(() => parseEndpointInvocation(["generate", "--endpoint-url", emu.jobApiUrl("ep1"), "--seed", "1.5"], { RUNPOD_API_KEY: "k" }), /--seed must be a whole number/);
  });

  it("sends a built-in workflow by name with its input files", async () => {
    const assets = scratchDir("endpoint-dance");
    writeDanceAssets(assets);
    let seen: Record<string, unknown> = {};
    handler = (job) => {
      seen = job.input as Record<string, unknown>;
      return videoOutput(writeMp4({ width: 512, height: 512, frames: 30 }));
    };
    const verdict = await generate(10, loadWorkflow({ workflow: "steadydancer", assetsDir: assets }));
    assert.ok(verdict.ok, verdict.message);
    assert.equal(seen.workflow, "steadydancer");
    assert.deepEqual((seen.inputs as Array<{ name: string }>).map((i) => i.name).sort(), ["steadydancer_drive.mp4", "steadydancer_ref.png"]);
  });
});
