// docker/workflows/*.json: valid ComfyUI API format, every link resolves to an existing node output of the
// right type, no cycles, exactly one saved video; the smoke workflow needs no model files, and the dance
// workflow is 512x512 with exactly 30 output frames and only uses model files the manifest provides.
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { filesFor, loadModelManifest } from "../../models";

const ROOT = path.resolve(__dirname, "../../..");
const WORKFLOWS = path.join(ROOT, "docker", "workflows");

const link = z.tuple([z.string().regex(/^\d+$/, "node ids are numeric strings"), z.number().int().nonnegative()]);
const inputValue = z.union([link, z.string(), z.number(), z.boolean()]);
const apiWorkflowSchema = z
  .record(
    z.string().regex(/^\d+$/),
    z
      .object({
        class_type: z.string().min(1),
        inputs: z.record(z.string(), inputValue),
        _meta: z.object({ title: z.string().min(1) }).optional(),
      })
      .strict(),
  )
  .refine((w) => Object.keys(w).length > 0, "a workflow needs nodes");
type Workflow = z.infer<typeof apiWorkflowSchema>;
type WorkflowNode = Workflow[string];
type Link = z.infer<typeof link>;

const isLink = (v: unknown): v is Link => link.safeParse(v).success;

interface NodeSpec {
  /** Inputs the node cannot run without (ComfyUI answers `required_input_missing`, or the node raises). */
  required: string[];
  /** Types of the inputs that take links. */
  linked: Record<string, string>;
  /** Output types, by index. */
  outputs: string[];
}

