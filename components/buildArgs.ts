// The Dockerfile ARGs ComfyImage passes, and the rules for the ones a user may add (config.ts checks the
// same rules up front, so a bad stack config is reported with every other problem before anything runs).
import type { ModelVariant } from "../models";

/** Build args that ComfyImage sets from its typed args (or that belong to its build cache); `extraBuildArgs` may not override them. */
export const MANAGED_BUILD_ARGS = [
  "ENABLE_FLASH_ATTN",
  "ENABLE_MMPOSE",
  "BAKE_STEADYDANCER",
  "STEADYDANCER_VARIANT",
  "BUILDKIT_INLINE_CACHE",
] as const;

export type ManagedBuildArg = (typeof MANAGED_BUILD_ARGS)[number];

export function isManagedBuildArg(name: string): name is ManagedBuildArg {
  return (MANAGED_BUILD_ARGS as readonly string[]).includes(name);
}

/** Build-arg names that look like credentials: build args persist in the image's history, so they are refused. */
export function looksLikeCredential(name: string): boolean {
  return /TOKEN|SECRET|PASSWORD|KEY/i.test(name);
}

export interface BuildSwitches {
  /** Build arg ENABLE_FLASH_ATTN. */
  flashAttn: boolean;
  /** Build arg ENABLE_MMPOSE. */
  mmpose: boolean;
  /** Build arg BAKE_STEADYDANCER: download the weights into the image. */
  bakeModels: boolean;
  /** Build arg STEADYDANCER_VARIANT. */
  modelVariant: ModelVariant;
  /** Further Dockerfile ARG overrides (COMFYUI_VERSION, WANVIDEOWRAPPER_REF, …). */
  extraBuildArgs?: Record<string, string>;
}

/** Every Dockerfile ARG the build gets: the typed switches and the user's overrides. */
export function dockerBuildArgs(args: BuildSwitches): Record<string, string> {
  const extra = args.extraBuildArgs ?? {};
  for (const key of Object.keys(extra)) {
    if (isManagedBuildArg(key)) {
      throw new Error(`build arg ${key} is set by ComfyImage itself and cannot be overridden`);
    }
    if (looksLikeCredential(key)) {
      throw new Error(`build arg ${key} looks like a credential: build args persist in the image`);
    }
  }
  return {
    ...extra,
    ENABLE_FLASH_ATTN: String(args.flashAttn),
    ENABLE_MMPOSE: String(args.mmpose),
    BAKE_STEADYDANCER: String(args.bakeModels),
    STEADYDANCER_VARIANT: args.modelVariant,
  };
}
