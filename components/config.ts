// The stack configuration: every key the program reads, validated once with zod before anything is
// created, reporting every problem at once with the key, the bad value and a command that fixes it.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { MODEL_VARIANTS, loadModelManifest, minVramGbFor, type ModelManifest, type ModelVariant } from "../models";
import { BUILTIN_WORKFLOWS, UsageError, isBuiltinWorkflow, loadWorkflow } from "../checks";
import { REDACTED, credentialShapeIn, isCredentialItem, isCredentialName, redactCredentials } from "./credentials";
import { PREDEFINED_BUILD_ARGS, declaredBuildArgs } from "./dockerfileArgs";
import { unsupportedGpuReason } from "./gpuSupport";
import { MANAGED_BUILD_ARGS, findDockerContext, imageRefProblem, isManagedBuildArg, type ManagedBuildArg } from "./image";
import { COMFYUI_PORT } from "./pod";
import { publicKeyProblem } from "./sshPublicKey";

export const PROJECT_NAME = "steadydancer-runpod";

const API_KEY = "runpod:apiKey";
const API_URL = "runpod:apiUrl";
const DEFAULT_GPU_TYPES = ["NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA A100 80GB PCIe"];
const DEFAULT_PORTS = [`${COMFYUI_PORT}/http`, "22/tcp"];
/** Where the image runs: a RunPod pod, or a container on the user's own Docker GPU host. */
export const TARGETS = ["runpod", "local"] as const;
export type Target = (typeof TARGETS)[number];
/**
 * Keys only one target reads. pod.env and pod.volumeMountPath shape the container on both targets; the other
 * pod.* keys describe RunPod placement and billing. A key of the other target is validated but not used, and
 * loadStackConfig warns about it when it differs from its default (Pulumi.yaml hands defaults to every stack).
 */
const TARGET_ONLY_PREFIX: Record<Target, string> = { runpod: "pod.", local: "local." };
const SHARED_POD_KEYS = new Set(["pod.env", "pod.volumeMountPath"]);
/** Pod volume size used when neither pod.volumeGb nor pod.networkVolumeId is set. */
const DEFAULT_VOLUME_GB = 100;
/** Env names that must not be set through pod.env: they come from secrets, or must never reach the pod. */
const RESERVED_ENV: Record<string, string> = {
  HF_TOKEN: "comes from the hfToken secret (pulumi config set --secret hfToken <token>)",
  RUNPOD_API_KEY: "the RunPod API key never goes into the pod",
  COMFYUI_AUTH_TOKEN: "the stack generates it (stack output comfyToken); comfy.auth false switches the check off",
  COMFYUI_AUTH: "comes from comfy.auth (pulumi config set comfy.auth false)",
  STEADYDANCER_VARIANT: "comes from model.variant (pulumi config set model.variant fp16)",
  PUBLIC_KEY: "comes from pod.publicKey (pulumi config set pod.publicKey \"$(cat ~/.ssh/id_ed25519.pub)\")",
  IDLE_STOP_MINUTES: "comes from pod.idleStopMinutes",
  MAX_LIFETIME_HOURS: "comes from pod.maxLifetimeHours",
  LIFETIME_ACTION: "comes from pod.lifetimeAction",
};
/** Which config key sets each build arg ComfyImage manages; image.buildArgs may not override them. */
const BUILD_ARGS_FROM_KEYS: Record<ManagedBuildArg, string> = {
  ENABLE_FLASH_ATTN: "image.flashAttn",
  ENABLE_MMPOSE: "image.mmpose",
  BAKE_STEADYDANCER: "image.bakeModels",
  STEADYDANCER_VARIANT: "model.variant",
  BUILDKIT_INLINE_CACHE: "the image component (its build cache is the registry cache <repo>:buildcache)",
};
/**
 * Keys besides the secret ones that may be stored as secrets, because the program keeps them secret all the
 * way: pod.env (every value becomes a secret env value) and registry.username; runpod:apiUrl is read by the
 * provider only, never a resource input. Any other key marked secret would reach resource inputs in plaintext.
 */
const MAY_BE_SECRET = new Set(["pod.env", "registry.username", "runpod:apiUrl"]);
/** Why a key cannot be kept secret, where there is more to say than "it is not secret". */
const NOT_SECRET_WHY: Record<string, string> = {
  "image.buildArgs":
    "build args are written into the image's history, readable by anyone who can pull the image, so nothing in them can stay secret",
};
/** Workflows the checks CLI knows by name; anything else is a file path. */
const BUILTIN_WORKFLOW_NAMES = Object.keys(BUILTIN_WORKFLOWS);

/** The config value as Pulumi hands it to the program: strings, with lists/numbers/booleans as JSON text. */
export interface RawStackConfig {
  /** Full key (`steadydancer-runpod:pod.gpuCount`, `runpod:apiKey`) → value text. */
  values: Readonly<Record<string, string>>;
  /** Full keys whose values are secrets. */
  secretKeys: Iterable<string>;
  /** The runtime could not say which keys are secret, so every key was listed: no key is refused for being one. */
  secretKeysGuessed?: boolean;
  /** Environment fallbacks for the two provider settings. */
  env?: { RUNPOD_API_KEY?: string | undefined; RUNPOD_API_URL?: string | undefined };
  /** The Pulumi project name (the namespace of the project keys); defaults to PROJECT_NAME. */
  project?: string;
  /** Directory relative paths (checks.workflow, checks.assetsDir, checks.outDir) start from; default cwd. */
  cwd?: string;
  /** The model manifest (default VRAM minimum per variant); read from docker/models/manifest.json if absent. */
  manifest?: ModelManifest;
  /** The Dockerfile whose ARGs image.buildArgs may set; default docker/Dockerfile of this checkout. */
  dockerfile?: string;
  /** `pulumi preview`: the RunPod API key may be missing (the GPU catalog pre-flight then says it was skipped). */
  preview?: boolean;
}

/** "number" keys are optional only: Pulumi.yaml cannot declare that type. */
export type ConfigType = "string" | "integer" | "number" | "boolean" | "array";

export interface KeyInfo {
  type: ConfigType;
  /** The form of a valid value, shown with every problem about the key. */
  expected: string;
  /** A command (or file edit) that sets a valid value. */
  fix: string;
  secret?: boolean;
  /** May be left unset. Pulumi.yaml cannot declare such a key: it treats a declared key without default as required. */
  optional?: boolean;
}

interface Field<S extends z.ZodType> {
  info: KeyInfo;
  schema: S;
}

const field = <S extends z.ZodType>(info: KeyInfo, schema: S): Field<S> => ({ info, schema });

type RefineCtx = z.RefinementCtx;

function issue(ctx: RefineCtx, message: string, path?: string, fix?: string): void {
  ctx.addIssue({ code: "custom", message, ...(path ? { path: [path] } : {}), ...(fix ? { params: { fix } } : {}) });
}

