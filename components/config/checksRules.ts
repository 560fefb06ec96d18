// The checks.* rules that span keys (a VRAM default from the manifest, a workflow the generate check can run,
// the auth header against comfy.auth) and the typed checks section handed to DeploymentChecks.
import * as pulumi from "@pulumi/pulumi";
import { UsageError, loadWorkflow } from "../../checks";
import type { ModelManifest, ModelVariant } from "../../models";
import type { checksFields } from "./checksFields";
import { failed, issue, type LooseValues, type RefineCtx, type ValuesOf } from "./keyInfo";
import { defaultMinVram, isModelVariant, manifestMinVram } from "./modelFields";

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

export function checkChecks(v: LooseValues, ctx: RefineCtx, manifest: () => ModelManifest): void {
  const variant: unknown = v["model.variant"];
  if (v["checks.minVramGb"] === undefined && isModelVariant(variant)) {
    const min = manifestMinVram(manifest, variant);
    if ("error" in min) {
      issue(ctx, `has no default: the model manifest cannot be read (${min.error})`, "checks.minVramGb");
    }
  }
  const workflow: unknown = v["checks.workflow"];
  const assetsDir: unknown = v["checks.assetsDir"];
  if (
    v["checks.generate"] === true &&
    typeof workflow === "string" &&
    (assetsDir === undefined || typeof assetsDir === "string") &&
    !failed(ctx, "checks.workflow") &&
    !failed(ctx, "checks.assetsDir")
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
}

export function checksSection(v: ValuesOf<ReturnType<typeof checksFields>>, manifest: () => ModelManifest, variant: ModelVariant) {
  return {
    health: v["checks.health"],
    vram: v["checks.vram"],
    generate: v["checks.generate"],
    healthTimeoutMinutes: v["checks.healthTimeoutMinutes"],
    generateTimeoutMinutes: v["checks.generateTimeoutMinutes"],
    minVramGb: v["checks.minVramGb"] ?? defaultMinVram(manifest, variant),
    workflow: v["checks.workflow"],
    assetsDir: v["checks.assetsDir"],
    outDir: v["checks.outDir"],
    authHeader: v["checks.authHeader"] === undefined ? undefined : pulumi.secret(v["checks.authHeader"]),
  };
}
