// The generate check asks ComfyUI which model files its loaders can load before it queues the dance workflow:
// a pod that runs fp16 (fp8 → fp16 fallback) or a GGUF variant still passes, a missing file fails before
// anything is uploaded or queued, and a loader class ComfyUI does not know is left to POST /prompt.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Progress, loadWorkflow, runGenerateCheck, type GenerateResult, type LoadedWorkflow } from "../../checks";
import { ComfyUIEmulator, modelsOfVariant, type ComfyEmulatorOptions, type RecordedRequest } from "../emulators/comfyui";
import { runCli, scratchDir, verdictOf, writeDanceAssets } from "./helpers";

const FP8 = "WanVideo/SteadyDancer/Wan21_SteadyDancer_fp8_e4m3fn_scaled_KJ.safetensors";
const FP16 = "WanVideo/SteadyDancer/Wan21_I2V_SteadyDancer_fp16.safetensors";
const Q8 = "WanVideo/SteadyDancer/Wan21_I2V_SteadyDancer_fp16-Q8_0_fix_5d_tensor.gguf";
const VAE = "wanvideo/Wan2_1_VAE_bf16.safetensors";
const Q4 = "WanVideo/SteadyDancer/Wan21_I2V_SteadyDancer_fp16-Q4_K_M_fix_5d_tensor.gguf";
/** A pod with a GGUF SteadyDancer file put in by hand instead of the fp8 one (the manifest offers no GGUF variant). */
const withGguf = (gguf: string): string[] =>
  [...modelsOfVariant("fp8").filter((f) => !f.includes(path.posix.basename(FP8))), `diffusion_models/${gguf}`];

const posts = (requests: RecordedRequest[], route: string): RecordedRequest[] =>
  requests.filter((r) => r.method === "POST" && r.path.replace(/^\/api/, "") === route);

/** The workflow ComfyUI received. */
function queuedPrompt(emu: ComfyUIEmulator): Record<string, { class_type: string; inputs: Record<string, unknown> }> {
  const body = posts(emu.requests, "/prompt")[0]?.body;
  assert.ok(body, "no POST /prompt");
  return (JSON.parse(body) as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> }).prompt;
}

