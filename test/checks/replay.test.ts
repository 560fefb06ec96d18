// The checks client against the real ComfyUI's own answers, replayed byte for byte (test/emulators/comfyuiReplay.ts):
// the smoke generation with the captured websocket sequence and history, the model preflight reading the real
// object_info, and the two captured rejections. A change that would misread the real server fails here even
// when the emulator was changed the same way.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Progress, loadWorkflow, runGenerateCheck, type GenerateResult, type LoadedWorkflow } from "../../checks";
import { capturedWebsocket } from "../emulators/comfyui/capture";
import { ComfyReplay } from "../emulators/comfyuiReplay";
import { scratchDir, writeDanceAssets } from "./helpers";

describe("checks client against the replayed answers of a real ComfyUI 0.3.64", function () {
  this.timeout(15_000);
  let replay: ComfyReplay;
  let dir: string;
  let lines: string[];

  beforeEach(async () => {
    replay = await ComfyReplay.start();
    dir = scratchDir("replay");
    lines = [];
  });
  afterEach(async () => {
    await replay.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function generate(workflow: LoadedWorkflow): Promise<GenerateResult> {
    return runGenerateCheck({ url: replay.url, timeoutSeconds: 10, workflow, outDir: dir, pollIntervalMs: 50, progress: new Progress(Date.now(), (l) => lines.push(l)) });
  }

  function smoke(edit: (prompt: LoadedWorkflow["prompt"]) => void = () => undefined): LoadedWorkflow {
    const workflow = loadWorkflow({ workflow: "smoke" });
    edit(workflow.prompt);
    return workflow;
  }

  it("follows the captured run to its video: events, history, /view", async () => {
    const result = await generate(smoke());
    assert.ok(result.ok, result.message);
    assert.equal(result.promptId, capturedWebsocket().meta.prompt_id);
    assert.deepEqual([result.width, result.height, result.frames], [256, 256, 16]);
    assert.ok(result.executionMs !== null && result.queueMs !== null);
    assert.ok(lines.some((l) => l.includes("running node 1 (EmptyImage)")), lines.join("\n"));
    // It finished on the websocket's executing {node: null}, not by polling.
    assert.equal(replay.requests.filter((r) => r.path === "/api/queue").length, 0);
    assert.equal(replay.requests.filter((r) => r.path.startsWith("/api/history/")).length, 1);
  });

  it("reads the real object_info in the model preflight: CLIPVisionLoader lists no files there", async () => {
    const assets = path.join(dir, "assets");
    writeDanceAssets(assets);
    const result = await generate(loadWorkflow({ workflow: "steadydancer", assetsDir: assets }));
    assert.equal(result.ok, false);
    assert.match(result.message, /node 8 \(CLIPVisionLoader\) clip_name "clip_vision_h\.safetensors" is not installed \(installed for clip_name: nothing\)/);
    // Classes the real server lacks (the WanVideo nodes) are left to POST /prompt; nothing was queued.
    assert.ok(replay.requests.some((r) => r.path === "/api/object_info/WanVideoModelLoader"));
    assert.equal(replay.requests.filter((r) => r.method === "POST").length, 0);
  });

  it("gives the custom-node advice for the real unknown-class rejection (invalid_prompt)", async () => {
    const result = await generate(smoke((p) => {
      p["1"] = { class_type: "NoSuchNodeClass", inputs: {}, _meta: { title: "Frames" } };
    }));
    assert.equal(result.ok, false);
    assert.equal(
      result.message,
      "ComfyUI rejected the workflow: node 1 (\"Frames\") uses the node class NoSuchNodeClass, which is not installed: the custom node " +
        "that provides it is missing from the image or failed to import (look for 'IMPORT FAILED' in the ComfyUI log).",
    );
  });

  it("names the node, input and limit for the real out-of-range rejection", async () => {
    const result = await generate(smoke((p) => {
      if (p["1"]) p["1"].inputs.width = 0;
    }));
    assert.equal(result.ok, false);
    assert.match(result.message, /rejected the workflow \(prompt_outputs_failed_validation\): Prompt outputs failed validation\. node 1 \(EmptyImage\): Value 0 smaller than min of 1: width\.$/);
    assert.doesNotMatch(result.message, /\.:/);
  });
});
