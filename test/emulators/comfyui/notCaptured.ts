// NOT CAPTURED: object_info entries for node classes the real capture (test/fixtures/comfyui-real-0.3.64) lacks,
// because that server had only ComfyUI and VideoHelperSuite installed. The dance workflow needs them. They are
// written by hand in the shape the real server gives a V1 custom node (the keys of a captured entry, no
// `optional` key where a node has none); input names and options follow kijai/ComfyUI-WanVideoWrapper
// (nodes_model_loading.py, nodes.py), kijai/ComfyUI-WanAnimatePreprocess, kijai/ComfyUI-KJNodes and
// Fannovel16/comfyui_controlnet_aux. Model-file combos are left empty here: objectInfo.ts fills them from the
// installed models, like folder_paths does. An output type not checked against the sources is "*".

type Json = Record<string, unknown>;
type InputSpec = [unknown, Json?];

interface Declared {
  category: string;
  module: string;
  required?: Record<string, InputSpec>;
  optional?: Record<string, InputSpec>;
  output?: string[];
  outputNames?: string[];
  outputNode?: boolean;
}

function entry(name: string, d: Declared): Json {
  const required = d.required ?? {};
  const input: Json = { required };
  const order: Json = { required: Object.keys(required) };
  if (d.optional) {
    input.optional = d.optional;
    order.optional = Object.keys(d.optional);
  }
  const output = d.output ?? ["*"];
  return {
    input, input_order: order, output, output_is_list: output.map(() => false), output_name: d.outputNames ?? output,
    name, display_name: name, description: "", python_module: d.module, category: d.category, output_node: d.outputNode ?? false,
  };
}