// Codecs from Pulumi's config text to typed values. Each reports its own reason; the key's KeyInfo adds
// the expected form and the fix.
function intText(min: number, max: number) {
  return z.string().transform((text, ctx) => {
    if (!/^[+-]?\d+$/.test(text.trim())) {
      issue(ctx, "not a whole number");
      return z.NEVER;
    }
    const n = Number(text);
    if (n < min || n > max) {
      issue(ctx, `${n} is out of range`);
      return z.NEVER;
    }
    return n;
  });
}

function boolText() {
  return z.string().transform((text, ctx) => {
    if (text === "true" || text === "false") return text === "true";
    issue(ctx, "not true or false");
    return z.NEVER;
  });
}

function numberText(min: number, max: number) {
  return z.string().transform((text, ctx) => {
    const n = Number(text.trim());
    if (text.trim() === "" || !Number.isFinite(n)) {
      issue(ctx, "not a number");
      return z.NEVER;
    }
    if (n < min || n > max) {
      issue(ctx, `${n} is out of range`);
      return z.NEVER;
    }
    return n;
  });
}

function listText() {
  return z.string().transform((text, ctx): string[] => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((item): item is string => typeof item === "string")) {
      issue(ctx, "not a list of strings");
      return z.NEVER;
    }
    return parsed;
  });
}

/** A string without whitespace (ids, names, paths). */
function token(what: string) {
  return z.string().refine((s) => s.length > 0 && !/\s/.test(s), `${what} must be non-empty without whitespace`);
}

function duplicates(items: string[]): string[] {
  return [...new Set(items.filter((item, i) => items.indexOf(item) !== i))];
}

function checkItems(
  items: string[],
  ctx: RefineCtx,
  opts: { nonEmpty?: string; item: (s: string) => string | undefined; sameKey?: (s: string) => string },
): void {
  if (opts.nonEmpty && items.length === 0) issue(ctx, opts.nonEmpty);
  for (const item of items) {
    const reason = opts.item(item);
    if (reason) issue(ctx, `item ${JSON.stringify(item)} ${reason}`);
  }
  for (const dup of duplicates(items.map(opts.sameKey ?? ((s) => s)))) {
    issue(ctx, `${JSON.stringify(dup)} is listed more than once`);
  }
}

function portProblem(port: string): string | undefined {
  const match = /^(\d{1,5})\/(http|tcp)$/.exec(port);
  if (!match) return "is not <port>/http or <port>/tcp";
  const n = Number(match[1]);
  return n >= 1 && n <= 65535 ? undefined : "has a port outside 1-65535";
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function splitEnv(item: string): [string, string] {
  const eq = item.indexOf("=");
  return eq < 0 ? [item, ""] : [item.slice(0, eq), item.slice(eq + 1)];
}

/** A KEY=VALUE item as a message may show it: a credential's value (or a whole item that looks like one) hidden. */
function shownItem(item: string): string {
  const [name, value] = splitEnv(item);
  if (!item.includes("=")) return JSON.stringify(isCredentialItem("", item) ? REDACTED : item);
  return JSON.stringify(isCredentialItem(name, value) ? `${name}=${REDACTED}` : item);
}

function checkEnv(items: string[], ctx: RefineCtx): void {
  const names: string[] = [];
  for (const item of items) {
    const [name] = splitEnv(item);
    if (!item.includes("=")) issue(ctx, `item ${shownItem(item)} is not KEY=VALUE`);
    else if (!ENV_NAME.test(name)) issue(ctx, `${JSON.stringify(name)} is not a valid env name (letters, digits, _)`);
    else if (RESERVED_ENV[name]) issue(ctx, `${name} is reserved: ${RESERVED_ENV[name]}`);
    names.push(name);
  }
  for (const dup of duplicates(names)) issue(ctx, `${dup} is set more than once`);
}

/** Credentials in a pod.env stored in plaintext, and the RunPod API key in any pod.env. */
function checkEnvValues(env: Record<string, string>, secret: boolean, apiKey: string | undefined, ctx: RefineCtx): void {
  const plaintextCredentials: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (apiKey && value === apiKey) {
      issue(ctx, `${name} carries the RunPod API key, which must never reach the pod`, "pod.env");
    } else if (!secret && isCredentialItem(name, value)) plaintextCredentials.push(name);
  }
  if (plaintextCredentials.length > 0) {
    issue(
      ctx,
      `${plaintextCredentials.join(", ")} look${plaintextCredentials.length === 1 ? "s" : ""} like a credential, and pod.env is ` +
        "stored in plaintext (in Pulumi.<stack>.yaml, and so in the pod's inputs and state)",
      "pod.env",
      `pulumi config set --secret pod.env '["NAME=value", …]' (the whole list becomes secret, every value stays secret)`,
    );
  }
}

/** The ARGs of the Dockerfile image.buildArgs may set, or why they cannot be read. */
type DeclaredArgs = () => Set<string> | Error;

function dockerfileArgsOf(dockerfile: string | undefined): DeclaredArgs {
  let cached: Set<string> | Error | undefined;
  return () => {
    if (cached) return cached;
    try {
      const file = dockerfile ?? path.join(findDockerContext(), "Dockerfile");
      cached = declaredBuildArgs(file);
    } catch (error) {
      cached = error instanceof Error ? error : new Error(String(error));
    }
    return cached;
  };
}

function checkBuildArgs(items: string[], ctx: RefineCtx, declared: DeclaredArgs): void {
  const names: string[] = [];
  for (const item of items) {
    const [name, value] = splitEnv(item);
    const setBy = isManagedBuildArg(name) ? BUILD_ARGS_FROM_KEYS[name] : undefined;
    const shape = credentialShapeIn(value);
    if (!item.includes("=")) issue(ctx, `item ${shownItem(item)} is not KEY=VALUE`);
    else if (!ENV_NAME.test(name)) issue(ctx, `${JSON.stringify(name)} is not a valid build-arg name (letters, digits, _)`);
    else if (setBy) issue(ctx, `${name} is set by ${setBy}, not through image.buildArgs`);
    else if (isCredentialName(name) || shape) {
      issue(
        ctx,
        `${name} ${shape ? `holds what looks like ${shape}` : "looks like a credential"}: build args persist in the image's ` +
          "history, readable by anyone who can pull it; the Hugging Face token goes in as a BuildKit secret from hfToken",
        undefined,
        "remove the item from image.buildArgs in Pulumi.<stack>.yaml (for Hugging Face: pulumi config set --secret hfToken <token>)",
      );
    } else if (!(PREDEFINED_BUILD_ARGS as readonly string[]).includes(name)) {
      const args = declared();
      if (args instanceof Error) {
        issue(ctx, `cannot tell whether ${name} is an ARG of the Dockerfile: ${args.message}`);
      } else if (!args.has(name)) {
        const known = [...args].filter((a) => !isManagedBuildArg(a)).sort();
        const guess = closestKey(name, known);
        issue(
          ctx,
          `${name} is not declared by an ARG in docker/Dockerfile, so the build would silently ignore it` +
            `${guess ? ` (did you mean ${guess}?)` : ""}; the Dockerfile declares ${known.join(", ")}`,
        );
      }
    }
    names.push(name);
  }
  for (const dup of duplicates(names)) issue(ctx, `${dup} is set more than once`);
}