// Input names and types as declared by the nodes at the commits the Dockerfile pins (read from the public
// sources: kijai/ComfyUI-WanVideoWrapper nodes.py, nodes_model_loading.py, nodes_sampler.py,
// steadydancer/nodes.py; kijai/ComfyUI-WanAnimatePreprocess nodes.py; kijai/ComfyUI-KJNodes image_nodes;
// Kosinkadink/ComfyUI-VideoHelperSuite nodes.py; ComfyUI core nodes).
const SPECS: Record<string, NodeSpec> = {
  EmptyImage: { required: ["width", "height", "batch_size", "color"], linked: {}, outputs: ["IMAGE"] },
  LoadImage: { required: ["image"], linked: {}, outputs: ["IMAGE", "MASK"] },
  CLIPVisionLoader: { required: ["clip_name"], linked: {}, outputs: ["CLIP_VISION"] },
  VHS_LoadVideo: {
    required: ["video", "force_rate", "custom_width", "custom_height", "frame_load_cap", "skip_first_frames", "select_every_nth"],
    linked: {},
    outputs: ["IMAGE", "INT", "AUDIO", "VHS_VIDEOINFO"],
  },
  VHS_VideoCombine: {
    // pix_fmt, crf, save_metadata and trim_to_audio are the widgets of the video/h264-mp4 format.
    required: ["images", "frame_rate", "loop_count", "filename_prefix", "format", "pingpong", "save_output", "pix_fmt", "crf", "save_metadata", "trim_to_audio"],
    linked: { images: "IMAGE" },
    outputs: ["VHS_FILENAMES"],
  },
  ImageResizeKJv2: {
    required: ["image", "width", "height", "upscale_method", "keep_proportion", "pad_color", "crop_position", "divisible_by"],
    linked: { image: "IMAGE" },
    outputs: ["IMAGE", "INT", "INT", "MASK"],
  },
  GetImageRangeFromBatch: { required: ["images", "start_index", "num_frames"], linked: { images: "IMAGE" }, outputs: ["IMAGE", "MASK"] },
  OnnxDetectionModelLoader: { required: ["vitpose_model", "yolo_model", "onnx_device"], linked: {}, outputs: ["POSEMODEL"] },
  PoseDetectionOneToAllAnimation: {
    // ref_image is declared optional but the node indexes it unconditionally.
    required: ["model", "images", "ref_image", "width", "height", "align_to", "draw_face_points", "draw_head"],
    linked: { model: "POSEMODEL", images: "IMAGE", ref_image: "IMAGE" },
    outputs: ["IMAGE", "IMAGE", "IMAGE", "MASK"],
  },
  // precision is optional in INPUT_TYPES but loadmodel() has no default for it.
  WanVideoVAELoader: { required: ["model_name", "precision"], linked: {}, outputs: ["WANVAE"] },
  WanVideoClipVisionEncode: {
    required: ["clip_vision", "image_1", "strength_1", "strength_2", "crop", "combine_embeds", "force_offload"],
    linked: { clip_vision: "CLIP_VISION", image_1: "IMAGE" },
    outputs: ["WANVIDIMAGE_CLIPEMBEDS"],
  },
  WanVideoImageToVideoEncode: {
    // vae is optional in INPUT_TYPES but the node raises without it; start_image makes it image-to-video.
    required: ["width", "height", "num_frames", "noise_aug_strength", "start_latent_strength", "end_latent_strength", "force_offload", "vae", "start_image"],
    linked: { vae: "WANVAE", clip_embeds: "WANVIDIMAGE_CLIPEMBEDS", start_image: "IMAGE" },
    outputs: ["WANVIDIMAGE_EMBEDS"],
  },
  WanVideoEncode: {
    required: ["vae", "image", "enable_vae_tiling", "tile_x", "tile_y", "tile_stride_x", "tile_stride_y"],
    linked: { vae: "WANVAE", image: "IMAGE" },
    outputs: ["LATENT"],
  },
  WanVideoAddSteadyDancerEmbeds: {
    required: ["embeds", "pose_latents_positive", "pose_strength_spatial", "pose_strength_temporal", "start_percent", "end_percent"],
    linked: { embeds: "WANVIDIMAGE_EMBEDS", pose_latents_positive: "LATENT", pose_latents_negative: "LATENT", clip_vision_embeds: "WANVIDIMAGE_CLIPEMBEDS" },
    outputs: ["WANVIDIMAGE_EMBEDS"],
  },
  WanVideoBlockSwap: { required: ["blocks_to_swap", "offload_img_emb", "offload_txt_emb"], linked: {}, outputs: ["BLOCKSWAPARGS"] },
  WanVideoModelLoader: {
    required: ["model", "base_precision", "quantization", "load_device"],
    linked: { block_swap_args: "BLOCKSWAPARGS", lora: "WANVIDLORA" },
    outputs: ["WANVIDEOMODEL"],
  },
  WanVideoLoraSelect: { required: ["lora", "strength"], linked: {}, outputs: ["WANVIDLORA"] },
  WanVideoSetLoRAs: { required: ["model"], linked: { model: "WANVIDEOMODEL", lora: "WANVIDLORA" }, outputs: ["WANVIDEOMODEL"] },
  WanVideoTextEncodeCached: {
    required: ["model_name", "precision", "positive_prompt", "negative_prompt", "quantization", "use_disk_cache", "device"],
    linked: {},
    outputs: ["WANVIDEOTEXTEMBEDS", "WANVIDEOTEXTEMBEDS", "STRING"],
  },
  WanVideoSampler: {
    required: ["model", "image_embeds", "steps", "cfg", "shift", "seed", "force_offload", "scheduler", "riflex_freq_index"],
    linked: { model: "WANVIDEOMODEL", image_embeds: "WANVIDIMAGE_EMBEDS", text_embeds: "WANVIDEOTEXTEMBEDS" },
    outputs: ["LATENT", "LATENT"],
  },
  WanVideoDecode: {
    required: ["vae", "samples", "enable_vae_tiling", "tile_x", "tile_y", "tile_stride_x", "tile_stride_y"],
    linked: { vae: "WANVAE", samples: "LATENT" },
    outputs: ["IMAGE"],
  },
};

/** Inputs naming a model file, and the folder under ComfyUI's models/ the node looks in. */
const MODEL_INPUTS: Record<string, Record<string, string>> = {
  WanVideoModelLoader: { model: "diffusion_models" },
  WanVideoVAELoader: { model_name: "vae" },
  WanVideoTextEncodeCached: { model_name: "text_encoders" },
  CLIPVisionLoader: { clip_name: "clip_vision" },
  WanVideoLoraSelect: { lora: "loras" },
  OnnxDetectionModelLoader: { vitpose_model: "detection", yolo_model: "detection" },
};
const MODEL_FILE = /\.(safetensors|gguf|onnx|pth|pt|ckpt|bin)$/;

