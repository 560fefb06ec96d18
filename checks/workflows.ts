// The workflows the generate check can run: the built-in ones shipped in docker/workflows with what their
// video must look like, or any API-format workflow file. Also finds the input files a workflow loads.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { apiWorkflowSchema, type ApiWorkflow } from "./comfyApi";

export interface VideoExpectation {
  frames?: number;
  width?: number;
  height?: number;
}

export interface BuiltinWorkflow {
  file: string;
  expect: Required<VideoExpectation>;
}

/** What each shipped workflow must produce. Keep in step with the JSON files in docker/workflows. */
export const BUILTIN_WORKFLOWS = {
  /** EmptyImage 256x256, batch 16 → VHS_VideoCombine h264-mp4: proves the video path without model weights. */
  smoke: { file: "smoke.json", expect: { width: 256, height: 256, frames: 16 } },
  /** SteadyDancer on Wan 2.1 14B: a reference image danced by a driving video, 512x512, 30 frames. */
  steadydancer: { file: "steadydancer-dance.json", expect: { width: 512, height: 512, frames: 30 } },
} as const satisfies Record<string, BuiltinWorkflow>;
export type BuiltinWorkflowName = keyof typeof BUILTIN_WORKFLOWS;

export function isBuiltinWorkflow(name: string): name is BuiltinWorkflowName {
  return Object.prototype.hasOwnProperty.call(BUILTIN_WORKFLOWS, name);
}

/** A problem with what the user asked for (the CLI exits 2 on it). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Inputs that name a file in ComfyUI's input folder, per node class. */
const FILE_INPUTS: Record<string, string> = {
  LoadImage: "image",
  LoadImageMask: "image",
  VHS_LoadVideo: "video",
  VHS_LoadVideoFFmpeg: "video",
  LoadVideo: "file",
};

export interface AssetInput {
  nodeId: string;
  classType: string;
  input: string;
  fileName: string;
  localPath: string;
}

export interface LoadedWorkflow {
  /** The built-in name, or the path as given. */
  name: string;
  path: string;
  prompt: ApiWorkflow;
  expect: VideoExpectation;
  assets: AssetInput[];
}

/** The repository's docker/workflows, found by walking up from `from` (works from source and from dist/). */
export function findWorkflowsDir(from: string = __dirname): string | null {
  let dir = path.resolve(from);
  for (;;) {
    const candidate = path.join(dir, "docker", "workflows");
    if (fs.existsSync(candidate) && fs.statSync(candidate).isDirectory()) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    throw new UsageError(`cannot read workflow ${file}: ${code === "ENOENT" ? "no such file" : code || String(error)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`workflow ${file} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function parseApiWorkflow(json: unknown, file: string): ApiWorkflow {
  const uiFormat = z.object({ nodes: z.array(z.unknown()), links: z.array(z.unknown()) }).safeParse(json);
  if (uiFormat.success) {
    throw new UsageError(`workflow ${file} is in the editor's UI format; export it from ComfyUI with "Export (API)" / "Save (API)" and pass that file`);
  }
  const parsed = apiWorkflowSchema.safeParse(json);
  if (!parsed.success || Object.keys(parsed.data).length === 0) {
    const issue = parsed.success ? "it has no nodes" : `${parsed.error.issues[0]?.path.join(".") ?? ""}: ${parsed.error.issues[0]?.message ?? ""}`;
    throw new UsageError(`workflow ${file} is not an API-format ComfyUI workflow ({node_id: {class_type, inputs}}): ${issue}`);
  }
  return parsed.data;
}

/** File-name inputs of loader nodes (not links, not paths into subfolders). */
export function assetInputs(prompt: ApiWorkflow, assetsDir: string): AssetInput[] {
  const found: AssetInput[] = [];
  for (const [nodeId, node] of Object.entries(prompt)) {
    const input = FILE_INPUTS[node.class_type];
    if (!input) continue;
    const value = node.inputs[input];
    if (typeof value !== "string" || value.length === 0 || value.includes("/") || value.includes("\\")) continue;
    found.push({ nodeId, classType: node.class_type, input, fileName: value, localPath: path.join(assetsDir, value) });
  }
  return found;
}

export interface WorkflowRequest {
  /** A built-in name or a path to an API-format workflow file. */
  workflow: string;
  /** Overrides or, for files, the only source of expectations. */
  expect?: VideoExpectation;
  /** Where input files live; default `<workflow dir>/assets`. */
  assetsDir?: string;
  /** Where to look for docker/workflows; default: walk up from this module. */
  workflowsDir?: string | null;
}

export function loadWorkflow(request: WorkflowRequest): LoadedWorkflow {
  let file: string;
  let expect: VideoExpectation = {};
  if (isBuiltinWorkflow(request.workflow)) {
    const builtin = BUILTIN_WORKFLOWS[request.workflow];
    const dir = request.workflowsDir === undefined ? findWorkflowsDir() : request.workflowsDir;
    if (!dir) throw new UsageError(`cannot find docker/workflows above ${__dirname}; pass --workflow <file> instead`);
    file = path.join(dir, builtin.file);
    if (!fs.existsSync(file)) throw new UsageError(`the built-in workflow "${request.workflow}" is missing: ${file} does not exist`);
    expect = { ...builtin.expect };
  } else {
    file = path.resolve(request.workflow);
  }
  const overrides = Object.fromEntries(Object.entries(request.expect ?? {}).filter(([, v]) => v !== undefined)) as VideoExpectation;
  expect = { ...expect, ...overrides };
  const prompt = parseApiWorkflow(readJson(file), file);
  const assetsDir = path.resolve(request.assetsDir ?? path.join(path.dirname(file), "assets"));
  const assets = assetInputs(prompt, assetsDir);
  const missing = assets.filter((a) => !fs.existsSync(a.localPath));
  if (missing.length > 0) {
    const list = missing.map((a) => `${a.fileName} (node ${a.nodeId} ${a.classType}.${a.input})`).join(", ");
    throw new UsageError(`missing input file(s) ${list}: looked in ${assetsDir}; pass --assets <dir> with these files`);
  }
  return { name: request.workflow, path: file, prompt, expect, assets };
}
