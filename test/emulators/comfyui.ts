// Local emulator of ComfyUI's HTTP + websocket API, after server.py / execution.py / main.py as described
// in /work/shared/reference/comfyui-and-image.md §1. Every route also answers under /api. A queued
// prompt "executes" node by node (progress events on sampler-like nodes, binary preview frames in
// between), writes a small valid MP4 for VHS_VideoCombine / SaveVideo, sends `execution_success`
// BEFORE the history is stored and `executing {node: null}` after it.
// Loader nodes list the files of `installedModels` (paths under models/) in object_info like folder_paths does,
// and POST /prompt validates combo inputs per output like execution.py (value_not_in_list; an output whose
// graph is valid still runs). Modes reproduce the failures a deployment meets; see ComfyMode.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { Socket } from "node:net";
import path from "node:path";
import { WebSocket, WebSocketServer } from "ws";
import { filesFor, loadModelManifest, type ModelVariant } from "../../models";
import { writeMp4 } from "./mp4";

export type ComfyMode =
  | "success"
  | "slowStart" // connection refused, then 502 from a proxy, then up
  | "missingNode" // a custom node class is not installed → 400 missing_node_type
  | "oom" // torch.OutOfMemoryError during sampling → execution_error
  | "neverFinishes" // sampling stalls until POST /interrupt → execution_interrupted
  | "dies" // the process dies mid-job and restarts with an empty queue and history
  | "lowVram" // an RTX A4000 (16 GB class)
  | "truncatedVideo"; // the MP4 is cut in half

export interface EmulatedDevice {
  name: string;
  type: string;
  index: number | null;
  vram_total: number;
  vram_free: number;
  torch_vram_total: number;
  torch_vram_free: number;
}

export interface ComfyEmulatorOptions {
  mode?: ComfyMode;
  /** Time a job spends in its progress nodes (sampling, encoding). Default 200 ms. */
  jobMs?: number;
  /** Progress events per progress node. Default 5. */
  progressSteps?: number;
  /** Gap between execution_success and the history write + executing null. Default 30 ms. */
  historyDelayMs?: number;
  /** slowStart: how long connections are refused, then how long the proxy answers 502. */
  refusedMs?: number;
  proxy502Ms?: number;
  /** dies: how long the restarted process is gone. Default 400 ms. */
  restartDownMs?: number;
  /** dies: while gone, answer like RunPod's proxy (502) instead of refusing connections. */
  downAs?: "refused" | "502";
  /** Video size for workflows without an EmptyImage source. Default 512x512, 30 frames. */
  video?: { width: number; height: number; frames: number };
  bytesPerFrame?: number;
  /** GET /view sends the headers at once and spreads the body over this long (a slow link or a proxy). Default 0. */
  viewMs?: number;
  /** moov before mdat. Default false, like ffmpeg without +faststart (VHS h264-mp4). */
  faststart?: boolean;
  /** "2024": system_stats without the newer fields and only the primary device; client prompt_id ignored. */
  build?: "2026" | "2024";
  /** Answer 401 to any request (and websocket upgrade) without this header, like an auth proxy would. */
  requiredHeader?: { name: string; value: string };
  /** missingNode: the class left out of object_info. Default VHS_VideoCombine. */
  missingClass?: string;
  /** Replaces the reported devices (e.g. a CPU-only ComfyUI). */
  devices?: EmulatedDevice[];
  /** Answer websocket upgrades with 503 (forces clients onto polling). */
  refuseWebsockets?: boolean;
  /** Accept connections but never answer. */
  hang?: boolean;
  /**
   * Files under models/ (see InstalledModels); loader nodes list them in object_info and POST /prompt rejects
   * others with value_not_in_list. Default: modelsOfVariant("fp8"), the files the dance workflow names.
   */
  installedModels?: InstalledModels;
  /** How object_info declares combo inputs: `[[options], {...}]` (V1 nodes) or `["COMBO", {options}]` (V3 / newer builds). */
  comboForm?: "list" | "COMBO";
  /** false: GET /object_info/{class} answers 404, like a proxy or a build without that route. Default true. */
  objectInfoPerClass?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  at: number;
  /** JSON request bodies as text (uploads are left out). */
  body?: string;
}

export interface SentEvent {
  type: string;
  data: unknown;
  at: number;
  to: string | null; // sid, or null for a broadcast
}

type Json = Record<string, unknown>;
type Workflow = Record<string, { class_type?: unknown; inputs?: Record<string, unknown>; _meta?: { title?: unknown } }>;

interface Job {
  number: number;
  promptId: string;
  prompt: Workflow;
  extraData: Json;
  outputs: string[];
  clientId: string | null;
  interrupted: boolean;
}

const GB = 1e9;
const L40S: EmulatedDevice = {
  name: "cuda:0 NVIDIA L40S : cudaMallocAsync", type: "cuda", index: 0,
  vram_total: 47_697_362_944, vram_free: 47_171_108_864, torch_vram_total: 0, torch_vram_free: 0,
};
const A4000: EmulatedDevice = {
  name: "cuda:0 NVIDIA RTX A4000 : cudaMallocAsync", type: "cuda", index: 0,
  vram_total: 17_171_480_576, vram_free: 16_866_344_960, torch_vram_total: 0, torch_vram_free: 0,
};

const OOM_MESSAGE =
  "Allocation on device \nThis error means you ran out of memory on your GPU.\n\n" +
  "TIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.";

// ---------------------------------------------------------------- object_info
/** Where a combo's options come from: a fixed list, the input folder, or files under models/. */
type Options = string[] | { input: true } | { models: Array<{ folder: string; extensions: readonly string[] | null }> };
/** An input declaration: `[type or options, extra?]`, as INPUT_TYPES returns it. */
type InputSpec = [string | Options, Json?];
interface ClassSpec { output_node?: boolean; category: string; module: string; required?: Record<string, InputSpec>; optional?: Record<string, InputSpec>; output?: string[] }
const spec = (category: string, module: string, extra: Partial<ClassSpec> = {}): ClassSpec => ({ category, module, ...extra });