function load(name: string): Workflow {
  return apiWorkflowSchema.parse(JSON.parse(readFileSync(path.join(WORKFLOWS, name), "utf8")));
}

/** Every problem with the graph's wiring: missing nodes, bad output indexes, type mismatches, missing inputs, cycles. */
function graphProblems(w: Workflow): string[] {
  const problems: string[] = [];
  for (const [id, node] of Object.entries(w)) {
    const spec = SPECS[node.class_type];
    if (!spec) {
      problems.push(`node ${id}: no spec for ${node.class_type} (add its inputs and outputs to SPECS)`);
      continue;
    }
    for (const name of spec.required) if (!(name in node.inputs)) problems.push(`node ${id} ${node.class_type}: required input ${name} missing`);
    for (const [name, value] of Object.entries(node.inputs)) {
      if (!isLink(value)) {
        if (name in spec.linked) problems.push(`node ${id} ${node.class_type}: ${name} must be linked to a ${spec.linked[name]} output`);
        continue;
      }
      const [from, index] = value;
      const source = w[from];
      if (!source) {
        problems.push(`node ${id}.${name} links to missing node ${from}`);
        continue;
      }
      const produced = SPECS[source.class_type]?.outputs[index];
      if (produced === undefined) problems.push(`node ${id}.${name} links to output ${index} of ${from} ${source.class_type}, which has no such output`);
      else if (spec.linked[name] !== produced) problems.push(`node ${id}.${name} expects ${spec.linked[name] ?? "no link"} but ${from}:${index} gives ${produced}`);
    }
  }
  // ComfyUI rejects cycles (dependency_cycle): check with a depth-first walk.
  const state = new Map<string, "visiting" | "done">();
  const visit = (id: string, trail: string[]): void => {
    if (state.get(id) === "done") return;
    if (state.get(id) === "visiting") {
      problems.push(`cycle: ${[...trail, id].join(" -> ")}`);
      return;
    }
    state.set(id, "visiting");
    for (const v of Object.values(w[id]?.inputs ?? {})) if (isLink(v) && w[v[0]]) visit(v[0], [...trail, id]);
    state.set(id, "done");
  };
  for (const id of Object.keys(w)) visit(id, []);
  return problems;
}

function savedOutputs(w: Workflow): [string, WorkflowNode][] {
  return Object.entries(w).filter(([, n]) => n.class_type === "VHS_VideoCombine" && n.inputs.save_output === true);
}

function linkedNode(w: Workflow, node: WorkflowNode, input: string): [string, WorkflowNode] {
  const v = node.inputs[input];
  assert.ok(isLink(v), `${node.class_type}.${input} is not linked`);
  const target = w[v[0]];
  assert.ok(target, `missing node ${v[0]}`);
  return [v[0], target];
}

/** Number of frames a node's first output carries, following the graph (only the node types used here). */
function framesOf(w: Workflow, id: string): number {
  const node = w[id];
  assert.ok(node, `missing node ${id}`);
  const num = (k: string) => {
    const v = node.inputs[k];
    assert.equal(typeof v, "number", `${node.class_type}.${k}`);
    return v as number;
  };
  switch (node.class_type) {
    case "EmptyImage":
      return num("batch_size");
    case "VHS_LoadVideo":
      return num("frame_load_cap");
    case "LoadImage":
      return 1;
    case "ImageResizeKJv2":
      return framesOf(w, linkedNode(w, node, "image")[0]);
    case "PoseDetectionOneToAllAnimation":
      return framesOf(w, linkedNode(w, node, "images")[0]);
    case "GetImageRangeFromBatch": {
      const available = framesOf(w, linkedNode(w, node, "images")[0]);
      const start = num("start_index");
      assert.ok(start >= 0 && start + num("num_frames") <= available, `range ${start}+${num("num_frames")} exceeds ${available} frames`);
      return num("num_frames");
    }
    case "WanVideoImageToVideoEncode": {
      const n = num("num_frames");
      assert.equal((n - 1) % 4, 0, `Wan generates 4n+1 frames; num_frames ${n} would be rounded down`);
      return n;
    }
    case "WanVideoAddSteadyDancerEmbeds":
      return framesOf(w, linkedNode(w, node, "embeds")[0]);
    case "WanVideoSampler":
      return framesOf(w, linkedNode(w, node, "image_embeds")[0]);
    case "WanVideoDecode":
      return framesOf(w, linkedNode(w, node, "samples")[0]);
    default:
      throw new Error(`framesOf: ${node.class_type} not modelled`);
  }
}

