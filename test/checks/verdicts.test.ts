// The decisions behind the verdicts, without a server: VRAM judgement, which outputs count as the
// video, how ComfyUI's errors read, the MP4 validator, and the CLI's argument checks.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { checkCliArgs, inspectMp4, judgeVram, parseAuthHeader, videoOutputs, type Device } from "../../checks";
import { historyEntrySchema } from "../../checks/comfyApi";
import { parseInvocation } from "../../checks/cli";
import { describeExecutionError, describeRejection } from "../../checks/failureText";
import { writeMp4 } from "../emulators/mp4";
import { scratchDir, writeLoaderWorkflow } from "./helpers";

const gpu = (name: string, totalBytes: number, freeBytes = totalBytes * 0.98, index = 0): Device => ({
  name, type: "cuda", index, vramTotalBytes: totalBytes, vramFreeBytes: freeBytes,
});

describe("vram judgement", () => {
  it("accepts a 24 GB card that reports less usable memory (an L4: 22.03 GiB)", () => {
    const result = judgeVram("http://x", [gpu("NVIDIA L4", 23_653_580_800)], 24, 5);
    assert.ok(result.ok, result.message);
  });

  it("rejects the next size down (a 20 GB card)", () => {
    const result = judgeVram("http://x", [gpu("NVIDIA RTX 4000 Ada Generation", 21_466_447_872)], 24, 5);
    assert.equal(result.ok, false);
    assert.match(result.message, /NVIDIA RTX 4000 Ada Generation has 21\.5 GB VRAM, the workflow needs 24 GB \(short by 2\.5 GB\): use a GPU with at least 24 GB of VRAM\./);
  });

  it("fails when ComfyUI runs on CPU", () => {
    const cpu: Device = { name: "cpu", type: "cpu", index: null, vramTotalBytes: 270e9, vramFreeBytes: 250e9 };
    const result = judgeVram("http://x", [cpu], 24, 5);
    assert.equal(result.ok, false);
    assert.match(result.message, /no CUDA device \(cpu \(cpu\)\): it runs on CPU/);
    assert.equal(result.vramTotalGb, null);
  });

  it("judges the primary device and names the others", () => {
    const result = judgeVram("http://x", [gpu("NVIDIA A100 80GB PCIe", 85.1e9), gpu("NVIDIA RTX A4000", 17.2e9, 17e9, 1)], 48, 5);
    assert.ok(result.ok);
    assert.equal(result.gpu, "NVIDIA A100 80GB PCIe");
    assert.match(result.message, /2 CUDA devices: .*ComfyUI uses the first/);
  });

  it("passes with a note when models still occupy the memory", () => {
    const result = judgeVram("http://x", [gpu("NVIDIA L40S", 47.7e9, 5e9)], 24, 5);
    assert.ok(result.ok);
    assert.match(result.message, /Only 5\.0 GB is free right now/);
  });
});

describe("video outputs in a history entry", () => {
  it("takes VHS gifs and animated images of type output, in node order", () => {
    const entry = historyEntrySchema.parse({
      outputs: {
        "6": { gifs: [{ filename: "pose_00001.mp4", subfolder: "steadydancer", type: "temp", format: "video/h264-mp4" }] },
        "23": { gifs: [{ filename: "dance_00001.mp4", subfolder: "steadydancer", type: "output", format: "video/h264-mp4" }] },
        "9": { images: [{ filename: "still_00001_.png", subfolder: "", type: "output" }] },
        "12": { images: [{ filename: "clip_00001_.mp4", subfolder: "video", type: "output" }], animated: [true] },
        "7": { images: [{ filename: "preview.png", subfolder: "", type: "temp" }], animated: [false] },
      },
    });
    assert.deepEqual(videoOutputs(entry).map((r) => r.filename), ["clip_00001_.mp4", "dance_00001.mp4"]);
  });
});

