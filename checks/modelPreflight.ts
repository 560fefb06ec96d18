// Before queueing, asks ComfyUI which model files its loader nodes can load (GET /object_info/{class}) and
// compares them with the files the workflow names. A pod runs whichever variant start.sh downloaded
// (STEADYDANCER_VARIANT, or fp16 after download-models.sh fell back from fp8), while the shipped workflow names
// the fp8 diffusion model; without this, POST /prompt answers value_not_in_list, or, when another output of the
// graph (the pose preview) is still valid, queues only that output and the check finds no video.
import path from "node:path";
import { loadModelManifest, type ModelManifest, type ModelVariant } from "../models";
import { comboOptions, type ApiWorkflow, type NodeInfo } from "./comfyApi";
import type { ComfyClient } from "./comfyClient";
import { describeRequestFailure } from "./common";

/**
 * Inputs that name a file under ComfyUI's models/, per node class. Names as in the node sources:
 * kijai/ComfyUI-WanVideoWrapper (nodes_model_loading.py, nodes.py), kijai/ComfyUI-WanAnimatePreprocess,
 * ComfyUI's nodes.py. WanVideoModelLoader lists `unet_gguf` (.gguf files of diffusion_models) and diffusion_models.
 */
export const MODEL_FILE_INPUTS: Readonly<Record<string, readonly string[]>> = {
  WanVideoModelLoader: ["model"],
  WanVideoVAELoader: ["model_name"],
  WanVideoTinyVAELoader: ["model_name"],
  WanVideoLoraSelect: ["lora"],
  WanVideoLoraSelectMulti: ["lora_0", "lora_1", "lora_2", "lora_3", "lora_4"],
  WanVideoVACEModelSelect: ["vace_model"],
  WanVideoExtraModelSelect: ["extra_model"],
  WanVideoTextEncodeCached: ["model_name"],
  LoadWanVideoT5TextEncoder: ["model_name"],
  LoadWanVideoClipTextEncoder: ["model_name"],
  OnnxDetectionModelLoader: ["vitpose_model", "yolo_model"],
  CLIPVisionLoader: ["clip_name"],
  CheckpointLoaderSimple: ["ckpt_name"],
  VAELoader: ["vae_name"],
  UNETLoader: ["unet_name"],
  CLIPLoader: ["clip_name"],
  LoraLoader: ["lora_name"],
  LoraLoaderModelOnly: ["lora_name"],
};

const DIFFUSION_LOADER = "WanVideoModelLoader";
const STEADYDANCER = /steadydancer/i;
const LORA_SELECTORS = new Set(["WanVideoLoraSelect", "WanVideoLoraSelectMulti", "WanVideoLoraSelectByName"]);
/** Files a folder listing may show that are no model: download-models.sh sidecars and partial downloads. */
const NOT_A_MODEL = /\.(sha256|part|aria2|lock)$|(^|\/)\./;
const SHOWN_OPTIONS = 6;

const MISSING_FIX =
  "The pod downloads the model files of STEADYDANCER_VARIANT when it starts: look at the pod's logs (download-models lines: " +
  "a download that failed or has not finished) and at MODELS_DIR on the pod (/workspace/models with a volume; its " +
  ".steadydancer-variant names the variant installed), or pass --workflow <file> with a workflow that names installed files.";

export interface ModelSubstitution {
  nodeId: string;
  classType: string;
  input: string;
  /** The file the workflow names. */
  wanted: string;
  /** The installed file used instead. */
  used: string;
}

export type PreflightOutcome =
  | { kind: "checked"; prompt: ApiWorkflow; substitutions: ModelSubstitution[]; notes: string[] }
  | { kind: "failed"; message: string; notes: string[] };

interface ModelReference {
  nodeId: string;
  classType: string;
  input: string;
  value: string;
}

export interface PreflightOptions {
  /** Names variants in messages; default: docker/models/manifest.json of this checkout, if found. */
  manifest?: ModelManifest | null;
}