function modelReferences(w: Workflow): { node: string; folder: string; file: string }[] {
  return Object.entries(w).flatMap(([id, n]) =>
    Object.entries(MODEL_INPUTS[n.class_type] ?? {}).map(([input, folder]) => ({
      node: `${id} ${n.class_type}.${input}`,
      folder,
      file: String(n.inputs[input]),
    })),
  );
}

describe("docker/workflows", function () {
  for (const name of ["smoke.json", "steadydancer-dance.json"]) {
    describe(name, function () {
      it("is valid API format (zod) with links as [node id, output index >= 0]", function () {
        const parsed = apiWorkflowSchema.safeParse(JSON.parse(readFileSync(path.join(WORKFLOWS, name), "utf8")));
        assert.ok(parsed.success, parsed.success ? "" : z.prettifyError(parsed.error));
      });

      it("links only to existing node outputs of the right type, has every required input, no cycles", function () {
        assert.deepEqual(graphProblems(load(name)), []);
      });

      it("saves exactly one video: one VHS_VideoCombine with save_output true, as h264 mp4", function () {
        const saved = savedOutputs(load(name));
        assert.equal(saved.length, 1, `saved outputs: ${saved.map(([id]) => id).join(", ")}`);
        assert.equal(saved[0]?.[1].inputs.format, "video/h264-mp4");
      });
    });
  }

  describe("the graph checks catch broken workflows", function () {
    const dance = () => structuredClone(load("steadydancer-dance.json"));
    it("a link to a missing node, a wrong output index, a type mismatch, a missing input and a cycle", function () {
      const w = dance();
      const sampler = w["20"];
      const decode = w["21"];
      const embeds = w["14"];
      assert.ok(sampler && decode && embeds);
      sampler.inputs.text_embeds = ["99", 0];
      decode.inputs.samples = ["20", 5];
      embeds.inputs.pose_latents_positive = ["9", 0];
      delete sampler.inputs.scheduler;
      const problems = graphProblems(w).join("\n");
      assert.match(problems, /20\.text_embeds links to missing node 99/);
      assert.match(problems, /21\.samples links to output 5 of 20 WanVideoSampler/);
      assert.match(problems, /14\.pose_latents_positive expects LATENT but 9:0 gives WANVIDIMAGE_CLIPEMBEDS/);
      assert.match(problems, /20 WanVideoSampler: required input scheduler missing/);

      const loop = dance();
      const first = loop["2"];
      assert.ok(first);
      first.inputs.image = ["22", 0];
      assert.match(graphProblems(loop).join("\n"), /cycle: /);
    });

    it("a negative output index is not API format", function () {
      const w = dance() as Record<string, { inputs: Record<string, unknown> }>;
      const node = w["21"];
      assert.ok(node);
      node.inputs.samples = ["20", -1];
      assert.equal(apiWorkflowSchema.safeParse(w).success, false);
    });
  });

  describe("smoke.json", function () {
    it("needs no model files and no uploads", function () {
      const w = load("smoke.json");
      assert.deepEqual(modelReferences(w), []);
      for (const [id, n] of Object.entries(w)) {
        assert.ok(!["LoadImage", "VHS_LoadVideo"].includes(n.class_type), `node ${id} needs an upload`);
        for (const v of Object.values(n.inputs)) if (typeof v === "string") assert.doesNotMatch(v, MODEL_FILE, `node ${id} names a model file`);
      }
    });

    it("keeps what other code relies on: 256x256, 16 frames, prefix smoke/smoke", function () {
      const w = load("smoke.json");
      const image = w["1"];
      assert.equal(image?.class_type, "EmptyImage");
      assert.equal(image.inputs.width, 256);
      assert.equal(image.inputs.height, 256);
      const [id, saved] = savedOutputs(w)[0] ?? [];
      assert.equal(id, "2");
      assert.equal(saved?.inputs.filename_prefix, "smoke/smoke");
      assert.equal(framesOf(w, linkedNode(w, saved, "images")[0]), 16);
    });
  });

  describe("steadydancer-dance.json", function () {
    const w = load("steadydancer-dance.json");
    const byClass = (c: string) => Object.entries(w).filter(([, n]) => n.class_type === c);

    it("writes exactly 30 frames to steadydancer/dance (33 generated, Wan's next 4n+1, then trimmed)", function () {
      const [, saved] = savedOutputs(w)[0] ?? [];
      assert.ok(saved);
      assert.equal(saved.inputs.filename_prefix, "steadydancer/dance");
      assert.equal(framesOf(w, linkedNode(w, saved, "images")[0]), 30);
      const [, i2v] = byClass("WanVideoImageToVideoEncode")[0] ?? [];
      assert.equal(i2v?.inputs.num_frames, 33);
      const [, video] = byClass("VHS_LoadVideo")[0] ?? [];
      assert.equal(video?.inputs.frame_load_cap, 33, "pose frames and generated frames must match");
    });

    it("renders at 512x512 everywhere a size is set", function () {
      const sizes = Object.entries(w).flatMap(([id, n]) =>
        ["width", "height", "custom_width", "custom_height"].filter((k) => k in n.inputs).map((k) => [`${id}.${k}`, n.inputs[k]] as const),
      );
      assert.ok(sizes.length >= 8, JSON.stringify(sizes));
      for (const [where, v] of sizes) assert.equal(v, 512, where);
    });

    it("takes its reference image and driving video as uploads with the agreed names", function () {
      assert.deepEqual(byClass("LoadImage").map(([, n]) => n.inputs.image), ["steadydancer_ref.png"]);
      assert.deepEqual(byClass("VHS_LoadVideo").map(([, n]) => n.inputs.video), ["steadydancer_drive.mp4"]);
    });

    it("conditions the sampler on SteadyDancer pose embeds built from the driving poses", function () {
      const [, sampler] = byClass("WanVideoSampler")[0] ?? [];
      assert.ok(sampler);
      const [embedsId, embeds] = linkedNode(w, sampler, "image_embeds");
      assert.equal(embeds.class_type, "WanVideoAddSteadyDancerEmbeds", `sampler embeds come from ${embedsId}`);
      const [, latents] = linkedNode(w, embeds, "pose_latents_positive");
      assert.equal(latents.class_type, "WanVideoEncode");
      assert.equal(linkedNode(w, latents, "image")[1].class_type, "PoseDetectionOneToAllAnimation");
    });

    it("only uses what the image provides: sdpa/flash_attn_2 attention, no fp16_fast (needs torch >= 2.7)", function () {
      for (const [id, n] of byClass("WanVideoModelLoader")) {
        assert.ok(["sdpa", "flash_attn_2"].includes(String(n.inputs.attention_mode)), `${id}: attention ${String(n.inputs.attention_mode)}`);
        assert.notEqual(n.inputs.base_precision, "fp16_fast", `${id}: fp16_fast raises on torch 2.5.1`);
      }
      // A merged LoRA is not supported on fp8-scaled weights; WanVideoSetLoRAs refuses merge_loras=true.
      for (const [id, n] of byClass("WanVideoLoraSelect")) assert.equal(n.inputs.merge_loras, false, id);
    });

    it("names only model files that the manifest provides for the fp8 variant (ViTPose-H with its data file)", function () {
      const manifest = loadModelManifest();
      const provided = new Set(filesFor(manifest, "fp8").map((f) => `${f.target}/${path.posix.basename(f.path)}`));
      const refs = modelReferences(w);
      assert.equal(refs.length, 7, JSON.stringify(refs));
      const missing = refs.filter((r) => !provided.has(`${r.folder}/${r.file}`)).map((r) => `${r.node}: ${r.folder}/${r.file}`);
      if (refs.some((r) => r.file.endsWith("vitpose_h_wholebody_model.onnx")) && !provided.has("detection/onnx/vitpose_h_wholebody_data.bin")) {
        missing.push("detection/onnx/vitpose_h_wholebody_data.bin (ViTPose-H loads its weights from it)");
      }
      assert.deepEqual(missing, [], "not in docker/models/manifest.json");
    });
  });
});