/** Values of credential-like KEY=VALUE items in a list key's text, hidden from every problem line like secrets. */
function credentialItemValues(text: string | undefined): string[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed
    .filter((item): item is string => typeof item === "string")
    .flatMap((item) => {
      const [name, value] = splitEnv(item);
      if (!item.includes("=")) return isCredentialItem("", item) ? [item] : [];
      return isCredentialItem(name, value) ? [value] : [];
    });
}

/** Resolves checks.workflow: a built-in name as is, else the absolute path of an existing JSON object file. */
function resolveWorkflow(value: string, cwd: string, ctx: RefineCtx): string {
  if (isBuiltinWorkflow(value)) return value;
  const file = path.resolve(cwd, value);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    issue(ctx, `is neither ${BUILTIN_WORKFLOW_NAMES.join(" nor ")} nor an existing file (looked for ${file})`);
    return z.NEVER;
  }
  if (!stat.isFile()) {
    issue(ctx, `${file} is not a file`);
    return z.NEVER;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    issue(ctx, `${file} is not valid JSON`);
    return z.NEVER;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    issue(ctx, `${file} does not hold a JSON object (an API-format workflow maps node ids to nodes)`);
    return z.NEVER;
  }
  return file;
}

/** The CLI's message for input files that are not in the assets folder (checks/workflows.ts loadWorkflow). */
const MISSING_ASSETS = /^missing input file\(s\) (.+): looked in (.+?); pass --assets/s;

/**
 * What the generate check would refuse after the build and the pod were paid for: the workflow loaded the way
 * the CLI loads it, its input files looked up in the assets folder. Files only, no network.
 */
function checkWorkflowRunnable(workflow: string, assetsDir: string | undefined, ctx: RefineCtx): void {
  try {
    loadWorkflow({ workflow, ...(assetsDir === undefined ? {} : { assetsDir }) });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const missing = MISSING_ASSETS.exec(error.message);
    if (missing) {
      const [, files, dir] = missing;
      issue(
        ctx,
        `the ${workflow} workflow needs the input file(s) ${files}, which are not in ${dir}; ` +
          "the generate check would stop on it only after the image build and the pod were paid for",
        "checks.assetsDir",
        `put the files in ${dir}, or pulumi config set checks.assetsDir <a directory holding them>, ` +
          "or pulumi config set checks.workflow smoke (it needs no input files)",
      );
    } else {
      issue(ctx, `the generate check cannot run it: ${error.message}`, "checks.workflow");
    }
  }
}

function resolveDir(value: string, cwd: string, ctx: RefineCtx, mustExist: boolean): string {
  const dir = path.resolve(cwd, value);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = undefined;
  }
  if (mustExist && !stat) issue(ctx, `${dir} does not exist`);
  else if (stat && !stat.isDirectory()) issue(ctx, `${dir} is not a directory`);
  else return dir;
  return z.NEVER;
}

// "Name: value" as an HTTP header line: a token name, a colon, a value without line breaks.
const HEADER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[^\s].*$/;

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.host.length > 0;
  } catch {
    return false;
  }
}