describe("error texts", () => {
  it("reads the 2024 build's string error", () => {
    assert.equal(describeRejection({ error: "no prompt", node_errors: [] }), "ComfyUI rejected the workflow: no prompt.");
  });

  it("gives the custom-node advice for an unknown class in the pinned (invalid_prompt) and the newer (missing_node_type) form", () => {
    const advice = "uses the node class WanVideoSampler, which is not installed: the custom node that provides it is missing from the image or failed to import (look for 'IMPORT FAILED' in the ComfyUI log).";
    const pinned = { type: "invalid_prompt", message: "Cannot execute because node WanVideoSampler does not exist.", details: "Node ID '#20'", extra_info: {} };
    const workflow = { "20": { class_type: "WanVideoSampler", inputs: {}, _meta: { title: "Sample" } } };
    assert.equal(describeRejection({ error: pinned, node_errors: {} }, workflow), `ComfyUI rejected the workflow: node 20 ("Sample") ${advice}`);
    assert.equal(describeRejection({ error: pinned, node_errors: {} }), `ComfyUI rejected the workflow: node 20 ${advice}`);
    const newer = {
      type: "missing_node_type", message: "Node 'Sample' not found. The custom node may not be installed.", details: "Node ID '#20'",
      extra_info: { node_id: "20", class_type: "WanVideoSampler", node_title: "Sample" },
    };
    assert.equal(describeRejection({ error: newer, node_errors: {} }), `ComfyUI rejected the workflow: node 20 ("Sample") ${advice}`);
  });

  it("says a node without class_type makes the workflow unreadable, in both forms", () => {
    const forms = [
      { type: "invalid_prompt", message: "Cannot execute because a node is missing the class_type property.", details: "Node ID '#3'", extra_info: {} },
      { type: "missing_node_type", message: "Node 'ID #3' has no class_type. The workflow may be corrupted or a custom node is missing.", details: "Node ID '#3'", extra_info: { node_id: "3", class_type: null, node_title: null } },
    ];
    for (const error of forms) {
      assert.match(describeRejection({ error, node_errors: {} }), /^ComfyUI rejected the workflow: node 3 has no class_type, .*not in API format/);
    }
  });

  it("joins a message and its details without a stray '.:'", () => {
    const message = describeRejection({ error: { type: "invalid_prompt", message: "Cannot execute because of something.", details: "Node ID '#1'", extra_info: {} }, node_errors: {} });
    assert.equal(message, "ComfyUI rejected the workflow (invalid_prompt): Cannot execute because of something: Node ID '#1'.");
  });

  it("points at missing model files", () => {
    const message = describeRejection({
      error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation" },
      node_errors: {
        "16": {
          class_type: "WanVideoModelLoader",
          errors: [{ type: "value_not_in_list", message: "Value not in list", details: "model: 'WanVideo/x.safetensors' not in []" }],
        },
      },
    });
    assert.match(message, /node 16 \(WanVideoModelLoader\): Value not in list: model: 'WanVideo\/x\.safetensors' not in \[\]/);
    assert.match(message, /A model file the workflow names is not on the pod/);
  });

  it("tells an ordinary exception from an OOM", () => {
    const plain = describeExecutionError({ node_id: "5", node_type: "PoseDetectionOneToAllAnimation", exception_type: "RuntimeError", exception_message: "no person detected\nmore" });
    assert.equal(plain, "The job failed in node 5 (PoseDetectionOneToAllAnimation) with RuntimeError: no person detected. The ComfyUI log on the pod has the full traceback.");
    const oom = describeExecutionError({ node_id: "20", node_type: "WanVideoSampler", exception_type: "torch.cuda.OutOfMemoryError", exception_message: "CUDA out of memory. Tried to allocate 2.00 GiB" });
    assert.match(oom, /^ComfyUI ran out of GPU memory in node 20 \(WanVideoSampler\).*Use a GPU with more VRAM, use the fp8 model variant/);
    assert.doesNotMatch(oom, /runpod|gpuTypes/i);
  });
});

