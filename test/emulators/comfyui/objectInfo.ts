// GET /object_info as the emulator serves it: the real server's entries (the capture), the hand-written entries
// of classes it lacked (notCaptured.ts), and the combos a real server fills from disk at request time — loader
// inputs list the files under models/ (folder_paths.get_filename_list), LoadImage and the video loaders list the
// input folder, filtered by kind.
import path from "node:path";
import { capturedObjectInfo } from "./capture";
import { NOT_CAPTURED } from "./notCaptured";
import type { InstalledModels, Json } from "./options";

type Folders = Array<{ folder: string; extensions: readonly string[] | null }>;
type Source = { models: Folders } | { input: "image" | "video" };

/** folder_paths.supported_pt_extensions: what most model folders list. */
const PT_EXTENSIONS = [".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"] as const;
/** "diffusion_models" also reads models/unet. */
const models = (folder: string, extensions: readonly string[] | null = PT_EXTENSIONS): Source => ({
  models: (folder === "diffusion_models" ? ["unet", "diffusion_models"] : [folder]).map((f) => ({ folder: f, extensions })),
});
/** WanVideoModelLoader: unet_gguf (the .gguf files of diffusion_models) + diffusion_models, in that order. */
const DIFFUSION: Source = {
  models: [...(models("diffusion_models", [".gguf"]) as { models: Folders }).models, ...(models("diffusion_models") as { models: Folders }).models],
};
const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"]);
/** VideoHelperSuite's video_extensions. */
const VIDEO_EXTENSIONS = new Set([".webm", ".mp4", ".mkv", ".gif", ".mov"]);

const FILLED: Record<string, Record<string, Source>> = {
  CLIPVisionLoader: { clip_name: models("clip_vision") },
  LoadImage: { image: { input: "image" } },
  VHS_LoadVideo: { video: { input: "video" } },
  LoadVideo: { file: { input: "video" } },
  WanVideoModelLoader: { model: DIFFUSION },
  WanVideoVAELoader: { model_name: models("vae") },
  WanVideoTextEncodeCached: { model_name: models("text_encoders") },
  LoadWanVideoT5TextEncoder: { model_name: models("text_encoders") },
  WanVideoLoraSelect: { lora: models("loras") },
  OnnxDetectionModelLoader: { vitpose_model: models("detection", null), yolo_model: models("detection", null) },
};

/** Inputs whose value names an input file and the message of the node's VALIDATE_INPUTS when it does not exist. */
export const FILE_INPUTS: Readonly<Record<string, { input: string; invalid: string }>> = {
  LoadImage: { input: "image", invalid: "Invalid image file" },
  VHS_LoadVideo: { input: "video", invalid: "Invalid video file" },
  LoadVideo: { input: "file", invalid: "Invalid video file" },
};

/** folder_paths.get_filename_list: files of the folders, relative to each, filtered by extension, sorted. */
function filenameList(installed: InstalledModels, folders: Folders): string[] {
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

function optionsOf(source: Source, installed: InstalledModels, inputFiles: readonly string[]): string[] {
  if ("models" in source) return filenameList(installed, source.models);
  const kind = source.input === "image" ? IMAGE_EXTENSIONS : VIDEO_EXTENSIONS;
  return inputFiles.filter((f) => kind.has(path.posix.extname(f).toLowerCase())).sort();
}

/** The declaration with its options replaced, in its own form or the one forced. */
function withOptions(spec: unknown, options: string[], form: "list" | "COMBO" | undefined): unknown[] {
  const declared = Array.isArray(spec) ? spec : [];
  const own = declared[0] === "COMBO" ? "COMBO" : "list";
  const extra = { ...((declared[1] as Json | undefined) ?? {}) };
  if (own === "COMBO") {
    delete extra.options;
    delete extra.multiselect;
  }
  if ((form ?? own) === "COMBO") return ["COMBO", { ...extra, multiselect: false, options }];
  return declared.length > 1 || Object.keys(extra).length > 0 ? [options, extra] : [options];
}

export interface ObjectInfoContext {
  installedModels: InstalledModels;
  inputFiles: readonly string[];
  comboForm: "list" | "COMBO" | undefined;
  /** A class left out (a custom node that is not installed). */
  missing: string | null;
}

/** Every class the server knows, as GET /object_info answers it now. */
export function objectInfo(context: ObjectInfoContext): Record<string, Json> {
  const all: Record<string, Json> = { ...NOT_CAPTURED, ...(capturedObjectInfo() as Record<string, Json>) };
  if (context.missing) delete all[context.missing];
  for (const [className, inputs] of Object.entries(FILLED)) {
    const entry = all[className];
    if (!entry) continue;
    const copy = structuredClone(entry) as { input: Record<string, Record<string, unknown> | undefined> };
    for (const [name, source] of Object.entries(inputs)) {
      const group = copy.input.required?.[name] !== undefined ? copy.input.required : copy.input.optional;
      if (!group || group[name] === undefined) continue;
      group[name] = withOptions(group[name], optionsOf(source, context.installedModels, context.inputFiles), context.comboForm);
    }
    all[className] = copy;
  }
  return all;
}