/** Every key the program reads, with its schema and the help shown when it is wrong. */
export function stackFields(project: string = PROJECT_NAME, cwd: string = process.cwd(), context: FieldContext = {}) {
  const declaredArgs = dockerfileArgsOf(context.dockerfile);
  const listFix = (key: string, example: string[]) =>
    `edit Pulumi.<stack>.yaml: ${project}:${key}: ${JSON.stringify(example)}`;
  return {
    target: field(
      {
        type: "string",
        expected: "runpod (a RunPod GPU pod) or local (a container on this machine's Docker GPU host, before paying for a pod)",
        fix: "pulumi config set target runpod (or pulumi config set target local)",
      },
      z.enum(TARGETS, "unknown target").default("runpod"),
    ),
    "image.ref": field(
      {
        type: "string",
        expected:
          "an image reference: with image.build true the repo:tag to build and push, such as " +
          "ghcr.io/org/comfyui-steadydancer:0.1.0; with image.build false a prebuilt image (tag or repo@sha256:<64 hex>)",
        fix: "pulumi config set image.ref ghcr.io/org/comfyui-steadydancer:0.1.0",
      },
      z.string({ error: "required (the image to build, or the prebuilt image to run)" }).superRefine((ref, ctx) => {
        const reason = imageRefProblem(ref);
        if (reason) issue(ctx, reason);
      }),
    ),
    "image.build": field(
      {
        type: "boolean",
        expected: "true or false (true builds docker/ and pushes it to image.ref; false deploys image.ref as it is)",
        fix: "pulumi config set image.build true",
      },
      boolText().default(true),
    ),
    "image.bakeModels": field(
      {
        type: "boolean",
        expected: "true or false (true downloads the SteadyDancer weights into the image at build time)",
        fix: "pulumi config set image.bakeModels false",
      },
      boolText().default(false),
    ),
    "image.flashAttn": field(
      {
        type: "boolean",
        expected: "true or false (install flash-attn 2 into the image)",
        fix: "pulumi config set image.flashAttn true",
      },
      boolText().default(true),
    ),
    "image.mmpose": field(
      {
        type: "boolean",
        expected: "true or false (build mmcv and install mmpose for pose extraction)",
        fix: "pulumi config set image.mmpose true",
      },
      boolText().default(true),
    ),
    "image.buildArgs": field(
      {
        type: "array",
        expected:
          "a list of KEY=VALUE Dockerfile ARG overrides such as COMFYUI_VERSION=v0.8.1, without credentials " +
          `and without ${MANAGED_BUILD_ARGS.join(", ")}`,
        fix: listFix("image.buildArgs", ["COMFYUI_VERSION=v0.8.1"]),
      },
      listText()
        .superRefine((items, ctx) => checkBuildArgs(items, ctx, declaredArgs))
        .transform((items) => Object.fromEntries(items.map(splitEnv)))
        .default(() => ({})),
    ),
    "model.variant": field(
      {
        type: "string",
        expected: `one of ${MODEL_VARIANTS.join(", ")} (the SteadyDancer weights to use)`,
        fix: "pulumi config set model.variant fp8",
      },
      z.enum(MODEL_VARIANTS, "unknown model variant").default("fp8"),
    ),
    "pod.gpuTypes": field(
      {
        type: "array",
        expected: "a non-empty list of RunPod GPU type ids, most preferred first, without repeats",
        fix: listFix("pod.gpuTypes", DEFAULT_GPU_TYPES),
      },
      listText()
        .superRefine((items, ctx) =>
          checkItems(items, ctx, { nonEmpty: "the list is empty", item: (s) => (s.trim() ? unsupportedGpuReason(s) : "is blank") }),
        )
        .default(() => [...DEFAULT_GPU_TYPES]),
    ),
    "pod.gpuCount": field(
      { type: "integer", expected: "an integer from 1 to 8 (GPUs per pod)", fix: "pulumi config set pod.gpuCount 1" },
      intText(1, 8).default(1),
    ),
    "pod.cloud": field(
      { type: "string", expected: "SECURE or COMMUNITY", fix: "pulumi config set pod.cloud SECURE" },
      z.enum(["SECURE", "COMMUNITY"], "unknown cloud type").default("SECURE"),
    ),
    "pod.dataCenters": field(
      {
        type: "array",
        expected: "a list of RunPod data center ids such as EU-RO-1 (empty = any)",
        fix: listFix("pod.dataCenters", ["EU-RO-1", "US-KS-2"]),
      },
      listText()
        .superRefine((items, ctx) =>
          checkItems(items, ctx, { item: (s) => (/^\S+$/.test(s) ? undefined : "is blank or has whitespace") }),
        )
        .default(() => []),
    ),
    "pod.containerDiskGb": field(
      { type: "integer", expected: "an integer from 20 to 4096 (GB)", fix: "pulumi config set pod.containerDiskGb 60" },
      intText(20, 4096).default(60),
    ),
    "pod.volumeGb": field(
      {
        type: "integer",
        expected: `an integer from 10 to 4096 (GB; unset = ${DEFAULT_VOLUME_GB} GB unless pod.networkVolumeId is set)`,
        fix: `pulumi config set pod.volumeGb ${DEFAULT_VOLUME_GB}`,
        optional: true,
      },
      intText(10, 4096).optional(),
    ),
    "pod.networkVolumeId": field(
      {
        type: "string",
        expected: "a RunPod network volume id (SECURE cloud only; excludes pod.volumeGb)",
        fix: "pulumi config set pod.networkVolumeId <volume-id>",
        optional: true,
      },
      token("the id").optional(),
    ),
    "pod.modelsVolumeGb": field(
      {
        type: "integer",
        expected:
          "an integer from 10 to 4096 (GB of a RunPod network volume the stack creates and keeps for the models; pins the pod to its data centre; SECURE cloud only; excludes pod.volumeGb and pod.networkVolumeId)",
        fix: "pulumi config set pod.modelsVolumeGb 150 (or pulumi config rm pod.modelsVolumeGb)",
        optional: true,
      },
      intText(10, 4096).optional(),
    ),
    "pod.modelsVolumeDataCenter": field(
      {
        type: "string",
        expected: "the data centre id of the models volume, such as EU-RO-1 (unset = the first of pod.dataCenters)",
        fix: "pulumi config set pod.modelsVolumeDataCenter EU-RO-1",
        optional: true,
      },
      token("the data centre id").optional(),
    ),
    "pod.volumeMountPath": field(
      {
        type: "string",
        expected: "an absolute path such as /workspace",
        fix: "pulumi config set pod.volumeMountPath /workspace",
      },
      token("the path")
        .refine((p) => p.startsWith("/") && p.length > 1, "is not an absolute path below /")
        .default("/workspace"),
    ),
    "pod.ports": field(
      {
        type: "array",
        expected: `a list of "<1-65535>/http" or "<1-65535>/tcp", including ${COMFYUI_PORT}/http`,
        fix: listFix("pod.ports", DEFAULT_PORTS),
      },
      listText()
        .superRefine((items, ctx) => {
          // A port number may be declared once, whatever its protocol.
          checkItems(items, ctx, { item: portProblem, sameKey: (p) => `port ${p.split("/")[0] ?? p}` });
          if (!items.includes(`${COMFYUI_PORT}/http`)) {
            issue(ctx, `${COMFYUI_PORT}/http is missing: ComfyUI is reached through it`);
          }
        })
        .default(() => [...DEFAULT_PORTS]),
    ),
    "pod.env": field(
      {
        type: "array",
        expected:
          "a list of KEY=VALUE strings with distinct, valid names (not HF_TOKEN, STEADYDANCER_VARIANT or COMFYUI_AUTH*); " +
          "stored as a secret (pulumi config set --secret) when any value is a credential",
        fix: listFix("pod.env", ["COMFYUI_ARGS=--lowvram"]),
      },
      listText()
        .superRefine(checkEnv)
        .transform((items) => Object.fromEntries(items.map(splitEnv)))
        .default(() => ({})),
    ),
    "pod.maxCostPerHour": field(
      {
        type: "number",
        expected:
          "a number of USD per hour for the whole pod, 0.01 to 1000 (GPU types whose list price × pod.gpuCount is higher are skipped; a pod billed higher is terminated)",
        fix: "pulumi config set pod.maxCostPerHour 1.5 (or pulumi config rm pod.maxCostPerHour for no cap)",
        optional: true,
      },
      numberText(0.01, 1000).optional(),
    ),
    "pod.readyTimeoutMinutes": field(
      {
        type: "integer",
        expected: "an integer from 1 to 240 (minutes)",
        fix: "pulumi config set pod.readyTimeoutMinutes 20",
      },
      intText(1, 240).default(20),
    ),
    "pod.deleteOnFailure": field(
      {
        type: "boolean",
        expected: "true or false (false keeps a pod that failed to start, for debugging)",
        fix: "pulumi config set pod.deleteOnFailure true",
      },
      boolText().default(true),
    ),
    "pod.createBeforeDelete": field(
      {
        type: "boolean",
        expected: "true or false (true starts the new pod before deleting the old one: briefly two GPUs)",
        fix: "pulumi config set pod.createBeforeDelete false",
      },
      boolText().default(false),
    ),
    "local.port": field(
      {
        type: "integer",
        expected: "an integer from 1 to 65535 (the port on 127.0.0.1 where the local container publishes ComfyUI)",
        fix: `pulumi config set local.port ${COMFYUI_PORT}`,
      },
      intText(1, 65535).default(COMFYUI_PORT),
    ),
    "local.volumeName": field(
      {
        type: "string",
        expected: `a Docker volume name (letters, digits, _ . -) for the local container's pod.volumeMountPath; unset = steadydancer-<stack>-workspace`,
        fix: "pulumi config set local.volumeName steadydancer-workspace (or pulumi config rm local.volumeName)",
        optional: true,
      },
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]+$/, "is not a Docker volume name").optional(),
    ),
    "local.readyTimeoutMinutes": field(
      {
        type: "integer",
        expected: "an integer from 1 to 240 (minutes the local container may take to report healthy, first model download included)",
        fix: "pulumi config set local.readyTimeoutMinutes 45",
      },
      intText(1, 240).default(45),
    ),
    "pod.idleStopMinutes": field(
      {
        type: "integer",
        expected: "an integer from 0 to 10080 (minutes without a queued or running prompt before the pod stops itself; 0 = never)",
        fix: "pulumi config set pod.idleStopMinutes 30",
      },
      intText(0, 10080).default(0),
    ),
    "pod.maxLifetimeHours": field(
      {
        type: "integer",
        expected: "an integer from 0 to 720 (hours after its start the pod stops itself, busy or not; 0 = never)",
        fix: "pulumi config set pod.maxLifetimeHours 8",
      },
      intText(0, 720).default(0),
    ),
    "pod.lifetimeAction": field(
      {
        type: "string",
        expected: "stop (keeps the volume; the next pulumi up starts it) or terminate (deletes the pod and its pod volume)",
        fix: "pulumi config set pod.lifetimeAction stop",
      },
      z.enum(["stop", "terminate"], "unknown action").default("stop"),
    ),
    "pod.publicKey": field(
      {
        type: "string",
        expected: "an OpenSSH public key line (the contents of ~/.ssh/id_ed25519.pub), for root over SSH",
        fix: 'pulumi config set pod.publicKey "$(cat ~/.ssh/id_ed25519.pub)"',
        optional: true,
      },
      z
        .string()
        .superRefine((text, ctx) => {
          const problem = publicKeyProblem(text);
          if (problem) issue(ctx, problem);
        })
        .transform((text) => text.trim())
        .optional(),
    ),
    "registry.username": field(
      {
        type: "string",
        expected: "the container registry user, together with registry.password",
        fix: "pulumi config set registry.username <user>",
        optional: true,
      },
      token("the user name").optional(),
    ),
    "registry.password": field(
      {
        type: "string",
        expected: "a secret: the registry password or token, together with registry.username",
        fix: "pulumi config set --secret registry.password <password>",
        secret: true,
        optional: true,
      },
      z.string().optional(),
    ),
    hfToken: field(
      {
        type: "string",
        expected: "a secret: a Hugging Face token for gated model downloads",
        fix: "pulumi config set --secret hfToken <token>",
        secret: true,
        optional: true,
      },
      z.string().optional(),
    ),
    "checks.health": field(
      {
        type: "boolean",
        expected: "true or false (after deploying, wait until ComfyUI answers /api/system_stats)",
        fix: "pulumi config set checks.health true",
      },
      boolText().default(true),
    ),
    "checks.vram": field(
      {
        type: "boolean",
        expected: "true or false (after deploying, check the GPU memory against checks.minVramGb)",
        fix: "pulumi config set checks.vram true",
      },
      boolText().default(true),
    ),
    "checks.generate": field(
      {
        type: "boolean",
        expected: "true or false (after deploying, run checks.workflow and validate the video; the expensive check)",
        fix: "pulumi config set checks.generate true",
      },
      boolText().default(true),
    ),
    "checks.healthTimeoutMinutes": field(
      {
        type: "integer",
        // A first boot downloads the model weights (about 30 GB for fp8) before ComfyUI starts listening.
        expected: "an integer from 1 to 240 (minutes the health check waits for ComfyUI, model download included)",
        fix: "pulumi config set checks.healthTimeoutMinutes 45",
      },
      intText(1, 240).default(45),
    ),
    "checks.generateTimeoutMinutes": field(
      {
        type: "integer",
        expected: "an integer from 1 to 480 (minutes the generation check may take)",
        fix: "pulumi config set checks.generateTimeoutMinutes 30",
      },
      intText(1, 480).default(30),
    ),
    "checks.minVramGb": field(
      {
        type: "number",
        expected: "a number of GB from 1 to 1024 (unset = the model manifest's minimum for model.variant)",
        fix: "pulumi config set checks.minVramGb 24 (or pulumi config rm checks.minVramGb)",
        optional: true,
      },
      numberText(1, 1024).optional(),
    ),
    "checks.workflow": field(
      {
        type: "string",
        expected: `${BUILTIN_WORKFLOW_NAMES.join(", ")} or the path of an API-format workflow JSON file`,
        fix: "pulumi config set checks.workflow smoke",
      },
      z
        .string()
        .transform((value, ctx) => resolveWorkflow(value, cwd, ctx))
        .default("smoke"),
    ),
    "checks.assetsDir": field(
      {
        type: "string",
        expected: "an existing directory with the workflow's input files (unset = the CLI's default next to the workflow)",
        fix: "pulumi config set checks.assetsDir <dir> (or pulumi config rm checks.assetsDir)",
        optional: true,
      },
      token("the path")
        .transform((value, ctx) => resolveDir(value, cwd, ctx, true))
        .optional(),
    ),
    "checks.outDir": field(
      {
        type: "string",
        expected: "a directory for the generated video (created if missing)",
        fix: "pulumi config set checks.outDir checks-output",
      },
      token("the path")
        .transform((value, ctx) => resolveDir(value, cwd, ctx, false))
        // prefault: the default goes through the transform too, so it is resolved against cwd.
        .prefault("checks-output"),
    ),
    "comfy.auth": field(
      {
        type: "boolean",
        expected:
          "true or false (true: ComfyUI answers only requests carrying the stack's token, stack output comfyToken; " +
          "false: anyone with the URL can use it, for a ComfyUI behind an authenticating proxy of your own)",
        fix: "pulumi config set comfy.auth true",
      },
      boolText().default(true),
    ),
    "checks.authHeader": field(
      {
        type: "string",
        expected:
          'a secret: one HTTP header line "Name: value" for a ComfyUI behind an authenticating proxy of your own ' +
          "(with comfy.auth false; with comfy.auth true the checks send the stack's token themselves)",
        fix: 'pulumi config set --secret checks.authHeader "Authorization: Bearer <token>"',
        secret: true,
        optional: true,
      },
      z.string().refine((h) => HEADER_LINE.test(h), 'is not one "Name: value" header line').optional(),
    ),
    [API_KEY]: field(
      {
        type: "string",
        expected: "a secret: the RunPod API key (config runpod:apiKey or env RUNPOD_API_KEY)",
        fix: "pulumi config set --secret runpod:apiKey <key> (or export RUNPOD_API_KEY)",
        secret: true,
      },
      // Required by the runpod target only, and not by `pulumi preview`; checked with the other cross-key rules.
      z.string().optional(),
    ),
    [API_URL]: field(
      {
        type: "string",
        expected: "an http(s) URL (default https://api.runpod.io/v2)",
        fix: "pulumi config rm runpod:apiUrl (or pulumi config set runpod:apiUrl https://api.runpod.io/v2)",
        optional: true,
      },
      z.string().refine(isHttpUrl, "is not an http(s) URL").optional(),
    ),
  };
}

