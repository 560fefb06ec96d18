// What the ComfyUI emulator can be asked to be: modes (the failures a deployment meets), builds (answer shapes
// that differ between ComfyUI versions) and knobs for timing. Shared types of the emulator's modules.
import type http from "node:http";
import { filesFor, loadModelManifest, type ModelVariant } from "../../../models";
import path from "node:path";

export type ComfyMode =
  | "success"
  | "slowStart" // connection refused, then 502 from a proxy, then up
  | "missingNode" // a custom node class is not installed → 400 invalid_prompt (or missing_node_type, see unknownNodeError)
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

/** Files under models/ as paths relative to it (`vae/wanvideo/x.safetensors`), like `find models -type f`. */
export type InstalledModels = readonly string[];

export interface ComfyEmulatorOptions {
  mode?: ComfyMode;
  /** Time a job spends in its progress nodes (sampling, encoding). Default 200 ms. */
  jobMs?: number;
  /** Progress events per sampler node. Default 5. VHS_VideoCombine reports one per frame, as it does. */
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
  /**
   * Answer shapes by version. "0.3.64": system_stats as captured on the H200 (test/fixtures/comfyui-real-0.3.64),
   * extra_data without create_time. "2026" (default): newer system_stats fields, extra_data.create_time.
   * "2024": system_stats without the newer fields and only the primary device; client prompt_id ignored.
   */
  build?: "2026" | "0.3.64" | "2024";
  /**
   * How POST /prompt refuses a node class it does not know. "invalid_prompt" (default): ComfyUI up to and including
   * the pinned v0.8.1 ("Cannot execute because node X does not exist."). "missing_node_type": builds after ComfyUI
   * PR #12194 (2026-01-31), with extra_info {node_id, class_type, node_title}.
   */
  unknownNodeError?: "invalid_prompt" | "missing_node_type";
  /** Binary websocket frames (PREVIEW_IMAGE, TEXT) after each sampler step, as with --preview-method. Default false. */
  previews?: boolean;
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
  /**
   * Forces the form of the combos the emulator fills (model files, input files): `[[options], {...}]` (V1 nodes)
   * or `["COMBO", {options}]` (V3 nodes / newer builds). Default: each class's own form, as captured.
   */
  comboForm?: "list" | "COMBO";
  /** false: GET /object_info/{class} answers 404, like a proxy or a build without that route. Default true. */
  objectInfoPerClass?: boolean;
  /** ComfyUI's folder on the server; history's `fullpath` starts with it. Default /opt/ComfyUI (the image). */
  comfyRoot?: string;
}

type Defaulted = "requiredHeader" | "devices" | "comboForm";
export type ResolvedOptions = Required<Omit<ComfyEmulatorOptions, Defaulted>> & Pick<ComfyEmulatorOptions, Defaulted>;

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

export type Json = Record<string, unknown>;
export type WorkflowNode = { class_type?: unknown; inputs?: Record<string, unknown>; _meta?: { title?: unknown } };
export type Workflow = Record<string, WorkflowNode>;

export interface Job {
  number: number;
  promptId: string;
  prompt: Workflow;
  extraData: Json;
  outputs: string[];
  clientId: string | null;
  interrupted: boolean;
}

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

export function resolveOptions(options: ComfyEmulatorOptions): ResolvedOptions {
  return {
    mode: "success", jobMs: 200, progressSteps: 5, historyDelayMs: 30, refusedMs: 300, proxy502Ms: 400,
    restartDownMs: 400, downAs: "refused", video: { width: 512, height: 512, frames: 30 }, bytesPerFrame: 64, viewMs: 0,
    faststart: false, build: "2026", unknownNodeError: "invalid_prompt", previews: false, missingClass: "VHS_VideoCombine",
    refuseWebsockets: false, hang: false, installedModels: fp8Models(), objectInfoPerClass: true, comfyRoot: "/opt/ComfyUI",
    ...options,
  };
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

export function isLink(value: unknown): value is [string, number] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "number";
}
