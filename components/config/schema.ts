// The one schema of the stack config: flat config keys in, the typed StackConfig out. Single keys are checked
// by their fields; the rules that span keys run in the same pass, so every problem is reported at once.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { loadModelManifest, type ModelManifest } from "../../models";
import { checkChecks, checksSection } from "./checksRules";
import { defaultValues, stackFields, type FieldContext } from "./fields";
import { checkImage, imageSection } from "./imageFields";
import { PROJECT_NAME, issue, shapeOf } from "./keyInfo";
import { localSection } from "./localFields";
import { checkPodAccess, checkPodVolumes, podSection } from "./podRules";
import { API_KEY } from "./providerFields";
import { checkRegistry, registrySection } from "./registryFields";
import { keysUnusedBy } from "./targets";

/** Where the schema reads files from: the base of relative paths, the model manifest, and the field context. */
export interface SchemaContext extends FieldContext {
  cwd?: string;
  manifest?: () => ModelManifest;
  preview?: boolean;
}

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
        checkPodVolumes(v, ctx);
        if (v.target === "runpod" && v[API_KEY] === undefined && !context.preview) {
          issue(ctx, "required for target runpod, and RUNPOD_API_KEY is not set either", API_KEY);
        }
        checkRegistry(v, ctx);
        checkImage(v, ctx);
        checkChecks(v, ctx, manifest);
        checkPodAccess(v, ctx, v[API_KEY], isSecret("pod.env"));
      },
      { when: () => true },
    )
    .transform((v) => ({
      target: v.target,
      ignoredKeys: keysUnusedBy(v.target, v, defaults),
      image: imageSection(v, v.hfToken),
      model: { variant: v["model.variant"] },
      local: localSection(v),
      pod: podSection(v, isSecret),
      registry: registrySection(v, isSecret),
      hfToken: v.hfToken === undefined ? undefined : pulumi.secret(v.hfToken),
      comfy: { auth: v["comfy.auth"] },
      checks: checksSection(v, manifest, v["model.variant"]),
      // The API key is checked above but deliberately not passed on: it must never become a resource input.
    }));
}

export type StackConfig = z.output<ReturnType<typeof stackConfigSchema>>;