type Infos = Record<string, KeyInfo | undefined>;
type ShapeOf<F extends Record<string, Field<z.ZodType>>> = { [K in keyof F]: F[K]["schema"] };

function shapeOf<F extends Record<string, Field<z.ZodType>>>(fields: F): ShapeOf<F> {
  return Object.fromEntries(Object.entries(fields).map(([key, f]) => [key, f.schema])) as ShapeOf<F>;
}

/** What single keys' checks need beyond their value. */
export interface FieldContext {
  /** Flat keys (`pod.env`, `runpod:apiKey`) whose values are stored as secrets. */
  secretKeys?: ReadonlySet<string>;
  /** The Dockerfile whose ARGs image.buildArgs may set; default docker/Dockerfile of this checkout. */
  dockerfile?: string;
}

/** Where the schema reads files from: the base of relative paths, the model manifest, and the field context. */
export interface SchemaContext extends FieldContext {
  cwd?: string;
  manifest?: () => ModelManifest;
  preview?: boolean;
}

function isModelVariant(value: unknown): value is ModelVariant {
  return (MODEL_VARIANTS as readonly unknown[]).includes(value);
}

/** The manifest's VRAM minimum for a variant, or why it cannot be had. */
function manifestMinVram(manifest: () => ModelManifest, variant: ModelVariant): { gb: number } | { error: string } {
  try {
    return { gb: minVramGbFor(manifest(), variant) };
  } catch (err) {
    return { error: err instanceof Error ? err.message.split("\n")[0] ?? String(err) : String(err) };
  }
}