/** folder_paths.supported_pt_extensions: what most model folders list. */
const PT_EXTENSIONS = [".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"] as const;
/** folder_paths.get_filename_list(folder) for the folders the dance workflow uses. "diffusion_models" also reads models/unet. */
const models = (folder: string, extensions: readonly string[] | null = PT_EXTENSIONS): Options => ({
  models: (folder === "diffusion_models" ? ["unet", "diffusion_models"] : [folder]).map((f) => ({ folder: f, extensions })),
});
/** WanVideoModelLoader: unet_gguf (the .gguf files of diffusion_models) + diffusion_models, in that order. */
const diffusionModels = (): Options => {
  const gguf = models("diffusion_models", [".gguf"]) as { models: Array<{ folder: string; extensions: readonly string[] | null }> };
  const pt = models("diffusion_models") as typeof gguf;
  return { models: [...gguf.models, ...pt.models] };
};
const ATTENTION_MODES = ["sdpa", "flash_attn_2", "flash_attn_3", "sageattn", "sageattn_3", "radial_sage_attention", "sageattn_compiled", "sageattn_ultravico", "comfy"];
const FP8_MODES = ["disabled", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e4m3fn_scaled", "fp8_e4m3fn_scaled_fast", "fp8_e5m2", "fp8_e5m2_fast", "fp8_e5m2_scaled", "fp8_e5m2_scaled_fast"];
const WAN = "custom_nodes.ComfyUI-WanVideoWrapper";
const KJ = "custom_nodes.comfyui-kjnodes";
const VHS = "custom_nodes.comfyui-videohelpersuite";
const PREPROCESS = "custom_nodes.ComfyUI-WanAnimatePreprocess";
const wan = (extra: Partial<ClassSpec> = {}): ClassSpec => spec("WanVideoWrapper", WAN, extra);
// Input names and options of the loaders follow kijai/ComfyUI-WanVideoWrapper nodes_model_loading.py / nodes.py,
// kijai/ComfyUI-WanAnimatePreprocess nodes.py and ComfyUI's nodes.py.
const CLASSES: Record<string, ClassSpec> = {
  EmptyImage: spec("image", "nodes", { required: { width: ["INT", { default: 512 }], height: ["INT", { default: 512 }], batch_size: ["INT", { default: 1 }], color: ["INT", { default: 0 }] }, output: ["IMAGE"] }),
  LoadImage: spec("image", "nodes", { required: { image: [{ input: true }, { image_upload: true }] }, output: ["IMAGE", "MASK"] }),
  SaveImage: spec("image", "nodes", { output_node: true, required: { images: ["IMAGE"], filename_prefix: ["STRING", { default: "ComfyUI" }] }, output: [] }),
  PreviewImage: spec("image", "nodes", { output_node: true, required: { images: ["IMAGE"] }, output: [] }),
  LoadVideo: spec("image/video", "comfy_extras.nodes_video", { required: { file: [{ input: true }, { video_upload: true }] }, output: ["VIDEO"] }),
  CreateVideo: spec("image/video", "comfy_extras.nodes_video", { required: { images: ["IMAGE"], fps: ["FLOAT", { default: 30 }] }, output: ["VIDEO"] }),
  SaveVideo: spec("image/video", "comfy_extras.nodes_video", { output_node: true, required: { video: ["VIDEO"], filename_prefix: ["STRING", { default: "video/ComfyUI" }], format: [["auto", "mp4"]], codec: [["auto", "h264"]] }, output: [] }),
  KSampler: spec("sampling", "nodes", { output: ["LATENT"] }),
  VAEDecode: spec("latent", "nodes", { output: ["IMAGE"] }),
  CLIPVisionLoader: spec("loaders", "nodes", { required: { clip_name: [models("clip_vision")] }, output: ["CLIP_VISION"] }),
  ImageScale: spec("image/upscaling", "nodes", { output: ["IMAGE"] }),
  VHS_VideoCombine: spec("Video Helper Suite 🎥🅥🅗🅢", VHS, { output_node: true, required: { images: ["IMAGE"], frame_rate: ["FLOAT", { default: 8 }], loop_count: ["INT", { default: 0 }], filename_prefix: ["STRING", { default: "AnimateDiff" }], format: [["image/gif", "image/webp", "video/h264-mp4", "video/webm"]], pingpong: ["BOOLEAN", { default: false }], save_output: ["BOOLEAN", { default: true }] }, output: ["VHS_FILENAMES"] }),
  VHS_LoadVideo: spec("Video Helper Suite 🎥🅥🅗🅢", VHS, { required: { video: [{ input: true }, { video_upload: true }] }, output: ["IMAGE", "INT", "AUDIO", "VHS_VIDEOINFO"] }),
  WanVideoModelLoader: wan({
    required: {
      model: [diffusionModels(), { tooltip: "These models are loaded from the 'ComfyUI/models/diffusion_models' -folder" }],
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
  }),
  WanVideoVAELoader: wan({ required: { model_name: [models("vae"), { tooltip: "These models are loaded from 'ComfyUI/models/vae'" }] }, optional: { precision: [["fp16", "fp32", "bf16"], { default: "bf16" }] }, output: ["WANVAE"] }),
  WanVideoTextEncodeCached: wan({
    required: {
      model_name: [models("text_encoders"), { tooltip: "These models are loaded from 'ComfyUI/models/text_encoders'" }],
      precision: [["fp32", "bf16"], { default: "bf16" }],
      positive_prompt: ["STRING", { default: "", multiline: true }],
      negative_prompt: ["STRING", { default: "", multiline: true }],
      quantization: [["disabled", "fp8_e4m3fn"], { default: "disabled" }],
      use_disk_cache: ["BOOLEAN", { default: true }],
      device: [["gpu", "cpu"], { default: "gpu" }],
    },
    output: ["WANVIDEOTEXTEMBEDS", "WANVIDEOTEXTEMBEDS", "STRING"],
  }),
  LoadWanVideoT5TextEncoder: wan({ required: { model_name: [models("text_encoders")], precision: [["fp32", "bf16"], { default: "bf16" }] }, optional: { load_device: [["main_device", "offload_device"], { default: "offload_device" }], quantization: [["disabled", "fp8_e4m3fn"], { default: "disabled" }] }, output: ["WANTEXTENCODER"] }),
  WanVideoLoraSelect: wan({
    required: { lora: [models("loras")], strength: ["FLOAT", { default: 1.0, min: -1000.0, max: 1000.0, step: 0.0001 }] },
    optional: { prev_lora: ["WANVIDLORA", { default: null }], blocks: ["SELECTEDBLOCKS"], low_mem_load: ["BOOLEAN", { default: false }], merge_loras: ["BOOLEAN", { default: true }] },
    output: ["WANVIDLORA"],
  }),
  ...Object.fromEntries(
    [
      "WanVideoTextEncode", "WanVideoClipVisionEncode", "WanVideoImageToVideoEncode", "WanVideoEncode", "WanVideoAddSteadyDancerEmbeds",
      "WanVideoContextOptions", "WanVideoBlockSwap", "WanVideoSetBlockSwap", "WanVideoSetLoRAs", "WanVideoVRAMManagement",
      "WanVideoTorchCompileSettings", "WanVideoScheduler", "WanVideoSamplerSettings", "WanVideoSamplerFromSettings",
      "WanVideoSampler", "WanVideoDecode",
    ].map((name) => [name, wan()]),
  ),
  OnnxDetectionModelLoader: spec("WanAnimatePreprocess", PREPROCESS, {
    // "detection" is registered with add_model_folder_path and no extension filter: it lists every file.
    required: {
      vitpose_model: [models("detection", null), { tooltip: "These models are loaded from the 'ComfyUI/models/detection' -folder" }],
      yolo_model: [models("detection", null), { tooltip: "These models are loaded from the 'ComfyUI/models/detection' -folder" }],
      onnx_device: [["CUDAExecutionProvider", "CPUExecutionProvider"], { default: "CUDAExecutionProvider" }],
    },
    output: ["POSEMODEL"],
  }),
  PoseDetectionOneToAllAnimation: spec("WanAnimatePreprocess", PREPROCESS),
  DWPreprocessor: spec("ControlNet Preprocessors/Faces and Poses Estimators", "custom_nodes.comfyui_controlnet_aux"),
  ...Object.fromEntries(
    ["ImageResizeKJv2", "ImageResizeKJ", "ImageConcatMulti", "GetImageSizeAndCount", "GetImageRangeFromBatch"].map((name) => [name, spec("KJNodes/image", KJ)]),
  ),
};

/** Files under models/ as paths relative to it (`vae/wanvideo/x.safetensors`), like `find models -type f`. */
export type InstalledModels = readonly string[];

/**
 * The files download-models.sh leaves for a variant: each file at `<target>/<name>` plus its `.sha256` sidecar.
 * The dance workflow names the fp8 files.
 */
export function modelsOfVariant(variant: ModelVariant): string[] {
  return filesFor(loadModelManifest(), variant).flatMap((f) => {
    const file = `${f.target}/${path.posix.basename(f.path)}`;
    return [file, `${file}.sha256`];
  });
}

let fp8: string[] | undefined;
function fp8Models(): string[] {
  fp8 ??= modelsOfVariant("fp8");
  return fp8;
}

/** folder_paths.get_filename_list: files of the folders, relative to each, filtered by extension, sorted. */
function filenameList(installed: InstalledModels, folders: Array<{ folder: string; extensions: readonly string[] | null }>): string[] {
  const names = new Set<string>();
  for (const { folder, extensions } of folders) {
    for (const file of installed) {
      if (!file.startsWith(`${folder}/`)) continue;
      const name = file.slice(folder.length + 1);
      if (extensions === null || extensions.includes(path.posix.extname(name).toLowerCase())) names.add(name);
    }
  }
  return [...names].sort();
}

/** The options of a combo input as the server sees them, or null for other inputs. */
function resolveOptions(declared: string | Options, installed: InstalledModels, inputFiles: string[]): string[] | null {
  if (typeof declared === "string") return null;
  if (Array.isArray(declared)) return declared;
  if ("input" in declared) return inputFiles;
  return filenameList(installed, declared.models);
}

/** Declared inputs with their options resolved; `combo` chooses the object_info shape of combo inputs. */
function resolvedInputs(inputs: Record<string, InputSpec> | undefined, installed: InstalledModels, inputFiles: string[], combo: "list" | "COMBO"): Json {
  return Object.fromEntries(
    Object.entries(inputs ?? {}).map(([name, [declared, extra]]) => {
      const options = resolveOptions(declared, installed, inputFiles);
      if (options === null) return [name, extra === undefined ? [declared] : [declared, extra]];
      if (combo === "COMBO") return [name, ["COMBO", { ...(extra ?? {}), options, multiselect: false }]];
      return [name, extra === undefined ? [options] : [options, extra]];
    }),
  );
}

function nodeInfo(name: string, s: ClassSpec, installed: InstalledModels, inputFiles: string[], combo: "list" | "COMBO"): Json {
  const required = resolvedInputs(s.required, installed, inputFiles, combo);
  const optional = resolvedInputs(s.optional, installed, inputFiles, combo);
  const output = s.output ?? ["*"];
  return {
    input: { required, optional },
    input_order: { required: Object.keys(required), ...(Object.keys(optional).length ? { optional: Object.keys(optional) } : {}) },
    is_input_list: false,
    output,
    output_is_list: output.map(() => false),
    output_name: output,
    name,
    display_name: name,
    description: "",
    python_module: s.module,
    category: s.category,
    output_node: s.output_node ?? false,
    has_intermediate_output: false,
    search_aliases: [],
  };
}

/** Python's repr of a str and str() of a list of str, as value_not_in_list details print them. */
function pyRepr(text: string): string {
  if (text.includes("'") && !text.includes('"')) return `"${text}"`;
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

// ---------------------------------------------------------------- helpers
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PROGRESS_CLASS = /Sampler|VideoCombine|^SaveVideo$/;
/** Inputs that name a file in the input folder, and the custom validation text each node class uses. */
const FILE_INPUTS: Record<string, { input: string; invalid: string }> = {
  LoadImage: { input: "image", invalid: "Invalid image file" },
  VHS_LoadVideo: { input: "video", invalid: "Invalid video file" },
  LoadVideo: { input: "file", invalid: "Invalid video file" },
};

function isLink(value: unknown): value is [string, number] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "number";
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function fakeJpeg(seed: number): Buffer {
  const body = Buffer.alloc(48, seed & 0xff);
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), body, Buffer.from([0xff, 0xd9])]);
}

