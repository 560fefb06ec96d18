// model.* and hfToken: which SteadyDancer weights, the VRAM they need (from the model manifest), and the
// Hugging Face token for gated downloads.
import { z } from "zod";
import { MODEL_VARIANTS, minVramGbFor, type ModelManifest, type ModelVariant } from "../../models";
import { field } from "./keyInfo";

export function modelFields() {
  return {
    "model.variant": field(
      {
        type: "string",
        expected: `one of ${MODEL_VARIANTS.join(", ")} (the SteadyDancer weights to use)`,
        fix: "pulumi config set model.variant fp8",
      },
      z.enum(MODEL_VARIANTS, "unknown model variant").default("fp8"),
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
  };
}

export function isModelVariant(value: unknown): value is ModelVariant {
  return (MODEL_VARIANTS as readonly unknown[]).includes(value);
}

/** The manifest's VRAM minimum for a variant, or why it cannot be had. */
export function manifestMinVram(manifest: () => ModelManifest, variant: ModelVariant): { gb: number } | { error: string } {
  try {
    return { gb: minVramGbFor(manifest(), variant) };
  } catch (err) {
    return { error: err instanceof Error ? err.message.split("\n")[0] ?? String(err) : String(err) };
  }
}

/** Only called once superRefine has confirmed the manifest can be read. */
export function defaultMinVram(manifest: () => ModelManifest, variant: ModelVariant): number {
  const min = manifestMinVram(manifest, variant);
  if ("error" in min) throw new Error(min.error);
  return min.gb;
}