/** The model files a workflow names: literal string values of the inputs in MODEL_FILE_INPUTS (links are skipped). */
export function modelReferences(prompt: ApiWorkflow): ModelReference[] {
  const found: ModelReference[] = [];
  for (const [nodeId, node] of Object.entries(prompt)) {
    for (const input of MODEL_FILE_INPUTS[node.class_type] ?? []) {
      const value = node.inputs[input];
      if (typeof value === "string" && value.length > 0) found.push({ nodeId, classType: node.class_type, input, value });
    }
  }
  return found;
}

function declaredOptions(info: NodeInfo, input: string): string[] | null {
  const declaration = info.input.required?.[input] ?? info.input.optional?.[input];
  return declaration === undefined ? null : comboOptions(declaration);
}

function showOptions(options: string[]): string {
  const models = options.filter((o) => !NOT_A_MODEL.test(o));
  if (models.length === 0) return "nothing";
  const shown = models.slice(0, SHOWN_OPTIONS).map((o) => `"${o}"`).join(", ");
  return models.length > SHOWN_OPTIONS ? `${shown} and ${models.length - SHOWN_OPTIONS} more` : shown;
}

function label(ref: Pick<ModelReference, "nodeId" | "classType">): string {
  return `node ${ref.nodeId} (${ref.classType})`;
}

function quietManifest(): ModelManifest | null {
  try {
    return loadModelManifest();
  } catch {
    return null; // run outside the repository: messages just do not name variants
  }
}

/** The variant a file name belongs to, from the manifest's variant-specific files (matched by base name). */
function variantOf(manifest: ModelManifest | null, fileName: string): ModelVariant | null {
  const base = path.posix.basename(fileName);
  const file = manifest?.files.find((f) => path.posix.basename(f.path) === base && !f.variants.includes("*"));
  const variant = file?.variants[0];
  return variant && variant !== "*" ? variant : null;
}

function swapSentence(manifest: ModelManifest | null, wanted: string, used: string): string {
  const wantedVariant = variantOf(manifest, wanted);
  const usedVariant = variantOf(manifest, used);
  const named = wantedVariant ? `the ${wantedVariant} file the workflow names` : `${path.posix.basename(wanted)}, which the workflow names`;
  let why = "";
  if (manifest && wantedVariant && usedVariant) {
    why = manifest.variants[wantedVariant].fallback === usedVariant
      ? ` (${wantedVariant} → ${usedVariant} fallback?)`
      : ` (STEADYDANCER_VARIANT=${usedVariant}?)`;
  }
  return `the pod has ${path.posix.basename(used)}, not ${named}${why}: using it`;
}

function linkedNode(prompt: ApiWorkflow, value: unknown): string | null {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && prompt[value[0]] ? value[0] : null;
}

/**
 * What a GGUF file needs from the loader node and its LoRA chain (WanVideoModelLoader.loadmodel): quantization
 * "disabled" (fixed here), no merged LoRAs and no vram_management_args (reported: the workflow has to change).
 */
function adaptForGguf(prompt: ApiWorkflow, loaderId: string): { changes: string[]; problems: string[] } {
  const loader = prompt[loaderId];
  const changes: string[] = [];
  const problems: string[] = [];
  if (!loader) return { changes, problems };
  const quantization = loader.inputs.quantization;
  if (typeof quantization === "string" && quantization !== "disabled") {
    loader.inputs.quantization = "disabled";
    changes.push(`quantization ${quantization} → disabled (the wrapper loads GGUF weights only with quantization disabled)`);
  }
  const vram = linkedNode(prompt, loader.inputs.vram_management_args);
  if (vram) problems.push(`node ${vram} (${prompt[vram]?.class_type ?? "?"}) sets vram_management_args, which GGUF models do not support: use WanVideoBlockSwap instead`);
  const seen = new Set<string>();
  for (let id = linkedNode(prompt, loader.inputs.lora); id && !seen.has(id); id = linkedNode(prompt, prompt[id]?.inputs.prev_lora)) {
    seen.add(id);
    const node = prompt[id];
    if (!node || !LORA_SELECTORS.has(node.class_type)) break;
    // merge_loras defaults to true in the LoRA select nodes.
    if (node.inputs.merge_loras !== false) {
      problems.push(`node ${id} (${node.class_type}) merges its LoRA into the model (merge_loras true), which GGUF models do not support: set merge_loras to false`);
    }
  }
  return { changes, problems };
}