interface MultipartPart { name: string; filename?: string; data: Buffer }

function parseMultipart(body: Buffer, contentType: string): MultipartPart[] | null {
  const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) return null;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd >= 0) {
      const headers = part.subarray(0, headerEnd).toString("utf8");
      const name = /name="([^"]*)"/i.exec(headers)?.[1];
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
      if (name !== undefined) parts.push({ name, ...(filename !== undefined ? { filename } : {}), data: part.subarray(headerEnd + 4) });
    }
    pos = next;
  }
  return parts;
}

// ---------------------------------------------------------------- the emulator
export class ComfyUIEmulator {
  readonly requests: RecordedRequest[] = [];
  readonly events: SentEvent[] = [];
  /** Binary websocket frames delivered (previews, progress text). */
  binaryFramesSent = 0;
  private options: Required<Omit<ComfyEmulatorOptions, "requiredHeader" | "devices">> & Pick<ComfyEmulatorOptions, "requiredHeader" | "devices">;
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly connections = new Set<Socket>();
  private readonly sockets = new Map<string, WebSocket>();
  private readonly files = new Map<string, Buffer>(); // `${type}/${subfolder}/${filename}`
  private readonly hung = new Set<http.ServerResponse>();
  private phase: "refused" | "proxy502" | "up" = "up";
  private port = 0;
  private listening = false;
  private life = new AbortController(); // aborted when the "process" dies or the emulator closes
  private pending: Job[] = [];
  private running: Job | null = null;
  private lastNode: string | null = null;
  private history = new Map<string, Json>();
  private number = 0;
  private closed = false;
  private timers = new Set<NodeJS.Timeout>();

