// image.*: what to build (or which prebuilt image to run) and the build args a user may add.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { credentialShapeIn, isCredentialName } from "../credentials";
import { PREDEFINED_BUILD_ARGS, declaredBuildArgs } from "../dockerfileArgs";
import { MANAGED_BUILD_ARGS, findDockerContext, imageRefProblem, isManagedBuildArg, type ManagedBuildArg } from "../image";
import { boolText, duplicates, listText } from "./codecs";
import { ENV_NAME, shownItem, splitEnv } from "./envItems";
import { closestKey } from "./problems";
import { field, issue, type ListFix, type LooseValues, type RefineCtx, type ValuesOf } from "./keyInfo";

/** Which config key sets each build arg ComfyImage manages; image.buildArgs may not override them. */
const BUILD_ARGS_FROM_KEYS: Record<ManagedBuildArg, string> = {
  ENABLE_FLASH_ATTN: "image.flashAttn",
  ENABLE_MMPOSE: "image.mmpose",
  BAKE_STEADYDANCER: "image.bakeModels",
  STEADYDANCER_VARIANT: "model.variant",
  BUILDKIT_INLINE_CACHE: "the image component (its build cache is the registry cache <repo>:buildcache)",
};

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

export function imageFields(listFix: ListFix, dockerfile: string | undefined) {
  const declaredArgs = dockerfileArgsOf(dockerfile);
  return {
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
  };
}

/** What a prebuilt image or a digest reference cannot do. */
export function checkImage(v: LooseValues, ctx: RefineCtx): void {
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
}

export function imageSection(v: ValuesOf<ReturnType<typeof imageFields>>, hfToken: string | undefined) {
  return {
    ref: v["image.ref"],
    build: v["image.build"],
    bakeModels: v["image.bakeModels"],
    flashAttn: v["image.flashAttn"],
    mmpose: v["image.mmpose"],
    extraBuildArgs: v["image.buildArgs"],
    // The token reaches the image build (as a BuildKit secret) only when weights are baked in.
    hfToken: v["image.bakeModels"] && hfToken !== undefined ? pulumi.secret(hfToken) : undefined,
  };
}
