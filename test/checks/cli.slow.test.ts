// Drives the compiled checks CLI (a separate node process, as DeploymentChecks runs it) against the
// ComfyUI emulator in each of its modes: exit code, verdict and a message a person can act on.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ComfyUIEmulator, type ComfyEmulatorOptions } from "../emulators/comfyui";
import { runCli, scratchDir, verdictOf, writeDanceAssets, writeLoaderWorkflow } from "./helpers";

describe("checks CLI against the ComfyUI emulator", function () {
  this.timeout(15_000);
  let emulator: ComfyUIEmulator | undefined;
  let out: string;

  async function start(options: ComfyEmulatorOptions = {}): Promise<ComfyUIEmulator> {
    emulator = await ComfyUIEmulator.start({ jobMs: 150, ...options });
    return emulator;
  }

  beforeEach(() => {
    out = scratchDir("out");
  });

  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    fs.rmSync(out, { recursive: true, force: true });
  });

  describe("health", () => {
    it("passes with ComfyUI, Python and torch versions and the GPU", async () => {
      const emu = await start();
      const run = await runCli(["health", "--url", emu.url]);
      assert.equal(run.code, 0, run.stderr);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "health" && verdict.ok);
      assert.equal(verdict.comfyuiVersion, "0.3.76");
      assert.equal(verdict.pythonVersion, "3.11.10");
      assert.equal(verdict.pytorchVersion, "2.5.1+cu124");
      assert.deepEqual(verdict.devices.map((d) => d.name), ["NVIDIA L40S"]);
      assert.match(verdict.message, /NVIDIA L40S/);
    });

    it("rides out a booting pod: connection refused, then 502 from the proxy, then up", async () => {
      // The 502 phase outlasts the CLI's own start-up (node takes most of a second on a busy machine).
      const emu = await start({ mode: "slowStart", refusedMs: 100, proxy502Ms: 1500 });
      const run = await runCli(["health", "--url", emu.url, "--timeout", "10"]);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(verdictOf(run).ok);
      assert.match(run.stderr, /still booting: 502 from proxy, \d+ s elapsed/);
      // Progress lines carry the elapsed time.
      assert.match(run.stderr, /^\[\s*\d+\.\d+s\] /m);
    });

    it("fails at its deadline naming the last state and what to look at", async () => {
      const emu = await start();
      const url = emu.url;
      await emu.close(); // nothing listens any more: connection refused
      emulator = undefined;
      const run = await runCli(["health", "--url", url, "--timeout", "0.4"]);
      assert.equal(run.code, 1);
      const verdict = verdictOf(run);
      assert.equal(verdict.ok, false);
      assert.match(verdict.message, /not healthy: no healthy answer within 0\.4 s \(last: connection refused/);
      assert.match(verdict.message, /pod's logs/);
      assert.ok(run.ms < 5_000, `took ${run.ms} ms`);
    });

    it("reads the 2024 build's system_stats (version 'unknown' → null)", async () => {
      const emu = await start({ build: "2024" });
      const verdict = verdictOf(await runCli(["health", "--url", emu.url]));
      assert.ok(verdict.check === "health" && verdict.ok);
      assert.equal(verdict.comfyuiVersion, null);
      assert.equal(verdict.devices.length, 1);
    });
  });

  describe("vram", () => {
    it("fails on a 16 GB GPU, naming it and the shortfall", async () => {
      const emu = await start({ mode: "lowVram" });
      const run = await runCli(["vram", "--url", emu.url, "--min-vram-gb", "24"]);
      assert.equal(run.code, 1);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "vram");
      assert.equal(verdict.gpu, "NVIDIA RTX A4000");
      assert.equal(verdict.vramTotalGb, 17.2);
      assert.match(verdict.message, /NVIDIA RTX A4000 has 17\.2 GB VRAM, the workflow needs 24 GB \(short by 6\.8 GB\): use a GPU with at least 24 GB of VRAM\./);
      // checks/ knows ComfyUI, not where it is deployed or how the stack is configured.
      assert.doesNotMatch(verdict.message, /runpod|gpuTypes/i);
    });

    it("passes on a 48 GB GPU", async () => {
      const emu = await start();
      const run = await runCli(["vram", "--url", emu.url]);
      assert.equal(run.code, 0);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "vram" && verdict.ok);
      assert.equal(verdict.minVramGb, 24);
      assert.equal(verdict.gpu, "NVIDIA L40S");
    });

    it("ends with a verdict when ComfyUI accepts connections but never answers", async () => {
      const emu = await start({ hang: true });
      const run = await runCli(["vram", "--url", emu.url, "--timeout", "0.4"]);
      assert.equal(run.code, 1);
      assert.equal(verdictOf(run).ok, false);
      assert.ok(run.ms < 5_000, `took ${run.ms} ms`);
    });
  });

  describe("generate", () => {
    it("runs the smoke workflow and validates and saves a 256x256, 16-frame MP4", async () => {
      const emu = await start();
      const run = await runCli(["generate", "--url", emu.url, "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "generate" && verdict.ok, verdict.message);
      assert.equal(verdict.workflow, "smoke");
      assert.deepEqual([verdict.width, verdict.height, verdict.frames], [256, 256, 16]);
      assert.ok(verdict.promptId && verdict.queueMs !== null && verdict.executionMs !== null);
      assert.ok(verdict.executionMs >= 100, `executionMs ${verdict.executionMs}`);
      const videoPath = verdict.videoPath ?? "";
      assert.ok(videoPath.startsWith(out), videoPath);
      assert.equal(fs.statSync(videoPath).size, verdict.fileBytes);
      assert.deepEqual(fs.readFileSync(videoPath), emu.fileBytes("output", "smoke", "smoke_00001.mp4"));
      assert.match(run.stderr, /queued as prompt/);
      // The last stdout line is the only thing on stdout.
      assert.equal(run.stdout.trim().split("\n").length, 1);
    });

    it("runs the SteadyDancer workflow, uploading its reference image and driving video", async () => {
      const emu = await start({ video: { width: 512, height: 512, frames: 30 } });
      const assets = scratchDir("assets");
      writeDanceAssets(assets);
      const run = await runCli(["generate", "--url", emu.url, "--workflow", "steadydancer", "--assets", assets, "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "generate" && verdict.ok, verdict.message);
      assert.deepEqual([verdict.width, verdict.height, verdict.frames], [512, 512, 30]);
      assert.deepEqual(emu.inputFiles().sort(), ["example.png", "steadydancer_drive.mp4", "steadydancer_ref.png"]); // example.png ships with ComfyUI
      // The pose preview is a temp output; only the dance video was judged and saved.
      assert.match(verdict.videoPath ?? "", /steadydancer-/);
      fs.rmSync(assets, { recursive: true, force: true });
    });

    for (const unknownNodeError of ["invalid_prompt", "missing_node_type"] as const) {
      it(`names the custom node class that is not installed (HTTP 400 ${unknownNodeError})`, async () => {
        const emu = await start({ mode: "missingNode", missingClass: "VHS_VideoCombine", unknownNodeError });
        const run = await runCli(["generate", "--url", emu.url, "--out", out]);
        assert.equal(run.code, 1);
        const verdict = verdictOf(run);
        assert.equal(verdict.ok, false);
        assert.match(verdict.message, /^ComfyUI rejected the workflow: node 2 \("Write smoke\/smoke_\*\.mp4"\) uses the node class VHS_VideoCombine, which is not installed/);
        assert.match(verdict.message, /IMPORT FAILED/);
      });
    }

    it("refuses a workflow that asks for a zero-width video before anything runs", async () => {
      const emu = await start();
      const dir = scratchDir("zero");
      const smoke = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "..", "docker", "workflows", "smoke.json"), "utf8")) as Record<string, { inputs: Record<string, unknown> }>;
      if (smoke["1"]) smoke["1"].inputs.width = 0;
      fs.writeFileSync(path.join(dir, "zero.json"), JSON.stringify(smoke));
      const run = await runCli(["generate", "--url", emu.url, "--workflow", path.join(dir, "zero.json"), "--out", out]);
      assert.equal(run.code, 1);
      const verdict = verdictOf(run);
      assert.match(verdict.message, /\(prompt_outputs_failed_validation\): .*node 1 \(EmptyImage\): Value 0 smaller than min of 1: width\./);
      assert.ok(!emu.events.some((e) => e.type === "execution_start"), "the job ran");
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("reports an out-of-memory error with the node and what to change", async () => {
      const emu = await start({ mode: "oom" });
      const run = await runCli(["generate", "--url", emu.url, "--out", out]);
      assert.equal(run.code, 1);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "generate" && !verdict.ok);
      assert.match(verdict.message, /ran out of GPU memory in node 2 \(VHS_VideoCombine\): torch\.OutOfMemoryError/);
      assert.match(verdict.message, /Use a GPU with more VRAM, use the fp8 model variant, or swap more blocks to the CPU/);
      assert.doesNotMatch(verdict.message, /runpod|gpuTypes/i);
      assert.ok(verdict.promptId);
    });

    it("passes a job that ends just before --timeout although the download runs past it", async () => {
      const emu = await start({ viewMs: 700 });
      const run = await runCli(["generate", "--url", emu.url, "--timeout", "0.6", "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "generate" && verdict.ok, verdict.message);
      assert.ok(verdict.durationMs > 600, `durationMs ${verdict.durationMs}: the download did not outlast --timeout`);
      assert.deepEqual(fs.readFileSync(verdict.videoPath ?? ""), emu.fileBytes("output", "smoke", "smoke_00001.mp4"));
    });

    it("interrupts a job that never finishes at the deadline", async () => {
      const emu = await start({ mode: "neverFinishes" });
      const run = await runCli(["generate", "--url", emu.url, "--timeout", "1", "--out", out]);
      assert.equal(run.code, 1);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "generate" && !verdict.ok);
      assert.match(verdict.message, /did not finish within 1 s \(last activity: node 2 \(VHS_VideoCombine\) at \d+ %\); sent POST \/interrupt/);
      const interrupt = emu.requests.find((r) => r.method === "POST" && r.path === "/api/interrupt");
      assert.deepEqual(JSON.parse(interrupt?.body ?? "{}"), { prompt_id: verdict.promptId });
      // ComfyUI really stopped it: execution_interrupted for our prompt.
      await new Promise((r) => setTimeout(r, 150));
      assert.ok(emu.events.some((e) => e.type === "execution_interrupted" && (e.data as { prompt_id?: string }).prompt_id === verdict.promptId));
      assert.ok(run.ms < 6_000, `took ${run.ms} ms`);
    });

    it("on SIGTERM interrupts its job and still prints a verdict", async () => {
      const emu = await start({ mode: "neverFinishes" });
      // Once the job is sampling (the CLI has registered its handlers long before).
      const run = await runCli(["generate", "--url", emu.url, "--out", out], {}, () => emu.events.some((e) => e.type === "progress"));
      assert.equal(run.code, 1);
      const verdict = verdictOf(run);
      assert.match(verdict.message, /^The check was cancelled \(last activity: node 2 .*sent POST \/interrupt/);
      assert.match(run.stderr, /SIGTERM received/);
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(emu.events.some((e) => e.type === "execution_interrupted"));
    });

    it("fails when ComfyUI dies mid-job and comes back without the job", async () => {
      const emu = await start({ mode: "dies", restartDownMs: 200 });
      const run = await runCli(["generate", "--url", emu.url, "--timeout", "10", "--out", out]);
      assert.equal(run.code, 1);
      const verdict = verdictOf(run);
      assert.match(verdict.message, /ComfyUI lost the job: .*the process probably restarted \(OOM kill\?\)/);
      assert.match(run.stderr, /websocket dropped/);
    });

    it("fails on a truncated video and still saves it for inspection", async () => {
      const emu = await start({ mode: "truncatedVideo" });
      const run = await runCli(["generate", "--url", emu.url, "--out", out]);
      assert.equal(run.code, 1);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "generate" && !verdict.ok);
      assert.match(verdict.message, /^The video is truncated\/corrupt: /);
      assert.ok(verdict.videoPath && fs.existsSync(verdict.videoPath));
    });

    it("fails when the video does not have the frames asked for", async () => {
      const emu = await start();
      const run = await runCli(["generate", "--url", emu.url, "--frames", "24", "--out", out]);
      assert.equal(run.code, 1);
      assert.match(verdictOf(run).message, /valid MP4 but it has 16 frames, the workflow asked for 24/);
    });

    it("runs a workflow file, uploading its inputs from --assets", async () => {
      const emu = await start({ video: { width: 320, height: 240, frames: 12 } });
      const dir = scratchDir("wf");
      const workflow = writeLoaderWorkflow(dir);
      fs.mkdirSync(path.join(dir, "assets"));
      fs.writeFileSync(path.join(dir, "assets", "ref.png"), "png");
      const run = await runCli(["generate", "--url", emu.url, "--workflow", workflow, "--width", "320", "--height", "240", "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      const verdict = verdictOf(run);
      assert.ok(verdict.check === "generate");
      assert.equal(verdict.workflow, workflow);
      assert.deepEqual([verdict.width, verdict.height, verdict.frames], [320, 240, 12]);
      assert.deepEqual(emu.inputFiles().sort(), ["example.png", "ref.png"]);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  describe("auth header", () => {
    const secret = "Bearer s3cr3t-token-value";

    it("sends COMFYUI_AUTH_HEADER on every request and the websocket upgrade, and never prints it", async () => {
      const emu = await start({ requiredHeader: { name: "Authorization", value: secret } });
      const env = { COMFYUI_AUTH_HEADER: `Authorization: ${secret}` };
      const runs = await Promise.all([
        runCli(["health", "--url", emu.url], env),
        runCli(["vram", "--url", emu.url], env),
        runCli(["generate", "--url", emu.url, "--out", out], env),
      ]);
      for (const run of runs) {
        assert.equal(run.code, 0, run.stderr);
        assert.ok(!run.stdout.includes("s3cr3t") && !run.stderr.includes("s3cr3t"));
      }
      assert.ok(emu.requests.some((r) => r.path === "/ws"), "the websocket was opened");
      for (const request of emu.requests) assert.equal(request.headers.authorization, secret, `${request.method} ${request.path}`);
    });

    it("fails fast without it, saying which variable to set", async () => {
      const emu = await start({ requiredHeader: { name: "Authorization", value: secret } });
      const run = await runCli(["health", "--url", emu.url, "--timeout", "30"]);
      assert.equal(run.code, 1);
      assert.match(verdictOf(run).message, /refused .*401.*COMFYUI_AUTH_HEADER/);
      assert.ok(run.ms < 5_000);
    });
  });

  describe("usage errors", () => {
    it("exit 2 with the usage on stderr and nothing on stdout", async () => {
      const runs = await Promise.all([
        runCli(["speed", "--url", "http://127.0.0.1:1"]),
        runCli(["health", "--url", "ftp://example.com"]),
        runCli(["health", "--url", "http://127.0.0.1:1"], { COMFYUI_AUTH_HEADER: "justatoken-s3cr3t" }),
      ]);
      for (const run of runs) {
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, /usage: checks\/cli\.ts/);
        assert.equal(run.stdout, "");
      }
      assert.match(runs[0]?.stderr ?? "", /unknown check "speed"/);
      assert.match(runs[1]?.stderr ?? "", /http or https/);
      assert.match(runs[2]?.stderr ?? "", /COMFYUI_AUTH_HEADER must look like 'Name: value'/);
      assert.ok(!runs[2]?.stderr.includes("s3cr3t"));
    });

    it("names a missing input file and where it looked", async () => {
      const dir = scratchDir("usage");
      const workflow = writeLoaderWorkflow(dir, "missing.png");
      const run = await runCli(["generate", "--url", "http://127.0.0.1:1", "--workflow", workflow]);
      assert.equal(run.code, 2);
      assert.ok(run.stderr.includes(`missing input file(s) missing.png (node 1 LoadImage.image): looked in ${path.join(dir, "assets")}`), run.stderr);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
});