/** Each key's value when it is not set (undefined for optional keys), as its schema gives it. */
function defaultValues(fields: Record<string, Field<z.ZodType>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields).map(([key, f]) => {
      const parsed = f.schema.safeParse(undefined);
      return [key, JSON.stringify(parsed.success ? parsed.data : undefined) ?? ""];
    }),
  );
}

/** Keys set to something other than their default that `target` does not read (the other target's keys). */
function keysUnusedBy(target: Target, values: Record<string, unknown>, defaults: Record<string, string>): string[] {
  const other = TARGETS.find((t) => t !== target) ?? target;
  const prefix = TARGET_ONLY_PREFIX[other];
  return Object.keys(values)
    .filter((key) => key.startsWith(prefix) && !SHARED_POD_KEYS.has(key))
    .filter((key) => (JSON.stringify(values[key]) ?? "") !== defaults[key])
    .sort();
}

/** The one schema of the stack config: flat config keys in, the typed StackConfig out. */
export function stackConfigSchema(project: string = PROJECT_NAME, context: SchemaContext = {}) {
  let cached: ModelManifest | undefined;
  const manifest = context.manifest ?? (() => (cached ??= loadModelManifest()));
  const fields = stackFields(project, context.cwd, context);
  const defaults = defaultValues(fields);
  const isSecret = (key: string) => context.secretKeys?.has(key) ?? false;
  return z
    .object(shapeOf(fields))
    .strict()
    .superRefine(
      (v, ctx) => {
        // Runs even when single keys failed (`when`), so cross-key problems are reported in the same pass.
        // A failed key is present but holds no usable value: test presence, and types before use.
        const volumeGb = v["pod.volumeGb"] !== undefined;
        const networkVolume = v["pod.networkVolumeId"] !== undefined;
        if (volumeGb && networkVolume) {
          issue(
            ctx,
            "set either pod.volumeGb (a pod volume) or pod.networkVolumeId (a network volume), not both",
            "pod.networkVolumeId",
            "pulumi config rm pod.volumeGb (or pulumi config rm pod.networkVolumeId)",
          );
        }
        if (v["pod.modelsVolumeGb"] !== undefined) checkModelsVolume(v, ctx);
        if (networkVolume && v["pod.cloud"] === "COMMUNITY") {
          const fix = "pulumi config set pod.cloud SECURE";
          issue(ctx, "network volumes attach to SECURE cloud pods only", "pod.cloud", fix);
        }
        if (v.target === "runpod" && v[API_KEY] === undefined && !context.preview) {
          issue(ctx, "required for target runpod, and RUNPOD_API_KEY is not set either", API_KEY);
        }
        const user = v["registry.username"] !== undefined;
        const password = v["registry.password"] !== undefined;
        if (user && !password) {
          const message = "registry.username is set, so registry.password is needed too (both or neither)";
          issue(ctx, message, "registry.password");
        }
        if (password && !user) {
          const message = "registry.password is set, so registry.username is needed too (both or neither)";
          issue(ctx, message, "registry.username");
        }
        const ref = v["image.ref"];
        if (v["image.build"] === true && typeof ref === "string" && ref.includes("@")) {
          issue(
            ctx,
            "cannot push to a digest: with image.build true, image.ref is the repo:tag to build and push",
            "image.ref",
            "pulumi config set image.ref ghcr.io/org/comfyui-steadydancer:0.1.0 (or pulumi config set image.build false to run that digest as it is)",
          );
        }
        if (v["image.build"] === false) {
          const fix = "pulumi config set image.build true (or leave the key unset)";
          if (v["image.bakeModels"] === true) {
            issue(ctx, "image.bakeModels needs image.build true: a prebuilt image is run as it is", "image.bakeModels", fix);
          }
          const extra: unknown = v["image.buildArgs"];
          if (extra && typeof extra === "object" && Object.keys(extra).length > 0) {
            issue(ctx, "image.buildArgs needs image.build true: a prebuilt image is run as it is", "image.buildArgs", fix);
          }
        }
        const variant: unknown = v["model.variant"];
        if (v["checks.minVramGb"] === undefined && isModelVariant(variant)) {
          const min = manifestMinVram(manifest, variant);
          if ("error" in min) {
            issue(ctx, `has no default: the model manifest cannot be read (${min.error})`, "checks.minVramGb");
          }
        }
        const failed = (key: string) => ctx.issues.some((i) => i.path?.[0] === key);
        const workflow: unknown = v["checks.workflow"];
        const assetsDir: unknown = v["checks.assetsDir"];
        if (
          v["checks.generate"] === true &&
          typeof workflow === "string" &&
          (assetsDir === undefined || typeof assetsDir === "string") &&
          !failed("checks.workflow") &&
          !failed("checks.assetsDir")
        ) {
          checkWorkflowRunnable(workflow, assetsDir, ctx);
        }
        if (v["comfy.auth"] === true && v["checks.authHeader"] !== undefined) {
          issue(
            ctx,
            "with comfy.auth true the checks send the stack's own token; checks.authHeader is for a proxy of your own, with comfy.auth false",
            "checks.authHeader",
            "pulumi config rm checks.authHeader (or pulumi config set comfy.auth false to rely on your own proxy)",
          );
        }
        const ports: unknown = v["pod.ports"];
        if (v["pod.publicKey"] !== undefined && Array.isArray(ports) && !ports.includes("22/tcp")) {
          const fix = `add "22/tcp" to pod.ports in Pulumi.<stack>.yaml (or pulumi config rm pod.publicKey)`;
          issue(ctx, "pod.publicKey is set but pod.ports lacks 22/tcp: sshd would have no port to listen on", "pod.ports", fix);
        }
        const env: unknown = v["pod.env"];
        const apiKey: unknown = v[API_KEY];
        if (env && typeof env === "object" && !failed("pod.env")) {
          const values = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string"));
          checkEnvValues(values, isSecret("pod.env"), typeof apiKey === "string" ? apiKey : undefined, ctx);
        }
      },
      { when: () => true },
    )
    .transform((v) => ({
      target: v.target,
      ignoredKeys: keysUnusedBy(v.target, v, defaults),
      image: {
        ref: v["image.ref"],
        build: v["image.build"],
        bakeModels: v["image.bakeModels"],
        flashAttn: v["image.flashAttn"],
        mmpose: v["image.mmpose"],
        extraBuildArgs: v["image.buildArgs"],
        // The token reaches the image build (as a BuildKit secret) only when weights are baked in.
        hfToken: v["image.bakeModels"] && v.hfToken !== undefined ? pulumi.secret(v.hfToken) : undefined,
      },
      model: { variant: v["model.variant"] },
      local: {
        port: v["local.port"],
        volumeName: v["local.volumeName"],
        readyTimeoutMinutes: v["local.readyTimeoutMinutes"],
      },
      pod: {
        gpuTypes: v["pod.gpuTypes"],
        gpuCount: v["pod.gpuCount"],
        cloud: v["pod.cloud"],
        dataCenters: v["pod.dataCenters"],
        containerDiskGb: v["pod.containerDiskGb"],
        volumeGb:
          v["pod.networkVolumeId"] === undefined && v["pod.modelsVolumeGb"] === undefined
            ? (v["pod.volumeGb"] ?? DEFAULT_VOLUME_GB)
            : undefined,
        modelsVolume:
          v["pod.modelsVolumeGb"] === undefined
            ? undefined
            : { sizeGb: v["pod.modelsVolumeGb"], dataCenterId: modelsVolumeDataCenter(v) ?? "" },
        networkVolumeId: v["pod.networkVolumeId"],
        volumeMountPath: v["pod.volumeMountPath"],
        ports: v["pod.ports"],
        // A secret pod.env keeps every value secret: the Pod's env input, its state and the restart key.
        env: isSecret("pod.env") ? secretValues(v["pod.env"]) : v["pod.env"],
        readyTimeoutMinutes: v["pod.readyTimeoutMinutes"],
        maxCostPerHour: v["pod.maxCostPerHour"],
        deleteOnFailure: v["pod.deleteOnFailure"],
        createBeforeDelete: v["pod.createBeforeDelete"],
        idleStopMinutes: v["pod.idleStopMinutes"],
        maxLifetimeHours: v["pod.maxLifetimeHours"],
        lifetimeAction: v["pod.lifetimeAction"],
        publicKey: v["pod.publicKey"],
      },
      registry:
        v["registry.username"] !== undefined && v["registry.password"] !== undefined
          ? {
              username: isSecret("registry.username") ? pulumi.secret(v["registry.username"]) : v["registry.username"],
              password: pulumi.secret(v["registry.password"]),
            }
          : undefined,
      hfToken: v.hfToken === undefined ? undefined : pulumi.secret(v.hfToken),
      comfy: { auth: v["comfy.auth"] },
      checks: {
        health: v["checks.health"],
        vram: v["checks.vram"],
        generate: v["checks.generate"],
        healthTimeoutMinutes: v["checks.healthTimeoutMinutes"],
        generateTimeoutMinutes: v["checks.generateTimeoutMinutes"],
        minVramGb: v["checks.minVramGb"] ?? defaultMinVram(manifest, v["model.variant"]),
        workflow: v["checks.workflow"],
        assetsDir: v["checks.assetsDir"],
        outDir: v["checks.outDir"],
        authHeader: v["checks.authHeader"] === undefined ? undefined : pulumi.secret(v["checks.authHeader"]),
      },
      // The API key is checked above but deliberately not passed on: it must never become a resource input.
    }));
}