  private constructor(options: ComfyEmulatorOptions) {
    this.options = {
      mode: "success", jobMs: 200, progressSteps: 5, historyDelayMs: 30, refusedMs: 300, proxy502Ms: 400,
      restartDownMs: 400, downAs: "refused", video: { width: 512, height: 512, frames: 30 }, bytesPerFrame: 64, viewMs: 0,
      faststart: false, build: "2026", missingClass: "VHS_VideoCombine", refuseWebsockets: false, hang: false,
      installedModels: fp8Models(), comboForm: "list", objectInfoPerClass: true,
      ...options,
    };
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on("connection", (socket: Socket) => {
      this.connections.add(socket);
      socket.on("close", () => this.connections.delete(socket));
    });
    this.server.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
  }

  static async start(options: ComfyEmulatorOptions = {}): Promise<ComfyUIEmulator> {
    const emulator = new ComfyUIEmulator(options);
    await emulator.listen(0);
    if (emulator.options.mode === "slowStart") await emulator.boot();
    return emulator;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get mode(): ComfyMode {
    return this.options.mode;
  }

  /** Switches behaviour at runtime; slowStart makes the server go down and boot again. */
  async setMode(mode: ComfyMode): Promise<void> {
    this.options.mode = mode;
    if (mode === "slowStart") await this.boot();
  }

  setOptions(options: Partial<ComfyEmulatorOptions>): void {
    Object.assign(this.options, options);
  }

  /** When `executing {node: null}` was sent for a prompt (the moment the job is done). */
  doneAt(promptId: string): number | undefined {
    return this.events.find((e) => e.type === "executing" && (e.data as Json).node === null && (e.data as Json).prompt_id === promptId)?.at;
  }

  /** Input files ComfyUI holds (uploaded). */
  inputFiles(): string[] {
    return [...this.files.keys()].filter((k) => k.startsWith("input/")).map((k) => k.replace(/^input\/\//, "").replace(/^input\//, ""));
  }

  fileBytes(type: string, subfolder: string, filename: string): Buffer | undefined {
    return this.files.get(`${type}/${subfolder}/${filename}`);
  }

  /** Closes every client websocket (as a proxy timeout would); the server stays up. */
  dropWebsockets(): void {
    for (const ws of this.sockets.values()) ws.terminate();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.life.abort();
    for (const t of this.timers) clearTimeout(t);
    await this.stopListening();
    this.wss.close();
  }

  // ------------------------------------------------------------ process lifecycle
  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.server.off("error", reject);
        const address = this.server.address();
        if (address && typeof address === "object") this.port = address.port;
        this.listening = true;
        resolve();
      });
    });
  }

  private async stopListening(): Promise<void> {
    for (const ws of this.sockets.values()) ws.terminate();
    this.sockets.clear();
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
  }

  /** slowStart: refused, then 502 from the proxy, then ComfyUI answers. */
  private async boot(): Promise<void> {
    this.phase = "refused";
    await this.stopListening();
    this.later(this.options.refusedMs, () => {
      if (this.closed) return;
      this.phase = "proxy502";
      void this.listen(this.port).then(() => {
        this.later(this.options.proxy502Ms, () => {
          this.phase = "up";
        });
      });
    });
  }

  /** The process dies: websockets close, nothing answers, then a fresh ComfyUI with empty queue and history. */
  private async die(): Promise<void> {
    this.life.abort();
    this.life = new AbortController();
    this.pending = [];
    this.running = null;
    this.lastNode = null;
    this.history = new Map();
    if (this.options.downAs === "502") {
      this.dropWebsockets();
      this.phase = "proxy502";
    } else {
      this.phase = "refused";
      await this.stopListening();
    }
    this.later(this.options.restartDownMs, () => {
      if (this.closed) return;
      this.options.mode = "success"; // one crash, then it works again
      const up = (): void => {
        this.phase = "up";
      };
      if (this.listening) up();
      else void this.listen(this.port).then(up);
    });
  }

  // ------------------------------------------------------------ websocket
  private upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push({ method: "GET", path: url.pathname, headers: req.headers, at: Date.now() });
    const reject = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    if (this.options.hang) return; // never answers
    if (this.phase === "proxy502") return reject(502, "Bad Gateway");
    if (!this.authorised(req.headers)) return reject(401, "Unauthorized");
    if (url.pathname !== "/ws" && url.pathname !== "/api/ws") return reject(404, "Not Found");
    if (this.options.refuseWebsockets) return reject(503, "Service Unavailable");
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const sid = url.searchParams.get("clientId") || randomUUID().replace(/-/g, "");
      this.sockets.set(sid, ws); // a reconnect with the same id replaces the old socket
      ws.on("close", () => {
        if (this.sockets.get(sid) === ws) this.sockets.delete(sid);
      });
      this.send("status", { status: this.queueInfo(), sid }, sid);
      if (this.running?.clientId === sid && this.lastNode !== null) this.send("executing", { node: this.lastNode }, sid);
    });
  }

  private send(type: string, data: unknown, to: string | null): void {
    this.events.push({ type, data, at: Date.now(), to });
    const message = JSON.stringify({ type, data });
    const targets = to === null ? [...this.sockets.values()] : [this.sockets.get(to)].filter((w): w is WebSocket => w !== undefined);
    for (const ws of targets) if (ws.readyState === WebSocket.OPEN) ws.send(message);
  }

  private sendBinary(eventType: number, payload: Buffer, to: string | null): void {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(eventType, 0);
    const ws = to === null ? undefined : this.sockets.get(to);
    if (ws?.readyState !== WebSocket.OPEN) return;
    ws.send(Buffer.concat([header, payload]), { binary: true });
    this.binaryFramesSent += 1;
  }

  // ------------------------------------------------------------ HTTP
  private authorised(headers: http.IncomingHttpHeaders): boolean {
    const required = this.options.requiredHeader;
    return !required || headers[required.name.toLowerCase()] === required.value;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const recorded: RecordedRequest = { method: req.method ?? "GET", path: url.pathname, headers: req.headers, at: Date.now() };
    this.requests.push(recorded);
    const body = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", () => resolve(Buffer.alloc(0)));
    });
    if (body.length > 0 && (req.headers["content-type"] ?? "").startsWith("application/json")) recorded.body = body.toString("utf8");
    if (this.options.hang) {
      this.hung.add(res);
      return;
    }
    if (this.phase === "proxy502") {
      res.writeHead(502, { "Content-Type": "text/html" }).end("<html><body><h1>502 Bad Gateway</h1></body></html>");
      return;
    }
    if (!this.authorised(req.headers)) {
      res.writeHead(401, { "Content-Type": "text/plain" }).end("401: Unauthorized");
      return;
    }
    const route = url.pathname.startsWith("/api/") ? url.pathname.slice(4) : url.pathname;
    try {
      this.route(req.method ?? "GET", route, url.searchParams, body, req.headers, res);
    } catch (error) {
      // aiohttp answers an unhandled exception (e.g. invalid JSON in request.json()) with a plain 500.
      res.writeHead(500, { "Content-Type": "text/plain" }).end(`500 Internal Server Error\n\nServer got itself in trouble: ${String(error)}`);
    }
  }

  private json(res: http.ServerResponse, status: number, data: unknown): void {
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" }).end(JSON.stringify(data));
  }

  private route(method: string, route: string, query: URLSearchParams, body: Buffer, headers: http.IncomingHttpHeaders, res: http.ServerResponse): void {
    const ok = (): void => void res.writeHead(200, { "Content-Type": "text/plain" }).end();
    const notAllowed = (): void => void res.writeHead(405, { "Content-Type": "text/plain" }).end("405: Method Not Allowed");
    const readJson = (): Json => JSON.parse(body.toString("utf8") || "null") as Json;
    const historyMatch = /^\/history\/(.+)$/.exec(route);
    const objectInfoMatch = /^\/object_info\/(.+)$/.exec(route);
    if (route === "/") {
      if (method !== "GET") return notAllowed();
      return void res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>ComfyUI</title>");
    }
    if (route === "/system_stats") return method === "GET" ? this.json(res, 200, this.systemStats()) : notAllowed();
    if (route === "/prompt") {
      if (method === "GET") return this.json(res, 200, this.queueInfo());
      if (method === "POST") return this.postPrompt(readJson(), res);
      return notAllowed();
    }
    if (route === "/queue") {
      if (method === "GET") return this.json(res, 200, { queue_running: this.running ? [this.queueItem(this.running)] : [], queue_pending: this.pending.map((j) => this.queueItem(j)) });
      if (method === "POST") {
        const data = readJson();
        if (data.clear) this.pending = [];
        if (Array.isArray(data.delete)) this.pending = this.pending.filter((j) => !(data.delete as unknown[]).includes(j.promptId));
        this.broadcastStatus();
        return ok();
      }
      return notAllowed();
    }
    if (route === "/history") {
      if (method === "GET") return this.json(res, 200, Object.fromEntries(this.history));
      if (method === "POST") {
        const data = readJson();
        if (data.clear) this.history.clear();
        if (Array.isArray(data.delete)) for (const id of data.delete) this.history.delete(String(id));
        return ok();
      }
      return notAllowed();
    }
    if (historyMatch) {
      if (method !== "GET") return notAllowed();
      const id = decodeURIComponent(historyMatch[1] ?? "");
      const entry = this.history.get(id);
      return this.json(res, 200, entry ? { [id]: entry } : {});
    }
    if (route === "/object_info") return method === "GET" ? this.json(res, 200, this.objectInfo()) : notAllowed();
    if (objectInfoMatch) {
      if (!this.options.objectInfoPerClass) return void res.writeHead(404, { "Content-Type": "text/plain" }).end("404: Not Found");
      const name = decodeURIComponent(objectInfoMatch[1] ?? "");
      const all = this.objectInfo();
      return this.json(res, 200, name in all ? { [name]: all[name] } : {});
    }
    if (route === "/view") return method === "GET" ? this.view(query, res) : notAllowed();
    if (route === "/upload/image") return method === "POST" ? this.upload(body, headers, res) : notAllowed();
    if (route === "/interrupt") {
      if (method !== "POST") return notAllowed();
      let data: Json;
      try {
        data = (JSON.parse(body.toString("utf8")) as Json | null) ?? {};
      } catch {
        data = {}; // an empty or invalid body is a global interrupt
      }
      const target = typeof data.prompt_id === "string" && data.prompt_id ? data.prompt_id : null;
      if (this.running && (target === null || this.running.promptId === target)) this.running.interrupted = true;
      return ok();
    }
    if (route === "/free") {
      if (method !== "POST") return notAllowed();
      readJson(); // the handler requires a JSON body
      return ok();
    }
    if (route === "/features") return this.json(res, 200, { supports_preview_metadata: true, max_upload_size: 104857600 });
    res.writeHead(404, { "Content-Type": "text/plain" }).end("404: Not Found");
  }

  private systemStats(): Json {
    const devices = this.options.devices ?? [this.options.mode === "lowVram" ? A4000 : L40S];
    const python = "3.11.10 (main, Sep  7 2024, 18:35:41) [GCC 11.4.0]";
    const argv = ["main.py", "--listen", "0.0.0.0", "--port", "8188"];
    if (this.options.build === "2024") {
      return {
        system: { os: "posix", ram_total: 270 * GB, ram_free: 250 * GB, comfyui_version: "unknown", python_version: python, pytorch_version: "2.5.1+cu124", embedded_python: false, argv },
        devices: devices.slice(0, 1),
      };
    }
    return {
      system: {
        os: "linux", ram_total: 270 * GB, ram_free: 250 * GB, comfyui_version: "0.3.76",
        required_frontend_version: "1.32.10", installed_templates_version: "0.7.25", required_templates_version: "0.7.25",
        comfy_package_versions: {}, python_version: python, pytorch_version: "2.5.1+cu124", embedded_python: false,
        deploy_environment: "local-git", argv,
      },
      devices,
    };
  }

  private objectInfo(): Record<string, Json> {
    const inputs = this.inputFiles();
    const { installedModels, comboForm } = this.options;
    return Object.fromEntries(this.knownClasses().map(([name, s]) => [name, nodeInfo(name, s, installedModels, inputs, comboForm)]));
  }

  private knownClasses(): Array<[string, ClassSpec]> {
    const missing = this.options.mode === "missingNode" ? this.options.missingClass : null;
    return Object.entries(CLASSES).filter(([name]) => name !== missing);
  }

  private queueInfo(): Json {
    return { exec_info: { queue_remaining: this.pending.length + (this.running ? 1 : 0) } };
  }

  private queueItem(job: Job): unknown[] {
    return [job.number, job.promptId, job.prompt, job.extraData, job.outputs];
  }

  private broadcastStatus(): void {
    this.send("status", { status: this.queueInfo() }, null);
  }

  // ------------------------------------------------------------ POST /prompt and validation
  private postPrompt(data: Json, res: http.ServerResponse): void {
    const number = typeof data.number === "number" ? data.number : data.front ? -this.number : this.number;
    if (typeof data.number !== "number") this.number += 1;
    if (!data || typeof data !== "object" || !("prompt" in data)) {
      if (this.options.build === "2024") return this.json(res, 400, { error: "no prompt", node_errors: [] });
      return this.json(res, 400, { error: { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} }, node_errors: {} });
    }
    let promptId: string = randomUUID();
    if (this.options.build !== "2024" && data.prompt_id !== undefined && data.prompt_id !== null) {
      if (typeof data.prompt_id !== "string" || !UUID_RE.test(data.prompt_id)) {
        return this.json(res, 400, {
          error: { type: "invalid_prompt_id", message: "prompt_id must be a valid UUID", details: "prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one", extra_info: {} },
          node_errors: {},
        });
      }
      promptId = data.prompt_id;
    }
    const prompt = (data.prompt ?? {}) as Workflow;
    const validation = this.validate(prompt);
    if ("error" in validation) return this.json(res, 400, validation);
    const extraData: Json = { ...((data.extra_data as Json | undefined) ?? {}) };
    if (typeof data.client_id === "string") extraData.client_id = data.client_id;
    extraData.create_time = Date.now();
    const job: Job = {
      number, promptId, prompt, extraData, outputs: validation.outputs,
      clientId: typeof data.client_id === "string" ? data.client_id : null, interrupted: false,
    };
    this.pending.push(job);
    this.pending.sort((a, b) => a.number - b.number);
    this.json(res, 200, { prompt_id: promptId, number, node_errors: validation.nodeErrors });
    this.broadcastStatus();
    this.later(0, () => void this.work());
  }

  private validate(prompt: Workflow): { outputs: string[]; nodeErrors: Json } | { error: Json; node_errors: Json } {
    const classes = new Set(this.knownClasses().map(([name]) => name));
    for (const [id, node] of Object.entries(prompt)) {
      const title = typeof node._meta?.title === "string" ? node._meta.title : undefined;
      if (typeof node.class_type !== "string") {
        return {
          error: { type: "missing_node_type", message: `Node '${title ?? `ID #${id}`}' has no class_type. The workflow may be corrupted or a custom node is missing.`, details: `Node ID '#${id}'`, extra_info: { node_id: id, class_type: null, node_title: title ?? null } },
          node_errors: {},
        };
      }
      if (!classes.has(node.class_type)) {
        const shown = title ?? node.class_type;
        return {
          error: { type: "missing_node_type", message: `Node '${shown}' not found. The custom node may not be installed.`, details: `Node ID '#${id}'`, extra_info: { node_id: id, class_type: node.class_type, node_title: shown } },
          node_errors: {},
        };
      }
    }
    const outputs = Object.entries(prompt).filter(([, n]) => CLASSES[String(n.class_type)]?.output_node).map(([id]) => id);
    if (outputs.length === 0) {
      return { error: { type: "prompt_no_outputs", message: "Prompt has no outputs", details: "", extra_info: {} }, node_errors: {} };
    }
    // Like execution.py: each output is validated with the nodes it depends on; outputs whose graph has an
    // invalid node are dropped. None left → 400; some left → 200 with node_errors, and only those run.
    const nodeErrors = new Map<string, Json[]>();
    for (const [id, node] of Object.entries(prompt)) {
      if (outputs.some((out) => this.dependsOn(prompt, out, id))) {
        const errors = this.nodeErrors(node);
        if (errors.length > 0) nodeErrors.set(id, errors);
      }
    }
    const bad = outputs.filter((out) => [...nodeErrors.keys()].some((id) => this.dependsOn(prompt, out, id)));
    const good = outputs.filter((out) => !bad.includes(out));
    const node_errors: Json = Object.fromEntries(
      [...nodeErrors].map(([id, errors]) => [id, { errors, dependent_outputs: bad.filter((out) => this.dependsOn(prompt, out, id)), class_type: prompt[id]?.class_type }]),
    );
    if (good.length === 0) {
      // details joins the reasons of the output nodes themselves (not of the nodes upstream).
      const details = bad.flatMap((out) => nodeErrors.get(out) ?? []).map((e) => `${String(e.message)}: ${String(e.details)}`).join("\n");
      return { error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details, extra_info: {} }, node_errors };
    }
    return { outputs: good, nodeErrors: node_errors };
  }

  /** validate_inputs for one node's literal values: custom validation of input files, and combo membership. */
  private nodeErrors(node: Workflow[string]): Json[] {
    const errors: Json[] = [];
    const classSpec = CLASSES[String(node.class_type)];
    const fileInput = FILE_INPUTS[String(node.class_type)];
    if (fileInput) {
      const value = node.inputs?.[fileInput.input];
      if (!(typeof value === "string" && this.inputFiles().includes(value.replace(/ \[input\]$/, "")))) {
        errors.push({
          type: "custom_validation_failed", message: "Custom validation failed for node",
          details: `${fileInput.input} - ${fileInput.invalid}: ${String(value)}`, extra_info: { input_name: fileInput.input },
        });
      }
    }
    const declared = { ...(classSpec?.required ?? {}), ...(classSpec?.optional ?? {}) };
    for (const [name, [type, extra]] of Object.entries(declared)) {
      if (name === fileInput?.input) continue; // VALIDATE_INPUTS takes it over
      const value = node.inputs?.[name];
      if (value === undefined || isLink(value)) continue;
      const options = resolveOptions(type, this.options.installedModels, this.inputFiles());
      if (options === null || options.includes(value as string)) continue;
      const long = options.length > 20;
      const config = this.options.comboForm === "COMBO" ? ["COMBO", { ...(extra ?? {}), options, multiselect: false }] : [options, extra ?? {}];
      errors.push({
        type: "value_not_in_list",
        message: "Value not in list",
        details: `${name}: ${typeof value === "string" ? pyRepr(value) : JSON.stringify(value)} not in ${long ? `(list of length ${options.length})` : `[${options.map(pyRepr).join(", ")}]`}`,
        extra_info: { input_name: name, input_config: long ? null : config, received_value: value },
      });
    }
    return errors;
  }

  private dependsOn(prompt: Workflow, from: string, target: string, seen = new Set<string>()): boolean {
    if (from === target) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    return Object.values(prompt[from]?.inputs ?? {}).some((v) => isLink(v) && this.dependsOn(prompt, v[0], target, seen));
  }

  /** Nodes the outputs need, dependencies first. */
  private executionOrder(job: Job): string[] {
    const order: string[] = [];
    const visit = (id: string): void => {
      if (order.includes(id) || !job.prompt[id]) return;
      for (const value of Object.values(job.prompt[id]?.inputs ?? {})) if (isLink(value)) visit(value[0]);
      order.push(id);
    };
    for (const out of job.outputs) visit(out);
    return order;
  }

  // ------------------------------------------------------------ execution
  private async work(): Promise<void> {
    if (this.running || this.phase !== "up") return;
    const job = this.pending.shift();
    if (!job) return;
    this.running = job;
    const life = this.life.signal;
    await this.execute(job, life);
    if (life.aborted) return;
    this.later(0, () => void this.work());
  }

  private async execute(job: Job, life: AbortSignal): Promise<void> {
    const sid = job.clientId;
    const messages: Array<[string, Json]> = [];
    const emit = (type: string, data: Json): void => {
      const stamped = { ...data, prompt_id: job.promptId, timestamp: Date.now() };
      if (["execution_start", "execution_cached", "execution_success", "execution_error", "execution_interrupted"].includes(type)) messages.push([type, stamped]);
      this.send(type, stamped, type === "execution_interrupted" ? null : sid);
    };
    emit("execution_start", {});
    emit("execution_cached", { nodes: [] });
    const order = this.executionOrder(job);
    const progressNodes = order.filter((id) => PROGRESS_CLASS.test(String(job.prompt[id]?.class_type)));
    const steps = Math.max(1, this.options.progressSteps);
    const stepMs = this.options.jobMs / Math.max(1, progressNodes.length) / steps;
    const outputs: Json = {};
    const executed: string[] = [];
    const firstProgressNode = progressNodes[0];
    for (const nodeId of order) {
      const classType = String(job.prompt[nodeId]?.class_type);
      if (job.interrupted) return this.finishInterrupted(job, nodeId, classType, executed, messages, emit, outputs, life);
      this.lastNode = nodeId;
      this.send("executing", { node: nodeId, display_node: nodeId, prompt_id: job.promptId }, sid);
      this.send("progress_state", { prompt_id: job.promptId, nodes: { [nodeId]: { value: 0, max: 1, state: "running", node_id: nodeId, prompt_id: job.promptId, display_node_id: nodeId, parent_node_id: null, real_node_id: nodeId } } }, sid);
      if (PROGRESS_CLASS.test(classType)) {
        for (let step = 1; step <= steps; step += 1) {
          await sleep(stepMs, life);
          if (life.aborted) return;
          const halfway = nodeId === firstProgressNode && step === Math.ceil(steps / 2);
          if (halfway && this.options.mode === "oom") return this.finishOom(job, nodeId, classType, executed, messages, emit, life);
          if (halfway && this.options.mode === "dies") return void (await this.die());
          if (job.interrupted) return this.finishInterrupted(job, nodeId, classType, executed, messages, emit, outputs, life);
          this.send("progress", { value: step, max: steps, prompt_id: job.promptId, node: nodeId }, sid);
          this.sendBinary(1, Buffer.concat([Buffer.from([0, 0, 0, 1]), fakeJpeg(step)]), sid); // PREVIEW_IMAGE, JPEG
          const text = Buffer.from(`step ${step}/${steps}`);
          const nodeBytes = Buffer.from(nodeId);
          const len = Buffer.alloc(4);
          len.writeUInt32BE(nodeBytes.length, 0);
          this.sendBinary(3, Buffer.concat([len, nodeBytes, text]), sid); // TEXT: node id length, node id, text
          if (halfway && this.options.mode === "neverFinishes") {
            while (!job.interrupted && !life.aborted) await sleep(20, life);
            if (life.aborted) return;
            return this.finishInterrupted(job, nodeId, classType, executed, messages, emit, outputs, life);
          }
        }
      }
      const output = this.produceOutput(job, nodeId);
      if (output) {
        outputs[nodeId] = output;
        this.send("executed", { node: nodeId, display_node: nodeId, output, prompt_id: job.promptId }, sid);
      }
      executed.push(nodeId);
    }
    emit("execution_success", {});
    // History is written only after execution_success (main.py: e.execute() → q.task_done()).
    await sleep(this.options.historyDelayMs, life);
    if (life.aborted) return;
    this.storeHistory(job, outputs, "success", true, messages);
  }

  private finishOom(job: Job, nodeId: string, classType: string, executed: string[], messages: Array<[string, Json]>, emit: (t: string, d: Json) => void, life: AbortSignal): Promise<void> {
    emit("execution_error", {
      node_id: nodeId, node_type: classType, executed,
      exception_message: OOM_MESSAGE, exception_type: "torch.OutOfMemoryError",
      traceback: ['  File "/workspace/ComfyUI/execution.py", line 496, in execute\n', "torch.OutOfMemoryError: Allocation on device \n"],
      current_inputs: {}, current_outputs: {},
    });
    return this.storeAfterDelay(job, {}, messages, life);
  }

  private finishInterrupted(job: Job, nodeId: string, classType: string, executed: string[], messages: Array<[string, Json]>, emit: (t: string, d: Json) => void, outputs: Json, life: AbortSignal): Promise<void> {
    emit("execution_interrupted", { node_id: nodeId, node_type: classType, executed });
    return this.storeAfterDelay(job, outputs, messages, life);
  }

  private async storeAfterDelay(job: Job, outputs: Json, messages: Array<[string, Json]>, life: AbortSignal): Promise<void> {
    await sleep(this.options.historyDelayMs, life);
    if (life.aborted) return;
    this.storeHistory(job, outputs, "error", false, messages);
  }

  private storeHistory(job: Job, outputs: Json, statusStr: string, completed: boolean, messages: Array<[string, Json]>): void {
    this.history.set(job.promptId, {
      prompt: this.queueItem(job),
      outputs,
      status: { status_str: statusStr, completed, messages },
      meta: Object.fromEntries(Object.keys(outputs).map((id) => [id, { node_id: id, display_node: id, parent_node: null, real_node_id: id }])),
    });
    this.running = null;
    this.lastNode = null;
    if (job.clientId) this.send("executing", { node: null, prompt_id: job.promptId }, job.clientId);
    this.broadcastStatus();
  }

  /** Frames and size: from an EmptyImage feeding the node, else the configured video. */
  private videoSize(job: Job, nodeId: string): { width: number; height: number; frames: number } {
    const seen = new Set<string>();
    const find = (id: string): { width: number; height: number; frames: number } | null => {
      if (seen.has(id)) return null;
      seen.add(id);
      const node = job.prompt[id];
      if (node?.class_type === "EmptyImage") {
        const i = node.inputs ?? {};
        return { width: Number(i.width ?? 512), height: Number(i.height ?? 512), frames: Number(i.batch_size ?? 1) };
      }
      for (const value of Object.values(node?.inputs ?? {})) {
        if (isLink(value)) {
          const found = find(value[0]);
          if (found) return found;
        }
      }
      return null;
    };
    return find(nodeId) ?? this.options.video;
  }

  private nextFile(type: string, subfolder: string, base: string, suffix: string): string {
    for (let counter = 1; ; counter += 1) {
      const name = `${base}_${String(counter).padStart(5, "0")}${suffix}`;
      if (!this.files.has(`${type}/${subfolder}/${name}`)) return name;
    }
  }

  private video(job: Job, nodeId: string): Buffer {
    const size = this.videoSize(job, nodeId);
    const mp4 = writeMp4({ ...size, bytesPerFrame: this.options.bytesPerFrame, faststart: this.options.faststart });
    return this.options.mode === "truncatedVideo" ? mp4.subarray(0, Math.floor(mp4.length / 2)) : mp4;
  }

  private produceOutput(job: Job, nodeId: string): Json | null {
    const node = job.prompt[nodeId];
    const inputs = node?.inputs ?? {};
    const prefix = (fallback: string): { subfolder: string; base: string } => {
      const raw = typeof inputs.filename_prefix === "string" ? inputs.filename_prefix : fallback;
      return { subfolder: path.posix.dirname(raw) === "." ? "" : path.posix.dirname(raw), base: path.posix.basename(raw) };
    };
    switch (node?.class_type) {
      case "VHS_VideoCombine": {
        const format = typeof inputs.format === "string" ? inputs.format : "image/gif";
        const ext = format.split("-").at(-1)?.split("/").at(-1) ?? "gif";
        const type = inputs.save_output === false ? "temp" : "output";
        const { subfolder, base } = prefix("AnimateDiff");
        const filename = this.nextFile(type, subfolder, base, `.${ext}`);
        const png = filename.replace(/\.[^.]+$/, ".png");
        this.files.set(`${type}/${subfolder}/${png}`, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
        this.files.set(`${type}/${subfolder}/${filename}`, ext === "mp4" ? this.video(job, nodeId) : Buffer.from("GIF89a"));
        return {
          gifs: [{
            filename, subfolder, type, format, frame_rate: Number(inputs.frame_rate ?? 8), workflow: png,
            fullpath: `/workspace/ComfyUI/${type}/${subfolder ? `${subfolder}/` : ""}${filename}`,
          }],
        };
      }
      case "SaveVideo": {
        const { subfolder, base } = prefix("video/ComfyUI");
        const filename = this.nextFile("output", subfolder, base, "_.mp4");
        this.files.set(`output/${subfolder}/${filename}`, this.video(job, nodeId));
        return { images: [{ filename, subfolder, type: "output" }], animated: [true] };
      }
      case "SaveImage":
      case "PreviewImage": {
        const type = node.class_type === "SaveImage" ? "output" : "temp";
        const { subfolder, base } = prefix(type === "output" ? "ComfyUI" : "ComfyUI_temp");
        const filename = this.nextFile(type, subfolder, base, "_.png");
        this.files.set(`${type}/${subfolder}/${filename}`, Buffer.from([0x89, 0x50, 0x4e, 0x47]));
        return { images: [{ filename, subfolder, type }] };
      }
      default:
        return null;
    }
  }

  // ------------------------------------------------------------ files
  private view(query: URLSearchParams, res: http.ServerResponse): void {
    if (!query.has("filename")) return void res.writeHead(404).end();
    let filename = query.get("filename") ?? "";
    let type = query.get("type") ?? "output";
    const annotated = /^(.*) \[(input|output|temp)\]$/.exec(filename);
    if (annotated) {
      filename = annotated[1] ?? "";
      type = annotated[2] ?? type;
    }
    if (!filename) return void res.writeHead(400).end();
    if (filename.startsWith("/") || filename.includes("..")) return void res.writeHead(400).end();
    if (!["input", "output", "temp"].includes(type)) return void res.writeHead(400).end();
    let subfolder = "";
    if (query.has("subfolder")) {
      const root = `/comfy/${type}`;
      const full = path.posix.resolve(root, query.get("subfolder") ?? "");
      if (full !== root && !full.startsWith(`${root}/`)) return void res.writeHead(403).end();
      subfolder = path.posix.relative(root, full);
    }
    const file = this.files.get(`${type}/${subfolder}/${path.posix.basename(filename)}`);
    if (!file) return void res.writeHead(404, { "Content-Type": "text/plain" }).end("404: Not Found");
    const contentType = filename.endsWith(".mp4") ? "video/mp4" : filename.endsWith(".png") ? "image/png" : "application/octet-stream";
    res.writeHead(200, { "Content-Type": contentType, "Content-Length": file.length, "Content-Disposition": `filename="${path.posix.basename(filename)}"` });
    const spreadMs = this.options.viewMs;
    if (spreadMs <= 0) return void res.end(file);
    const parts = 10;
    const size = Math.ceil(file.length / parts);
    for (let i = 0; i < parts; i += 1) {
      this.later((spreadMs * (i + 1)) / parts, () => {
        if (res.destroyed) return;
        const chunk = file.subarray(i * size, (i + 1) * size);
        if (i === parts - 1) res.end(chunk);
        else res.write(chunk);
      });
    }
  }

  private upload(body: Buffer, headers: http.IncomingHttpHeaders, res: http.ServerResponse): void {
    const parts = parseMultipart(body, headers["content-type"] ?? "");
    const image = parts?.find((p) => p.name === "image" && p.filename !== undefined);
    if (!parts || !image?.filename) return void res.writeHead(400).end();
    const field = (name: string): string | undefined => parts.find((p) => p.name === name && p.filename === undefined)?.data.toString("utf8");
    const type = field("type") ?? "input";
    if (!["input", "output", "temp"].includes(type)) return void res.writeHead(400).end();
    const subfolder = field("subfolder") ?? "";
    const normalised = path.posix.normalize(subfolder || ".");
    if (normalised.startsWith("..") || path.posix.isAbsolute(normalised) || image.filename.includes("/")) return void res.writeHead(400).end();
    const folder = normalised === "." ? "" : normalised;
    const overwrite = field("overwrite");
    let name = image.filename;
    if (overwrite !== "true" && overwrite !== "1") {
      const ext = path.posix.extname(name);
      const stem = name.slice(0, name.length - ext.length);
      for (let i = 1; this.files.has(`${type}/${folder}/${name}`); i += 1) {
        if (this.files.get(`${type}/${folder}/${name}`)?.equals(image.data)) break; // same content: reuse
        name = `${stem} (${i})${ext}`;
      }
    }
    this.files.set(`${type}/${folder}/${name}`, Buffer.from(image.data));
    this.json(res, 200, { name, subfolder, type });
  }
}
