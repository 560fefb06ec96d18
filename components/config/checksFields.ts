// checks.*: which post-deploy checks run, their deadlines, and the workflow, input and output folders of the
// generate check (resolved against the project directory).
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { BUILTIN_WORKFLOWS, isBuiltinWorkflow } from "../../checks";
import { boolText, intText, numberText, token } from "./codecs";
import { field, issue, type RefineCtx } from "./keyInfo";

/** Workflows the checks CLI knows by name; anything else is a file path. */
const BUILTIN_WORKFLOW_NAMES = Object.keys(BUILTIN_WORKFLOWS);

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

export function checksFields(cwd: string) {
  return {
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
  };
}