function secretValues(env: Record<string, string>): Record<string, pulumi.Input<string>> {
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, pulumi.secret(value)]));
}

/** The models volume's data centre: its own key, else the first of pod.dataCenters. */
function modelsVolumeDataCenter(v: Record<string, unknown>): string | undefined {
  const own = v["pod.modelsVolumeDataCenter"];
  if (typeof own === "string") return own;
  const listed = v["pod.dataCenters"];
  return Array.isArray(listed) && typeof listed[0] === "string" ? listed[0] : undefined;
}

/** pod.modelsVolumeGb replaces the pod volume with a network volume, which pins the pod to one data centre. */
function checkModelsVolume(v: Record<string, unknown>, ctx: RefineCtx): void {
  for (const other of ["pod.volumeGb", "pod.networkVolumeId"]) {
    if (v[other] !== undefined) {
      issue(ctx, `set either pod.modelsVolumeGb or ${other}, not both: both give the pod its one volume`, "pod.modelsVolumeGb", `pulumi config rm ${other}`);
    }
  }
  if (v["pod.cloud"] === "COMMUNITY") {
    issue(ctx, "network volumes attach to SECURE cloud pods only", "pod.cloud", "pulumi config set pod.cloud SECURE");
  }
  const dc = modelsVolumeDataCenter(v);
  const listed = v["pod.dataCenters"];
  if (dc === undefined) {
    issue(
      ctx,
      "has no data centre: a network volume lives in one, and the pod must run there",
      "pod.modelsVolumeDataCenter",
      "pulumi config set pod.modelsVolumeDataCenter EU-RO-1 (a data centre that offers network volumes and your GPU types)",
    );
  } else if (Array.isArray(listed) && listed.length > 0 && !listed.includes(dc)) {
    issue(
      ctx,
      `${dc} is not in pod.dataCenters, but the pod must run where its models volume is`,
      "pod.modelsVolumeDataCenter",
      `add ${dc} to pod.dataCenters in Pulumi.<stack>.yaml, or pulumi config set pod.modelsVolumeDataCenter ${String(listed[0])}`,
    );
  }
}

/** Only called once superRefine has confirmed the manifest can be read. */
function defaultMinVram(manifest: () => ModelManifest, variant: ModelVariant): number {
  const min = manifestMinVram(manifest, variant);
  if ("error" in min) throw new Error(min.error);
  return min.gb;
}

export type StackConfig = z.output<ReturnType<typeof stackConfigSchema>>;

export type ParseResult = { ok: true; config: StackConfig } | { ok: false; problems: string[] };

interface Collected {
  input: Record<string, string>;
  labels: Record<string, string>;
  secret: Set<string>;
  problems: string[];
}