/**
 * Checks every model file the workflow names against what ComfyUI lists for that input. A missing SteadyDancer
 * diffusion model is replaced by the one other SteadyDancer file installed; anything else missing fails the check
 * before queueing. Classes ComfyUI does not know are left to POST /prompt (its missing_node_type says it better).
 */
export async function preflightModels(
  client: Pick<ComfyClient, "objectInfo">,
  workflow: ApiWorkflow,
  options: PreflightOptions = {},
): Promise<PreflightOutcome> {
  const refs = modelReferences(workflow);
  const notes: string[] = [];
  if (refs.length === 0) return { kind: "checked", prompt: workflow, substitutions: [], notes };

  const classes = [...new Set(refs.map((r) => r.classType))];
  const answers = await Promise.allSettled(classes.map((c) => client.objectInfo(c)));
  const infos = new Map<string, NodeInfo>();
  classes.forEach((classType, i) => {
    const answer = answers[i];
    if (answer?.status === "fulfilled" && answer.value) infos.set(classType, answer.value);
    else if (answer?.status === "rejected") {
      notes.push(`could not ask ComfyUI which files ${classType} can load (${describeRequestFailure(answer.reason)}): leaving them to POST /prompt`);
    }
    // fulfilled with null: a class ComfyUI does not know (custom node missing): POST /prompt names it.
  });

  const prompt: ApiWorkflow = structuredClone(workflow);
  const manifest = options.manifest === undefined ? quietManifest() : options.manifest;
  const substitutions: ModelSubstitution[] = [];
  const missing: string[] = [];
  let checked = 0;
  for (const ref of refs) {
    const info = infos.get(ref.classType);
    const available = info ? declaredOptions(info, ref.input) : null;
    if (!available) continue;
    checked += 1;
    if (available.includes(ref.value)) continue;
    const where = `${label(ref)} ${ref.input} "${ref.value}"`;
    if (ref.classType === DIFFUSION_LOADER && STEADYDANCER.test(ref.value)) {
      const others = available.filter((o) => STEADYDANCER.test(o) && !NOT_A_MODEL.test(o));
      if (others.length > 1) {
        missing.push(`${where} is not installed, and several other SteadyDancer files are (${showOptions(others)}): the check cannot tell which to use`);
        continue;
      }
      const used = others[0];
      if (used !== undefined) {
        const node = prompt[ref.nodeId];
        const sentence = `${label(ref)}: ${swapSentence(manifest, ref.value, used)}`;
        if (used.toLowerCase().endsWith(".gguf")) {
          const { changes, problems } = adaptForGguf(prompt, ref.nodeId);
          if (problems.length > 0) {
            missing.push(`${where} is not installed; the one SteadyDancer file installed, "${used}", is GGUF, which this workflow cannot load as it stands: ${problems.join("; ")}`);
            continue;
          }
          notes.push(changes.length ? `${sentence}; ${changes.join("; ")}` : sentence);
        } else {
          const quantization = node?.inputs.quantization;
          // A *_scaled mode fails on weights that are not scaled fp8; "disabled" lets the loader detect the format.
          if (node && typeof quantization === "string" && quantization.includes("scaled") && !/scaled/i.test(used)) {
            node.inputs.quantization = "disabled";
            notes.push(`${sentence}; quantization ${quantization} → disabled (scaled modes need scaled fp8 weights)`);
          } else {
            notes.push(sentence);
          }
        }
        if (node) node.inputs[ref.input] = used;
        substitutions.push({ nodeId: ref.nodeId, classType: ref.classType, input: ref.input, wanted: ref.value, used });
        continue;
      }
    }
    missing.push(`${where} is not installed (installed for ${ref.input}: ${showOptions(available)})`);
  }

  if (missing.length > 0) {
    const what = missing.length === 1 ? "a model file" : `${missing.length} model files`;
    return { kind: "failed", message: `The workflow names ${what} ComfyUI does not have (checked before queueing): ${missing.join("; ")}. ${MISSING_FIX}`, notes };
  }
  if (checked > 0 && substitutions.length === 0) notes.push(`model files: all ${checked} the workflow names are installed`);
  return { kind: "checked", prompt: substitutions.length > 0 ? prompt : workflow, substitutions, notes };
}
