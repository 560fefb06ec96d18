// ComfyImage: the ComfyUI + SteadyDancer image, either built from docker/ and pushed, or a prebuilt image, and
// in both cases handed on as a digest reference (repo@sha256:…) so an unchanged image never redeploys the pod.
import * as fs from "fs";
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { dockerBuildArgs, type BuildSwitches } from "./buildArgs";
import { parseImageRef, qualifiedName, registryServer, type ImageRef } from "./imageRef";

export { MANAGED_BUILD_ARGS, dockerBuildArgs, isManagedBuildArg, looksLikeCredential, type ManagedBuildArg } from "./buildArgs";
export { imageRefProblem, parseImageRef, registryServer, type ImageRef } from "./imageRef";

export const IMAGE_PLATFORM = "linux/amd64";
/** The tag next to the image that holds its registry build cache (every stage's layers) for the next build. */
export const BUILD_CACHE_TAG = "buildcache";
/** The BuildKit secret id the Dockerfile's model stage mounts (`--mount=type=secret,id=hf_token`). */
export const HF_TOKEN_SECRET_ID = "hf_token";

export interface ComfyImageArgs extends BuildSwitches {
  /** With `build`, the repo:tag to build and push; without, the prebuilt image to run (tag or digest ref). */
  imageName: string;
  /** Build docker/ and push it (true), or resolve the digest of the prebuilt `imageName` (false). */
  build: boolean;
  /** Credentials for pushing (build) or reading the digest (prebuilt) of a private registry. */
  registry?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
  /** Hugging Face token for baking gated weights; reaches the build only as a BuildKit secret, by value. */
  hfToken?: pulumi.Input<string>;
  /** The build context holding the Dockerfile; default: this checkout's docker/ folder. */
  contextDir?: string;
}

export class ComfyImage extends pulumi.ComponentResource {
  /** repo@sha256:… of the image the pod runs. */
  public readonly imageRef: pulumi.Output<string>;
  /** Whether this deployment builds the image (false: a prebuilt image was resolved). */
  public readonly built: pulumi.Output<boolean>;
  private readonly buildAfter: pulumi.ComponentResourceOptions["dependsOn"];

  constructor(name: string, args: ComfyImageArgs, opts?: pulumi.ComponentResourceOptions) {
    const ref = parseImageRef(args.imageName);
    if (args.build && ref.digest) {
      throw new Error(`ComfyImage ${name}: cannot push to a digest (${args.imageName}); give the repo:tag to build`);
    }
    // Everything that can fail on bad args fails here, before anything is registered.
    const buildArgs = args.build ? dockerBuildArgs(args) : {};
    const context = args.build ? (args.contextDir ?? findDockerContext()) : "";
    super("steadydancer:image:ComfyImage", name, {}, opts);
    // Pulumi does not pass a component's dependsOn on to its children: the build waits for it here.
    this.buildAfter = opts?.dependsOn;

    if (!args.build) {
      this.imageRef = ref.digest ? pulumi.output(args.imageName) : this.resolveDigest(name, ref, args.registry);
    } else {
      this.imageRef = this.buildAndPush(name, ref, context, buildArgs, args);
    }
    this.built = pulumi.output(args.build);
    this.registerOutputs({ imageRef: this.imageRef, built: this.built });
  }

  /**
   * One buildx build, pushed to the tag, reading and writing every stage's layers at <repo>:buildcache.
   * The provider rebuilds only when an input or its own hash of the context (the files .dockerignore admits,
   * plus the Dockerfile) changes; the context is given relative to the project directory, where Pulumi runs
   * both this program and the provider, so another checkout of the same files has the same inputs.
   */
  private buildAndPush(
    name: string,
    ref: ImageRef,
    context: string,
    buildArgs: Record<string, string>,
    args: ComfyImageArgs,
  ): pulumi.Output<string> {
    const location = path.relative(process.cwd(), context) || ".";
    const cache = `${qualifiedName(ref.name)}:${BUILD_CACHE_TAG}`;
    const hfToken = args.bakeModels ? args.hfToken : undefined;
    const image = new dockerBuild.Image(
      `${name}-image`,
      {
        tags: [qualifiedName(ref.name) + (ref.tag !== undefined ? `:${ref.tag}` : "")],
        push: true,
        context: { location },
        dockerfile: { location: path.join(location, "Dockerfile") },
        platforms: [IMAGE_PLATFORM],
        buildArgs,
        cacheFrom: [{ registry: { ref: cache } }],
        cacheTo: [{ registry: { ref: cache, mode: dockerBuild.CacheMode.Max } }],
        ...(hfToken !== undefined && {
          secrets: { [HF_TOKEN_SECRET_ID]: pulumi.secret(hfToken) },
          // A rotated token alone bakes the same weights: it rebuilds nothing.
          ignoreSecretsInDiffCalculation: [HF_TOKEN_SECRET_ID],
        }),
        ...(args.registry && {
          registries: [
            { address: registryServer(ref.name), username: args.registry.username, password: pulumi.secret(args.registry.password) },
          ],
        }),
        // `pulumi preview` builds nothing (the provider's default would run the whole build, tens of minutes).
        buildOnPreview: false,
      },
      // The pushed tag and cache stay in the registry on destroy, as they did with docker.Image.
      { parent: this, retainOnDelete: true, ...(this.buildAfter ? { dependsOn: this.buildAfter } : {}) },
    );
    return image.digest.apply((digest) => `${ref.name}@${checkedDigest(digest, ref.text)}`);
  }

  /** Prebuilt tag: its digest from the registry, read through a provider that needs no Docker daemon. */
  private resolveDigest(name: string, ref: ImageRef, credentials: ComfyImageArgs["registry"]): pulumi.Output<string> {
    const provider = new docker.Provider(
      `${name}-registry`,
      {
        disableDockerDaemonCheck: true,
        ...(credentials && {
          registryAuth: [
            {
              address: apiAddress(registryServer(ref.name)),
              username: credentials.username,
              password: pulumi.secret(credentials.password),
            },
          ],
        }),
      },
      { parent: this },
    );
    const found = docker.getRegistryImageOutput({ name: ref.text }, { parent: this, provider });
    return found.sha256Digest.apply((digest) => `${ref.name}@${checkedDigest(digest, ref.text)}`);
  }
}

/** The address registry API clients (the docker provider's registryAuth) use: Docker Hub's API lives elsewhere. */
function apiAddress(server: string): string {
  return server === "docker.io" ? "registry-1.docker.io" : server;
}

const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/);

function checkedDigest(digest: unknown, image: string): string {
  const parsed = digestSchema.safeParse(digest);
  if (!parsed.success) throw new Error(`the registry returned no usable digest for ${image}: ${JSON.stringify(digest)}`);
  return parsed.data;
}

/** The docker/ folder of this checkout, found from here whether running from source or from dist/. */
export function findDockerContext(start: string = __dirname): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "docker");
    if (fs.existsSync(path.join(candidate, "Dockerfile"))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`cannot find docker/Dockerfile above ${start}`);
  }
}