/** Turns Pulumi's full keys into the schema's flat keys, applying the env fallbacks. */
function collect(raw: RawStackConfig, project: string, infos: Infos): Collected {
  const secretKeys = new Set(raw.secretKeys);
  const out: Collected = { input: {}, labels: {}, secret: new Set(), problems: [] };
  const prefix = `${project}:`;
  const take = (key: string, fullKey: string, value: string | undefined, fromEnv?: string) => {
    const info = infos[key];
    if (value === undefined || (value === "" && (info?.optional || fromEnv))) return;
    out.input[key] = value;
    out.labels[key] = fromEnv ? `${fromEnv} (environment)` : fullKey;
    if (info?.secret || secretKeys.has(fullKey)) out.secret.add(key);
    if (info?.secret && !fromEnv && !secretKeys.has(fullKey)) {
      out.problems.push(`${fullKey} = [secret]: is stored in plaintext. Expected ${info.expected}. Fix: ${info.fix}`);
    }
    if (info && !info.secret && secretKeys.has(fullKey) && !raw.secretKeysGuessed && !MAY_BE_SECRET.has(key)) {
      const why = NOT_SECRET_WHY[key] ?? "its value reaches resource inputs and state as plain text, so the program cannot keep it secret";
      out.problems.push(
        `${fullKey} = [secret]: is stored as a secret, but ${why}. Expected ${info.expected}. ` +
          `Fix: pulumi config set ${key} <value> (without --secret)`,
      );
    }
  };
  for (const [fullKey, value] of Object.entries(raw.values)) {
    if (fullKey.startsWith(prefix)) take(fullKey.slice(prefix.length), fullKey, value);
  }
  const env = raw.env ?? {};
  for (const [key, envName] of [
    [API_KEY, "RUNPOD_API_KEY"],
    [API_URL, "RUNPOD_API_URL"],
  ] as const) {
    if (raw.values[key]) take(key, key, raw.values[key]);
    else take(key, key, env[envName], envName);
  }
  return out;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The known key an unknown one most likely meant, if any is close. */
export function closestKey(unknown: string, known: string[]): string | undefined {
  const lower = unknown.toLowerCase();
  const last = (k: string) => k.toLowerCase().split(/[.:]/).pop() ?? k;
  const exact = known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => last(k) === last(unknown));
  if (exact) return exact;
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(lower, key.toLowerCase());
    if (!best || distance < best.distance) best = { key, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(unknown.length / 4)) ? best.key : undefined;
}

/** A value as the user wrote it: lists as their JSON text (credential items masked), anything else quoted. */
function shown(value: string): string {
  let masked = value;
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((item): item is string => typeof item === "string")) {
      masked = `[${parsed.map(shownItem).join(",")}]`;
    }
  } catch {
    // not a JSON list: shown as written, redaction still applies
  }
  const text = masked.length > 200 ? `${masked.slice(0, 200)}…` : masked;
  return /^\[.*\]$/s.test(masked) ? text : JSON.stringify(text);
}

/** Validates the raw stack config. Pure: no Pulumi runtime needed (secrets become pulumi.secret Outputs). */
export function parseStackConfig(raw: RawStackConfig): ParseResult {
  const project = raw.project ?? PROJECT_NAME;
  const fields = stackFields(project);
  const infos: Infos = Object.fromEntries(Object.entries(fields).map(([key, f]) => [key, f.info]));
  const collected = collect(raw, project, infos);
  const { input, labels, secret } = collected;
  const given = raw.manifest;
  const context: SchemaContext = {
    cwd: raw.cwd ?? process.cwd(),
    ...(given ? { manifest: () => given } : {}),
    ...(raw.dockerfile === undefined ? {} : { dockerfile: raw.dockerfile }),
    ...(raw.preview ? { preview: true } : {}),
  };
  const result = stackConfigSchema(project, { ...context, secretKeys: secret }).safeParse(input);
  if (result.success && collected.problems.length === 0) return { ok: true, config: result.data };

  const line = (key: string, message: string, fix: string | undefined) => {
    const label = labels[key] ?? (key.includes(":") ? key : `${project}:${key}`);
    const value = input[key];
    const head =
      value === undefined ? `${label} is not set` : `${label} = ${secret.has(key) ? "[secret]" : shown(value)}`;
    const expected = infos[key] ? ` Expected ${infos[key].expected}.` : "";
    return `${head}: ${message}.${expected} Fix: ${fix ?? infos[key]?.fix ?? `pulumi config rm ${key}`}`;
  };
  const known = Object.keys(fields);
  const problems = [...collected.problems];
  for (const iss of result.success ? [] : result.error.issues) {
    if (iss.code === "unrecognized_keys") {
      for (const key of iss.keys) {
        const guess = closestKey(key, known);
        const hint = guess ? ` (did you mean ${guess}?)` : "";
        const fix = `pulumi config rm ${key}${guess ? `, then ${infos[guess]?.fix}` : ""}`;
        problems.push(line(key, `unknown key${hint}`, fix));
      }
      continue;
    }
    const key = String(iss.path[0] ?? "");
    const params: unknown = iss.code === "custom" ? iss.params : undefined;
    const fix = params && typeof params === "object" && "fix" in params ? params.fix : undefined;
    problems.push(line(key, iss.message, typeof fix === "string" ? fix : undefined));
  }
  const hidden = [
    ...[...secret].map((k) => input[k] ?? ""),
    ...Object.values(input).flatMap(credentialItemValues),
  ];
  return { ok: false, problems: problems.map((p) => redactCredentials(p, hidden)) };
}

/** Pulumi exports isConfigSecret at runtime but marks it internal in its typings. */
function secretKeysOf(values: Record<string, string>): { secretKeys: string[]; secretKeysGuessed: boolean } {
  const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };
  // Without the function, treat every key as secret: values stay hidden and no plaintext warning is raised.
  const isSecret = runtime.isConfigSecret;
  if (!isSecret) return { secretKeys: Object.keys(values), secretKeysGuessed: true };
  return { secretKeys: Object.keys(values).filter((key) => isSecret(key)), secretKeysGuessed: false };
}

/** Reads and validates the live stack config; throws one error listing every problem. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const values = pulumi.runtime.allConfig();
  const result = parseStackConfig({
    values,
    ...secretKeysOf(values),
    env: { RUNPOD_API_KEY: env.RUNPOD_API_KEY, RUNPOD_API_URL: env.RUNPOD_API_URL },
    project: pulumi.getProject(),
    preview: pulumi.runtime.isDryRun(),
  });
  if (!result.ok) {
    const count = result.problems.length === 1 ? "1 problem" : `${result.problems.length} problems`;
    throw new pulumi.RunError(
      `The stack configuration has ${count}; nothing was created:\n${result.problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  const ignored = result.config.ignoredKeys;
  if (ignored.length > 0) {
    void pulumi.log.warn(
      `target ${result.config.target} does not use ${ignored.join(", ")}; they are kept but have no effect ` +
        `(pulumi config rm <key> to drop them, or pulumi config set target ${result.config.target === "local" ? "runpod" : "local"})`,
    );
  }
  return result.config;
}