describe("generate check: model files before queueing", function () {
  this.timeout(10_000);
  let emulator: ComfyUIEmulator | undefined;
  let dir: string;
  let assets: string;
  let lines: string[];

  async function start(options: ComfyEmulatorOptions = {}): Promise<ComfyUIEmulator> {
    emulator = await ComfyUIEmulator.start({ jobMs: 40, progressSteps: 2, historyDelayMs: 5, video: { width: 512, height: 512, frames: 30 }, ...options });
    return emulator;
  }

  function dance(edit?: (prompt: LoadedWorkflow["prompt"]) => void): LoadedWorkflow {
    const workflow = loadWorkflow({ workflow: "steadydancer", assetsDir: assets });
    edit?.(workflow.prompt);
    return workflow;
  }

  function run(emu: ComfyUIEmulator, workflow: LoadedWorkflow = dance()): Promise<GenerateResult> {
    return runGenerateCheck({
      url: emu.url, timeoutSeconds: 8, workflow, outDir: dir, pollIntervalMs: 50,
      progress: new Progress(Date.now(), (line) => lines.push(line)),
    });
  }

  beforeEach(() => {
    dir = scratchDir("preflight");
    assets = path.join(dir, "assets");
    writeDanceAssets(assets);
    lines = [];
  });

  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("leaves the workflow alone when the fp8 files it names are installed", async () => {
    const emu = await start();
    const result = await run(emu);
    assert.ok(result.ok, result.message);
    assert.equal(queuedPrompt(emu)["16"]?.inputs.model, FP8);
    assert.ok(lines.some((l) => /model files: all 7 the workflow names are installed/.test(l)), lines.join("\n"));
    assert.ok(emu.requests.some((r) => r.path === "/api/object_info/WanVideoModelLoader"));
  });

  it("uses the fp16 model on a pod that fell back from fp8, says so on stderr, and produces the video", async () => {
    const emu = await start({ installedModels: modelsOfVariant("fp16") });
    const run = await runCli(["generate", "--url", emu.url, "--workflow", "steadydancer", "--assets", assets, "--out", dir]);
    assert.equal(run.code, 0, run.stderr);
    const verdict = verdictOf(run);
    assert.ok(verdict.check === "generate" && verdict.ok, verdict.message);
    assert.deepEqual([verdict.width, verdict.height, verdict.frames], [512, 512, 30]);
    assert.match(run.stderr, /node 16 \(WanVideoModelLoader\): the pod has Wan21_I2V_SteadyDancer_fp16\.safetensors, not the fp8 file the workflow names \(fp8 → fp16 fallback\?\): using it/);
    assert.equal(queuedPrompt(emu)["16"]?.inputs.model, FP16);
  });

  it("loads a GGUF variant through the same loader, with quantization disabled, reading the COMBO form of newer builds", async () => {
    const emu = await start({ installedModels: withGguf(Q8), comboForm: "COMBO" });
    const result = await run(emu, dance((p) => {
      if (p["16"]) p["16"].inputs.quantization = "fp8_e4m3fn_scaled";
    }));
    assert.ok(result.ok, result.message);
    const queued = queuedPrompt(emu)["16"]?.inputs;
    assert.deepEqual([queued?.model, queued?.quantization], [Q8, "disabled"]);
    assert.ok(
      lines.some((l) => /the pod has Wan21_I2V_SteadyDancer_fp16-Q8_0_fix_5d_tensor\.gguf, not the fp8 file the workflow names: using it; quantization fp8_e4m3fn_scaled → disabled/.test(l)),
      lines.join("\n"),
    );
  });

  it("fails before queueing when the GGUF file would need merged LoRAs the wrapper cannot do", async () => {
    const emu = await start({ installedModels: withGguf(Q4) });
    const result = await run(emu, dance((p) => {
      // The LoRA goes into the loader instead of WanVideoSetLoRAs, with merge_loras left at its default (true).
      if (p["16"] && p["17"] && p["20"]) {
        p["16"].inputs.lora = ["17", 0];
        delete p["17"].inputs.merge_loras;
        p["20"].inputs.model = ["16", 0];
      }
    }));
    assert.equal(result.ok, false);
    assert.match(result.message, /node 16 \(WanVideoModelLoader\) model ".*fp8.*" is not installed; the one SteadyDancer file installed, ".*Q4_K_M.*\.gguf", is GGUF, which this workflow cannot load as it stands: node 17 \(WanVideoLoraSelect\) merges its LoRA .*set merge_loras to false/);
    assert.equal(posts(emu.requests, "/prompt").length, 0);
  });

  it("fails before uploading or queueing when the VAE is missing, naming node, file, what is installed and the fix (exit 1)", async () => {
    const emu = await start({ installedModels: modelsOfVariant("fp8").filter((f) => !f.startsWith("vae/")) });
    const run = await runCli(["generate", "--url", emu.url, "--workflow", "steadydancer", "--assets", assets, "--out", dir]);
    assert.equal(run.code, 1, run.stderr);
    const verdict = verdictOf(run);
    assert.equal(verdict.ok, false);
    assert.equal(verdict.check === "generate" ? verdict.promptId : "?", null);
    assert.match(verdict.message, /The workflow names a model file ComfyUI does not have \(checked before queueing\): node 7 \(WanVideoVAELoader\) model_name "wanvideo\/Wan2_1_VAE_bf16\.safetensors" is not installed \(installed for model_name: nothing\)\./);
    assert.match(verdict.message, /STEADYDANCER_VARIANT .*pod's logs .*MODELS_DIR .*--workflow <file>/);
    assert.equal(posts(emu.requests, "/prompt").length, 0);
    assert.equal(posts(emu.requests, "/upload/image").length, 0);
  });

  it("lists what is installed for the input, without download sidecars, and refuses to guess between several SteadyDancer files", async () => {
    const installed = [...modelsOfVariant("fp16"), `diffusion_models/${Q8}`].filter((f) => !f.startsWith("detection/onnx/yolov10m.onnx"));
    const emu = await start({ installedModels: installed });
    const result = await run(emu);
    assert.equal(result.ok, false);
    assert.match(result.message, /The workflow names 2 model files/);
    assert.match(result.message, new RegExp(`node 16 \\(WanVideoModelLoader\\) model "${FP8}" is not installed, and several other SteadyDancer files are \\("${Q8}", "${FP16}"\\)`));
    assert.match(result.message, /node 4 \(OnnxDetectionModelLoader\) yolo_model "onnx\/yolov10m\.onnx" is not installed \(installed for yolo_model: "dwpose\/dw-ll_ucoco_384\.pth", "dwpose\/yolox_l_8x8_300e_coco\.pth", "onnx\/vitpose_h_wholebody_data\.bin", "onnx\/vitpose_h_wholebody_model\.onnx"\)/);
    assert.equal(posts(emu.requests, "/prompt").length, 0);
  });

  for (const [why, options] of [
    ["answers {} for it", {}],
    ["answers 404 for /object_info/{class}", { objectInfoPerClass: false }],
  ] as const) {
    it(`leaves a loader class ComfyUI does not know to POST /prompt's unknown-class rejection when it ${why}`, async () => {
      const emu = await start({ mode: "missingNode", missingClass: "WanVideoModelLoader", ...options });
      const result = await run(emu);
      assert.equal(result.ok, false);
      assert.match(result.message, /node 16 \(".*"\) uses the node class WanVideoModelLoader, which is not installed/);
      assert.equal(posts(emu.requests, "/prompt").length, 1);
    });
  }

  it("without object_info, says which nodes ComfyUI left out when it ran only the pose preview", async () => {
    const emu = await start({ installedModels: modelsOfVariant("fp16"), objectInfoPerClass: false });
    const result = await run(emu);
    assert.equal(result.ok, false);
    assert.match(result.message, /wrote no video output .*ComfyUI ran only the outputs that validated and left out invalid nodes: node 16 \(WanVideoModelLoader\): Value not in list: model: '.*fp8.*' not in \['WanVideo\/SteadyDancer\/Wan21_I2V_SteadyDancer_fp16\.safetensors'\]/);
  });

  it("makes no object_info request for the smoke workflow", async () => {
    const emu = await start();
    const result = await run(emu, loadWorkflow({ workflow: "smoke" }));
    assert.ok(result.ok, result.message);
    assert.equal(emu.requests.filter((r) => r.path.includes("object_info")).length, 0);
  });
});

describe("ComfyUI emulator: model files", () => {
  let emu: ComfyUIEmulator;
  const post = async (prompt: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${emu.url}/prompt`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ prompt }) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  afterEach(async () => emu.close());

  it("lists the installed files per loader input in object_info, like folder_paths", async () => {
    emu = await ComfyUIEmulator.start({ installedModels: [...withGguf(Q8), `diffusion_models/${FP16}`, "diffusion_models/notes.txt"] });
    const info = (await (await fetch(`${emu.url}/object_info/WanVideoModelLoader`)).json()) as Record<string, { input: { required: Record<string, unknown> } }>;
    // unet_gguf (.gguf) first, then diffusion_models (pt extensions only): no sidecars, no other files.
    assert.deepEqual(info.WanVideoModelLoader?.input.required.model, [[Q8, FP16], { tooltip: "These models are loaded from the 'ComfyUI/models/diffusion_models' -folder" }]);
    const onnx = (await (await fetch(`${emu.url}/object_info/OnnxDetectionModelLoader`)).json()) as Record<string, { input: { required: Record<string, [string[]]> } }>;
    assert.ok(onnx.OnnxDetectionModelLoader?.input.required.yolo_model?.[0].includes("onnx/yolov10m.onnx.sha256")); // detection has no extension filter
    assert.deepEqual(await (await fetch(`${emu.url}/object_info/NoSuchNode`)).json(), {});
  });

  it("rejects an uninstalled file with value_not_in_list, or queues only the outputs that do not need it", async () => {
    emu = await ComfyUIEmulator.start({ installedModels: [] });
    const vaeOnly = {
      "1": { class_type: "WanVideoVAELoader", inputs: { model_name: VAE, precision: "bf16" } },
      "2": { class_type: "WanVideoDecode", inputs: { vae: ["1", 0] } },
      "3": { class_type: "VHS_VideoCombine", inputs: { images: ["2", 0], frame_rate: 16, loop_count: 0, filename_prefix: "x", format: "video/h264-mp4", pingpong: false, save_output: true } },
    };
    const rejected = await post(vaeOnly);
    assert.equal(rejected.status, 400);
    assert.deepEqual(rejected.json, {
      error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details: "", extra_info: {} },
      node_errors: {
        "1": {
          errors: [{
            type: "value_not_in_list", message: "Value not in list", details: `model_name: '${VAE}' not in []`,
            extra_info: { input_name: "model_name", input_config: [[], { tooltip: "These models are loaded from 'ComfyUI/models/vae'" }], received_value: VAE },
          }],
          dependent_outputs: ["3"],
          class_type: "WanVideoVAELoader",
        },
      },
    });
    const withPreview = { ...vaeOnly, "4": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } }, "5": { class_type: "SaveImage", inputs: { images: ["4", 0], filename_prefix: "p" } } };
    const partial = await post(withPreview);
    assert.equal(partial.status, 200);
    assert.deepEqual(Object.keys(partial.json.node_errors as object), ["1"]);
  });
});
