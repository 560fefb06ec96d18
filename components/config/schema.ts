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
import { checkServerless, serverlessSection, serverlessWarnings } from "./serverlessRules";
import { keysUnusedBy } from "./targets";

/** Where the schema reads files from: the base of relative paths, the model manifest, and the field context. */
export interface SchemaContext extends FieldContext {
  cwd?: string;
  manifest?: () => ModelManifest;
  preview?: boolean;
  /** Flat keys the user set (whatever their value), for warnings about keys that do not apply. */
  givenKeys?: ReadonlySet<string>;
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
        if (v.target !== "local" && v[API_KEY] === undefined && !context.preview) {
          issue(ctx, `required for target ${v.target}, and RUNPOD_API_KEY is not set either`, API_KEY);
        }
        checkRegistry(v, ctx);
        checkImage(v, ctx);
        checkChecks(v, ctx, manifest);
        checkPodAccess(v, ctx, v[API_KEY], isSecret("pod.env"));
        checkServerless(v, ctx);
      },
      { when: () => true },
    )
    .transform((v) => ({
      target: v.target,
      ignoredKeys: keysUnusedBy(v.target, v, defaults),
      warnings: v.target === "serverless" ? serverlessWarnings(v, context.givenKeys ?? new Set()) : [],
      image: imageSection(v, v.hfToken),
      model: { variant: v["model.variant"] },
      local: localSection(v),
      pod: podSection(v, isSecret),
      serverless: serverlessSection(v),
      registry: registrySection(v, isSecret),
      hfToken: v.hfToken === undefined ? undefined : pulumi.secret(v.hfToken),
      comfy: { auth: v["comfy.auth"] },
      // A serverless endpoint runs the health and generate checks only (serverlessWarnings says so).
      checks: { ...checksSection(v, manifest, v["model.variant"]), ...(v.target === "serverless" ? { vram: false } : {}) },
      // The API key is checked above and never becomes a RunPod resource input (the providers read it in configure).
      // The one exception: the serverless checks call the endpoint's job API themselves, as commands, so they get
      // it as a secret env of those commands (encrypted in state, never on their command line).
      jobApiKey: v.target === "serverless" && v[API_KEY] !== undefined ? pulumi.secret(v[API_KEY]) : undefined,
    }));
}

export type StackConfig = z.output<ReturnType<typeof stackConfigSchema>>;
/** The serverless.* section, as components/endpoint.ts (ServerlessEndpoint) takes it. */
export type ServerlessConfig = StackConfig["serverless"];
