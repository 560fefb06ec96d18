// The generate check called as a library against the emulator: the paths the CLI tests do not reach
// (websocket drops, polling only, queueing, cancellation, validation errors, other output nodes).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Progress, loadWorkflow, runGenerateCheck, type GenerateOptions, type GenerateResult, type LoadedWorkflow } from "../../checks";
import { ComfyUIEmulator, type ComfyEmulatorOptions } from "../emulators/comfyui";
import { scratchDir } from "./helpers";

function workflowFile(dir: string, name: string, graph: unknown): LoadedWorkflow {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(graph));
  return loadWorkflow({ workflow: file });
}

describe("generate check (library)", function () {
  this.timeout(10_000);
  let emulator: ComfyUIEmulator | undefined;
  let dir: string;
  let lines: string[];

  async function start(options: ComfyEmulatorOptions = {}): Promise<ComfyUIEmulator> {
    emulator = await ComfyUIEmulator.start({ jobMs: 150, ...options });
    return emulator;
  }

  function run(emu: ComfyUIEmulator, extra: Partial<GenerateOptions> = {}): Promise<GenerateResult> {
    return runGenerateCheck({
      url: emu.url,
      timeoutSeconds: 8,
      workflow: loadWorkflow({ workflow: "smoke" }),
      outDir: dir,
      progress: new Progress(Date.now(), (line) => lines.push(line)),
      pollIntervalMs: 50,
      reconnectDelayMs: 100,
      ...extra,
    });
  }

  beforeEach(() => {
    dir = scratchDir("gen");
    lines = [];
  });

  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("skips the binary preview frames a sampler sends between its events", async () => {
    const emu = await start({ previews: true });
    const workflow = workflowFile(dir, "sampler", {
      "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 4, color: 0 } },
      "2": { class_type: "WanVideoSampler", inputs: { image: ["1", 0] } },
      "3": { class_type: "VHS_VideoCombine", inputs: { images: ["2", 0], frame_rate: 8, loop_count: 0, filename_prefix: "x/s", format: "video/h264-mp4", pingpong: false, save_output: true } },
    });
    const result = await run(emu, { workflow });
    assert.ok(result.ok, result.message);
    assert.deepEqual([result.width, result.height, result.frames], [64, 64, 4]);
    assert.ok(emu.binaryFramesSent >= 5, `${emu.binaryFramesSent} binary frames`);
  });

  it("finishes by polling /history and /queue when the websocket drops and cannot reconnect", async () => {
    const emu = await start({ jobMs: 400 });
    setTimeout(() => {
      emu.setOptions({ refuseWebsockets: true });
      emu.dropWebsockets();
    }, 150);
    const result = await run(emu);
    assert.ok(result.ok, result.message);
    assert.deepEqual([result.width, result.height, result.frames], [256, 256, 16]);
    assert.ok(lines.some((l) => /websocket dropped .*polling/.test(l)), lines.join("\n"));
    assert.ok(emu.requests.some((r) => r.path.startsWith("/api/history/")));
    assert.ok(emu.requests.some((r) => r.path === "/api/queue"));
  });

  it("goes back to the websocket when it can reconnect", async () => {
    const emu = await start({ jobMs: 600 });
    setTimeout(() => emu.dropWebsockets(), 150);
    const result = await run(emu);
    assert.ok(result.ok, result.message);
    assert.ok(lines.some((l) => l.includes("websocket reconnected")), lines.join("\n"));
    assert.equal(emu.requests.filter((r) => r.path === "/ws").length, 2);
  });

  it("works with polling only when the websocket is refused from the start, timing the job from ComfyUI's timestamps", async () => {
    const emu = await start({ refuseWebsockets: true });
    const result = await run(emu);
    assert.ok(result.ok, result.message);
    assert.ok(lines.some((l) => /websocket unavailable .*503/.test(l)), lines.join("\n"));
    assert.ok(result.executionMs !== null && result.executionMs >= 100, `executionMs ${result.executionMs}`);
  });

  it("reports the time a job waited behind another one", async () => {
    const emu = await start({ jobMs: 400 });
    const other = await fetch(`${emu.url}/prompt`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: loadWorkflow({ workflow: "smoke" }).prompt }),
    });
    assert.equal(other.status, 200);
    const result = await run(emu);
    assert.ok(result.ok, result.message);
    assert.ok(result.queueMs !== null && result.queueMs >= 100, `queueMs ${result.queueMs}`);
  });

  it("stops its job and says so when cancelled", async () => {
    const emu = await start({ mode: "neverFinishes" });
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 300);
    const result = await run(emu, { signal: cancel.signal });
    assert.equal(result.ok, false);
    assert.match(result.message, /The check was cancelled .*sent POST \/interrupt/);
  });

  it("shows validation errors per node (HTTP 400 prompt_outputs_failed_validation)", async () => {
    const emu = await start();
    const workflow = workflowFile(dir, "invalid", {
      "1": { class_type: "LoadImage", inputs: { image: "sub/not-uploaded.png" } },
      "2": { class_type: "VHS_VideoCombine", inputs: { images: ["1", 0], frame_rate: 8, loop_count: 0, filename_prefix: "x", format: "video/h264-mp4", pingpong: false, save_output: true } },
    });
    const result = await run(emu, { workflow });
    assert.equal(result.ok, false);
    assert.match(result.message, /rejected the workflow \(prompt_outputs_failed_validation\): Prompt outputs failed validation\. node 1 \(LoadImage\): Custom validation failed for node: image - Invalid image file: sub\/not-uploaded\.png/);
    assert.equal(result.promptId, null);
  });

  it("accepts core SaveVideo output (images flagged animated)", async () => {
    const emu = await start({ video: { width: 128, height: 96, frames: 9 } });
    const workflow = workflowFile(dir, "savevideo", {
      "1": { class_type: "EmptyImage", inputs: { width: 128, height: 96, batch_size: 9, color: 0 } },
      "2": { class_type: "CreateVideo", inputs: { images: ["1", 0], fps: 8 } },
      "3": { class_type: "SaveVideo", inputs: { video: ["2", 0], filename_prefix: "video/check", format: "mp4", codec: "h264" } },
    });
    const result = await run(emu, { workflow: { ...workflow, expect: { width: 128, height: 96, frames: 9 } } });
    assert.ok(result.ok, result.message);
    assert.deepEqual([result.width, result.height, result.frames], [128, 96, 9]);
  });

  it("fails when the workflow writes no video", async () => {
    const emu = await start();
    const workflow = workflowFile(dir, "images", {
      "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "still" } },
    });
    const result = await run(emu, { workflow });
    assert.equal(result.ok, false);
    assert.match(result.message, /wrote no video output \(outputs: node 2: still_00001_\.png \(output\)\)/);
  });

  it("works against the 2024 build", async () => {
    const emu = await start({ build: "2024" });
    const result = await run(emu);
    assert.ok(result.ok, result.message);
  });

  it("rides out the proxy while the pod boots before queueing", async () => {
    const emu = await start({ mode: "slowStart", refusedMs: 50, proxy502Ms: 150 });
    const result = await run(emu);
    assert.ok(result.ok, result.message);
    assert.ok(lines.some((l) => /waiting for ComfyUI to answer/.test(l)), lines.join("\n"));
  });

  it("keeps a video whose job ends just before the deadline although its download runs past it", async () => {
    const emu = await start({ jobMs: 100, viewMs: 600 });
    const began = Date.now();
    const result = await run(emu, { timeoutSeconds: 0.5 });
    assert.ok(result.ok, result.message);
    const doneAfterMs = (emu.doneAt(result.promptId ?? "") ?? Infinity) - began;
    assert.ok(doneAfterMs < 500, `the job was done ${doneAfterMs} ms after the check began, not before its deadline`);
    assert.ok(result.durationMs > 500, `durationMs ${result.durationMs}: the download did not outlast the deadline, so this proves nothing`);
    assert.deepEqual([result.width, result.height, result.frames], [256, 256, 16]);
  });

  it("counts a job that ended between the last poll and the deadline as done, and does not interrupt it", async () => {
    const emu = await start({ refuseWebsockets: true });
    const result = await run(emu, { timeoutSeconds: 0.5, pollIntervalMs: 5_000 });
    assert.ok(result.ok, result.message);
    assert.deepEqual([result.width, result.height, result.frames], [256, 256, 16]);
    assert.ok(!emu.requests.some((r) => r.path === "/api/interrupt"), "sent POST /interrupt for a finished job");
  });

  it("bounds the download of a finished job by its own budget, not the job's deadline", async () => {
    const emu = await start({ viewMs: 1_500 });
    const result = await run(emu, { timeoutSeconds: 8, collectTimeoutMs: 300 });
    assert.equal(result.ok, false);
    assert.match(result.message, /^The job finished, but downloading smoke\/smoke_00001\.mp4 through \/view did not complete within 0\.3 s: the link to ComfyUI .* is too slow or stalled/);
    assert.ok(result.durationMs < 1_500, `durationMs ${result.durationMs}`);
  });

  it("stops a download when cancelled and says the job had finished", async () => {
    const emu = await start({ viewMs: 3_000 });
    const cancel = new AbortController();
    const watcher = setInterval(() => {
      if (emu.requests.some((r) => r.path === "/api/view")) cancel.abort();
    }, 10);
    const result = await run(emu, { signal: cancel.signal }).finally(() => clearInterval(watcher));
    assert.equal(result.ok, false);
    assert.match(result.message, /^The check was cancelled while downloading smoke\/smoke_00001\.mp4 through \/view; the job itself had finished\.$/);
    assert.ok(result.durationMs < 2_000, `durationMs ${result.durationMs}`);
  });

  it("fails when the process dies and the proxy answers 502 until the deadline", async () => {
    const emu = await start({ mode: "dies", downAs: "502", restartDownMs: 60_000 });
    const result = await run(emu, { timeoutSeconds: 0.6 });
    assert.equal(result.ok, false);
    assert.match(result.message, /did not finish within 0\.6 s \(ComfyUI had stopped answering\)/);
    assert.ok(lines.some((l) => /ComfyUI is not answering \(502 from proxy\)/.test(l)), lines.join("\n"));
  });
});