const WAN = "custom_nodes.ComfyUI-WanVideoWrapper";
const KJ = "custom_nodes.comfyui-kjnodes";
const PREPROCESS = "custom_nodes.ComfyUI-WanAnimatePreprocess";
const ATTENTION_MODES = ["sdpa", "flash_attn_2", "flash_attn_3", "sageattn", "sageattn_3", "radial_sage_attention", "sageattn_compiled", "sageattn_ultravico", "comfy"];
const FP8_MODES = ["disabled", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e4m3fn_scaled", "fp8_e4m3fn_scaled_fast", "fp8_e5m2", "fp8_e5m2_fast", "fp8_e5m2_scaled", "fp8_e5m2_scaled_fast"];
const wan = (d: Partial<Declared> = {}): Declared => ({ category: "WanVideoWrapper", module: WAN, ...d });
/** A model-file combo, filled at request time; the tooltips differ between the wrapper's nodes. */
const files = (tooltip?: string): InputSpec => (tooltip === undefined ? [[]] : [[], { tooltip }]);
const fromFolder = (folder: string): string => `These models are loaded from the 'ComfyUI/models/${folder}' -folder`;

const DECLARED: Record<string, Declared> = {
  WanVideoModelLoader: wan({
    required: {
      model: files(fromFolder("diffusion_models")),
      base_precision: [["fp32", "bf16", "fp16", "fp16_fast"], { default: "bf16" }],
      quantization: [FP8_MODES, { default: "disabled" }],
      load_device: [["main_device", "offload_device"], { default: "offload_device" }],
    },
    optional: {
      attention_mode: [ATTENTION_MODES, { default: "sdpa" }],
      compile_args: ["WANCOMPILEARGS"],
      block_swap_args: ["BLOCKSWAPARGS"],
      lora: ["WANVIDLORA", { default: null }],
      vram_management_args: ["VRAM_MANAGEMENTARGS", { default: null }],
    },
    output: ["WANVIDEOMODEL"],
    outputNames: ["model"],
  }),
  WanVideoVAELoader: wan({
    required: { model_name: files("These models are loaded from 'ComfyUI/models/vae'") },
    optional: { precision: [["fp16", "fp32", "bf16"], { default: "bf16" }] },
    output: ["WANVAE"],
    outputNames: ["vae"],
  }),
  WanVideoTextEncodeCached: wan({
    required: {
      model_name: files("These models are loaded from 'ComfyUI/models/text_encoders'"),
      precision: [["fp32", "bf16"], { default: "bf16" }],
      positive_prompt: ["STRING", { default: "", multiline: true }],
      negative_prompt: ["STRING", { default: "", multiline: true }],
      quantization: [["disabled", "fp8_e4m3fn"], { default: "disabled" }],
      use_disk_cache: ["BOOLEAN", { default: true }],
      device: [["gpu", "cpu"], { default: "gpu" }],
    },
    output: ["WANVIDEOTEXTEMBEDS", "WANVIDEOTEXTEMBEDS", "STRING"],
  }),
  LoadWanVideoT5TextEncoder: wan({
    required: { model_name: files(), precision: [["fp32", "bf16"], { default: "bf16" }] },
    optional: { load_device: [["main_device", "offload_device"], { default: "offload_device" }], quantization: [["disabled", "fp8_e4m3fn"], { default: "disabled" }] },
    output: ["WANTEXTENCODER"],
  }),
  WanVideoLoraSelect: wan({
    required: { lora: files(), strength: ["FLOAT", { default: 1.0, min: -1000.0, max: 1000.0, step: 0.0001 }] },
    optional: { prev_lora: ["WANVIDLORA", { default: null }], blocks: ["SELECTEDBLOCKS"], low_mem_load: ["BOOLEAN", { default: false }], merge_loras: ["BOOLEAN", { default: true }] },
    output: ["WANVIDLORA"],
  }),
  WanVideoDecode: wan({ output: ["IMAGE"], outputNames: ["images"] }),
  ...Object.fromEntries(
    [
      "WanVideoTextEncode", "WanVideoClipVisionEncode", "WanVideoImageToVideoEncode", "WanVideoEncode", "WanVideoAddSteadyDancerEmbeds",
      "WanVideoContextOptions", "WanVideoBlockSwap", "WanVideoSetBlockSwap", "WanVideoSetLoRAs", "WanVideoVRAMManagement",
      "WanVideoTorchCompileSettings", "WanVideoScheduler", "WanVideoSamplerSettings", "WanVideoSamplerFromSettings", "WanVideoSampler",
    ].map((name) => [name, wan()]),
  ),
  OnnxDetectionModelLoader: {
    category: "WanAnimatePreprocess",
    module: PREPROCESS,
    // "detection" is registered with add_model_folder_path and no extension filter: it lists every file.
    required: {
      vitpose_model: files(fromFolder("detection")),
      yolo_model: files(fromFolder("detection")),
      onnx_device: [["CUDAExecutionProvider", "CPUExecutionProvider"], { default: "CUDAExecutionProvider" }],
    },
    output: ["POSEMODEL"],
  },
  PoseDetectionOneToAllAnimation: { category: "WanAnimatePreprocess", module: PREPROCESS },
  DWPreprocessor: { category: "ControlNet Preprocessors/Faces and Poses Estimators", module: "custom_nodes.comfyui_controlnet_aux" },
  ...Object.fromEntries(
    ["ImageResizeKJv2", "ImageResizeKJ", "ImageConcatMulti", "GetImageSizeAndCount", "GetImageRangeFromBatch"].map((name) => [name, { category: "KJNodes/image", module: KJ }]),
  ),
};

/**
 * Stand-ins whose inputs are not written out: POST /prompt validation follows every link of such a node (a real
 * server follows only declared inputs, which these would have).
 */
export const UNDECLARED_INPUTS: ReadonlySet<string> = new Set(Object.entries(DECLARED).filter(([, d]) => !d.required && !d.optional).map(([name]) => name));

/** Hand-written entries, by class name, in GET /object_info's shape. */
export const NOT_CAPTURED: Readonly<Record<string, Json>> = Object.fromEntries(Object.entries(DECLARED).map(([name, d]) => [name, entry(name, d)]));