describe("MP4 validation", () => {
  for (const faststart of [false, true]) {
    const layout = faststart ? "moov first" : "moov last";
    it(`reads size and frame count (${layout})`, () => {
      const verdict = inspectMp4(writeMp4({ width: 256, height: 192, frames: 16, faststart }));
      assert.ok(verdict.ok);
      assert.deepEqual(verdict.info, { width: 256, height: 192, frames: 16, codec: "avc1.42c01e", durationSeconds: 2 });
    });

    it(`calls a file cut short truncated (${layout})`, () => {
      const full = writeMp4({ width: 256, height: 192, frames: 16, faststart });
      for (const length of [Math.floor(full.length / 2), full.length - 1]) {
        const verdict = inspectMp4(full.subarray(0, length));
        assert.ok(!verdict.ok && /the video is truncated\/corrupt/.test(verdict.reason), `${length}: ${JSON.stringify(verdict)}`);
      }
    });
  }

  it("rejects files that are not MP4s, and an MP4 without its movie header", () => {
    const png = inspectMp4(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    assert.ok(!png.ok && /truncated\/corrupt|not an MP4/.test(png.reason));
    const empty = inspectMp4(Buffer.alloc(0));
    assert.ok(!empty.ok && /empty/.test(empty.reason));
    const full = writeMp4({ width: 64, height: 64, frames: 2 });
    const moovAt = full.indexOf(Buffer.from("moov")) - 4;
    const noMoov = inspectMp4(full.subarray(0, moovAt));
    assert.ok(!noMoov.ok && /no 'moov' box/.test(noMoov.reason), JSON.stringify(noMoov));
  });

  it("refuses a video track with no width or no height", () => {
    for (const [width, height] of [[0, 256], [256, 0]] as const) {
      const verdict = inspectMp4(writeMp4({ width, height, frames: 4 }));
      assert.ok(!verdict.ok, `${width}x${height} accepted`);
      assert.equal(verdict.reason, `the MP4's video track is ${width}x${height}: a video needs a width and a height of at least 1 pixel`);
    }
  });
});

describe("CLI arguments", () => {
  it("applies the defaults of the contract", () => {
    const health = parseInvocation(["health", "--url", "https://comfy.example.com/"], {});
    assert.equal(health.url, "https://comfy.example.com");
    assert.equal(health.timeoutSeconds, 900);
    assert.equal(parseInvocation(["vram", "--url", "http://h:8188"], {}).timeoutSeconds, 60);
    const generate = parseInvocation(["generate", "--url", "http://h:8188"], {});
    assert.equal(generate.timeoutSeconds, 1800);
    assert.equal(generate.outDir, "checks-output");
    assert.equal(generate.workflow?.name, "smoke");
    assert.deepEqual(generate.workflow?.expect, { width: 256, height: 256, frames: 16 });
    assert.equal(parseInvocation(["vram", "--url", "http://h"], {}).minVramGb, 24);
  });

  it("reads COMFYUI_AUTH_HEADER and notes flags the check does not use", () => {
    const invocation = parseInvocation(["health", "--url", "http://h", "--min-vram-gb", "48"], { COMFYUI_AUTH_HEADER: "X-Api-Key:  abc def " });
    assert.deepEqual(invocation.auth, { name: "X-Api-Key", value: "abc def" });
    assert.deepEqual(invocation.ignoredFlags, ["--min-vram-gb"]);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ["no check", ["--url", "http://h"], /name a check/],
    ["a missing --url", ["health"], /--url is required/],
    ["a malformed URL", ["health", "--url", "not a url"], /--url must be an http\(s\) URL/],
    ["credentials in the URL", ["health", "--url", "http://u:p@h"], /must not carry credentials/],
    ["a bad --timeout", ["health", "--url", "http://h", "--timeout", "soon"], /--timeout must be a positive number/],
    ["a zero --min-vram-gb", ["vram", "--url", "http://h", "--min-vram-gb", "0"], /--min-vram-gb must be a positive number/],
    ["a fractional --frames", ["generate", "--url", "http://h", "--frames", "2.5"], /--frames must be a whole number/],
    ["an unknown flag", ["health", "--url", "http://h", "--fast"], /Unknown option '--fast'/],
    ["a second positional", ["health", "vram", "--url", "http://h"], /unexpected argument\(s\): vram/],
    ["an unreadable workflow", ["generate", "--url", "http://h", "--workflow", "/nonexistent/wf.json"], /cannot read workflow \/nonexistent\/wf\.json: no such file/],
  ];
  for (const [what, args, pattern] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseInvocation(args, {}), (error: Error) => error.name === "UsageError" && pattern.test(error.message));
    });
  }

  it("rejects a UI-format workflow and invalid JSON", () => {
    const dir = scratchDir("args");
    const ui = path.join(dir, "ui.json");
    fs.writeFileSync(ui, JSON.stringify({ nodes: [], links: [], version: 0.4 }));
    assert.throws(() => parseInvocation(["generate", "--url", "http://h", "--workflow", ui], {}), /UI format; export it/);
    const broken = path.join(dir, "broken.json");
    fs.writeFileSync(broken, "{");
    assert.throws(() => parseInvocation(["generate", "--url", "http://h", "--workflow", broken], {}), /is not valid JSON/);
    const loader = writeLoaderWorkflow(dir);
    assert.throws(() => parseInvocation(["generate", "--url", "http://h", "--workflow", loader, "--assets", dir], {}), /missing input file\(s\) ref\.png/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("never echoes a malformed auth header", () => {
    assert.throws(() => parseAuthHeader("Bearer-only-s3cret"), (error: Error) => !error.message.includes("s3cret"));
    assert.throws(() => parseAuthHeader("Bad Name: value"), /Name: value/);
  });

  it("builds command lines with only the flags a check reads", () => {
    const flags = { url: "https://comfy.example.com", timeoutSeconds: 120, minVramGb: 48, workflow: "steadydancer", out: "out" };
    assert.deepEqual(checkCliArgs("vram", flags), ["vram", "--url", flags.url, "--timeout", "120", "--min-vram-gb", "48"]);
    assert.deepEqual(checkCliArgs("generate", flags), ["generate", "--url", flags.url, "--timeout", "120", "--workflow", "steadydancer", "--out", "out"]);
    for (const check of ["health", "vram", "generate"] as const) {
      assert.doesNotThrow(() => parseInvocation(checkCliArgs(check, { ...flags, workflow: "smoke" }), {}));
    }
  });
});
