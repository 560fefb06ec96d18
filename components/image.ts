// ComfyImage: the ComfyUI + SteadyDancer image, either built from docker/ and pushed, or a prebuilt image, and
// in both cases handed on as a digest reference (repo@sha256:…) so an unchanged image never redeploys the pod.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import type { ModelVariant } from "../models";
import { contextHash } from "./dockerContext";

export const IMAGE_PLATFORM = "linux/amd64";
/** The tag next to the image that carries its inline BuildKit cache for the next build. */
export const BUILD_CACHE_TAG = "buildcache";
/** The BuildKit secret id the Dockerfile's model stage mounts (`--mount=type=secret,id=hf_token`). */
export const HF_TOKEN_SECRET_ID = "hf_token";

/** Build args that ComfyImage sets from its typed args; `extraBuildArgs` may not override them. */
export const MANAGED_BUILD_ARGS = [
  "ENABLE_FLASH_ATTN",
  "ENABLE_MMPOSE",
  "BAKE_STEADYDANCER",
  "STEADYDANCER_VARIANT",
  "BUILDKIT_INLINE_CACHE",
] as const;

export interface ComfyImageArgs {
  /** With `build`, the repo:tag to build and push; without, the prebuilt image to run (tag or digest ref). */
  imageName: string;
  /** Build docker/ and push it (true), or resolve the digest of the prebuilt `imageName` (false). */
  build: boolean;
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
  /** Credentials for pushing (build) or reading the digest (prebuilt) of a private registry. */
  registry?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
  /** Hugging Face token for baking gated weights; reaches the build only as a BuildKit secret file. */
  hfToken?: pulumi.Input<string>;
  /** The build context holding the Dockerfile; default: this checkout's docker/ folder. */
  contextDir?: string;
  /** Private directory for the token file BuildKit reads; default: a per-user folder in the OS temp dir. */
  secretDir?: string;
}

export class ComfyImage extends pulumi.ComponentResource {
  /** repo@sha256:… of the image the pod runs. */
  public readonly imageRef: pulumi.Output<string>;
  /** Whether this deployment builds the image (false: a prebuilt image was resolved). */
  public readonly built: pulumi.Output<boolean>;

  constructor(name: string, args: ComfyImageArgs, opts?: pulumi.ComponentResourceOptions) {
    const ref = parseImageRef(args.imageName);
    if (args.build && ref.digest) {
      throw new Error(`ComfyImage ${name}: cannot push to a digest (${args.imageName}); give the repo:tag to build`);
    }
    // Everything that can fail on bad args fails here, before anything is registered.
    const buildArgs = args.build ? dockerBuildArgs(args) : {};
    const context = args.build ? (args.contextDir ?? findDockerContext()) : "";
    super("steadydancer:image:ComfyImage", name, {}, opts);

    if (!args.build) {
      this.imageRef = ref.digest ? pulumi.output(args.imageName) : this.resolveDigest(name, ref, args.registry);
    } else {
      const server = registryServer(ref.name);
      const registry = args.registry && {
        server,
        username: args.registry.username,
        password: pulumi.secret(args.registry.password),
      };
      const build = { name, ref, context, buildArgs, registry };
      // docker.Image has no build secrets (pulumi-docker #539, wont-fix): a token goes the RemoteImage way.
      const pushed =
        args.bakeModels && args.hfToken !== undefined
          ? this.buildWithSecret(build, args.hfToken, args.secretDir ?? defaultSecretDir())
          : this.buildImage(build);
      this.refreshBuildCache(build, pushed);
      this.imageRef = pushed.digestRef;
    }
    this.built = pulumi.output(args.build);
    this.registerOutputs({ imageRef: this.imageRef, built: this.built });
  }

  /** docker.Image: BuildKit build with inline cache, pushed to the one tag it supports. */
  private buildImage(b: BuildPlan): Pushed {
    const image = new docker.Image(
      `${b.name}-image`,
      {
        imageName: b.ref.text,
        build: {
          context: b.context,
          dockerfile: path.join(b.context, "Dockerfile"),
          platform: IMAGE_PLATFORM,
          builderVersion: "BuilderBuildKit",
          args: b.buildArgs,
          cacheFrom: { images: [cacheRef(b.ref)] },
        },
        registry: b.registry,
      },
      { parent: this },
    );
    return { localName: image.imageName, trigger: image.repoDigest, digestRef: image.repoDigest };
  }

  /**
   * RemoteImage builds with `--secret id=hf_token,src=<file>`, RegistryImage pushes it. BuildKit reads secrets
   * from a file or the provider's environment only, so the token is written to a private file (0600) for as
   * long as the build needs it: not at all in a preview (nothing is built), and removed as soon as the
   * RemoteImage is built or found unchanged, or when the program exits or is interrupted before that. State
   * holds the file's path, which never changes, never the token.
   */
  private buildWithSecret(b: BuildPlan, hfToken: pulumi.Input<string>, secretDir: string): Pushed {
    const fileName = `${HF_TOKEN_SECRET_ID}-${safeName(pulumi.getStack())}`;
    const tokenFile = pulumi
      .secret(hfToken)
      .apply((token) => (pulumi.runtime.isDryRun() ? path.join(secretDir, fileName) : writePrivateFile(secretDir, fileName, token)));
    const local = new docker.RemoteImage(
      `${b.name}-build`,
      {
        name: b.ref.text,
        build: {
          context: b.context,
          dockerfile: "Dockerfile",
          platform: IMAGE_PLATFORM,
          buildArgs: b.buildArgs,
          cacheFroms: [cacheRef(b.ref)],
          secrets: [{ id: HF_TOKEN_SECRET_ID, src: tokenFile }],
          ...(b.registry && {
            authConfigs: [{ hostName: b.registry.server, userName: b.registry.username, password: b.registry.password }],
          }),
        },
        // RemoteImage does not notice context changes by itself: rebuild when the files the builder receives
        // (the .dockerignore decides) or the args change.
        triggers: { context: contextHash(b.context), buildArgs: JSON.stringify(sortedRecord(b.buildArgs)) },
        keepLocally: true,
      },
      { parent: this },
    );
    // The engine answers the registration only after the provider's build has read the file.
    pulumi.all([tokenFile, local.imageId]).apply(([file]) => removePrivateFile(file));
    const pushed = new docker.RegistryImage(
      `${b.name}-push`,
      {
        name: local.name,
        keepRemotely: true,
        triggers: { imageId: local.imageId },
        ...(b.registry && { authConfig: registryAuth(b.registry) }),
      },
      { parent: this },
    );
    return {
      localName: local.name,
      trigger: local.imageId,
      digestRef: pushed.sha256Digest.apply((digest) => `${b.ref.name}@${checkedDigest(digest, b.ref.text)}`),
    };
  }

  /**
   * The next build reads its cache from <repo>:buildcache. docker.Image pushes one tag only, so each new build
   * is tagged locally as :buildcache (docker.Tag) and pushed (RegistryImage); both are triggered by the new
   * digest, so an unchanged image pushes nothing. The first build finds no cache tag and builds from scratch.
   */
  private refreshBuildCache(b: BuildPlan, pushed: Pushed): void {
    const tag = new docker.Tag(
      `${b.name}-buildcache-tag`,
      { sourceImage: pushed.localName, targetImage: cacheRef(b.ref), tagTriggers: [pushed.trigger] },
      { parent: this },
    );
    new docker.RegistryImage(
      `${b.name}-buildcache`,
      {
        name: tag.targetImage,
        keepRemotely: true,
        triggers: { source: pushed.trigger },
        ...(b.registry && { authConfig: registryAuth(b.registry) }),
      },
      { parent: this },
    );
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

interface BuildPlan {
  name: string;
  ref: ImageRef;
  context: string;
  buildArgs: Record<string, string>;
  registry?: { server: string; username: pulumi.Input<string>; password: pulumi.Output<string> };
}

interface Pushed {
  /** The built image's name in the local daemon. */
  localName: pulumi.Output<string>;
  /** Changes exactly when a new image was built. */
  trigger: pulumi.Output<string>;
  /** repo@sha256:… as pushed. */
  digestRef: pulumi.Output<string>;
}

export interface ImageRef {
  /** The reference as given. */
  text: string;
  /** [registry/]path without tag or digest. */
  name: string;
  tag?: string;
  /** sha256:<64 hex> */
  digest?: string;
}

// [registry[:port]/]path[:tag][@sha256:digest], path components lowercase (Docker's reference grammar).
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_REF = new RegExp(
  `^(?<name>(?:[A-Za-z0-9.-]+(?::\\d+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)` +
    "(?::(?<tag>\\w[\\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$",
);

/** Why `ref` is not an image reference, or undefined when it is one. */
export function imageRefProblem(ref: string): string | undefined {
  if (ref.length === 0) return "is empty";
  if (/\s/.test(ref)) return "contains whitespace";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) return "is a URL; give the image reference without a scheme";
  const at = ref.indexOf("@");
  if (at >= 0 && !/^sha256:[a-f0-9]{64}$/.test(ref.slice(at + 1))) return "has a malformed digest";
  return IMAGE_REF.test(ref) ? undefined : "is not an image reference";
}

/** Splits [registry[:port]/]path[:tag][@sha256:digest]; throws on anything else. */
export function parseImageRef(text: string): ImageRef {
  const groups = IMAGE_REF.exec(text)?.groups;
  const name = groups?.name;
  if (!groups || name === undefined) throw new Error(`image reference ${JSON.stringify(text)} ${imageRefProblem(text) ?? "is not an image reference"}`);
  return {
    text,
    name,
    ...(groups.tag !== undefined ? { tag: groups.tag } : {}),
    ...(groups.digest !== undefined ? { digest: groups.digest } : {}),
  };
}

/** The registry host of an image name, as `docker login` names it; Docker Hub for names without one. */
export function registryServer(name: string): string {
  const first = name.split("/")[0] ?? name;
  const hasHost = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  return hasHost ? first : "docker.io";
}

/** The address registry API clients (provider registryAuth, RegistryImage) use: Docker Hub's API lives elsewhere. */
function apiAddress(server: string): string {
  return server === "docker.io" ? "registry-1.docker.io" : server;
}

function registryAuth(r: NonNullable<BuildPlan["registry"]>) {
  return { address: apiAddress(r.server), username: r.username, password: r.password };
}

function cacheRef(ref: ImageRef): string {
  return `${ref.name}:${BUILD_CACHE_TAG}`;
}

const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/);

function checkedDigest(digest: unknown, image: string): string {
  const parsed = digestSchema.safeParse(digest);
  if (!parsed.success) throw new Error(`the registry returned no usable digest for ${image}: ${JSON.stringify(digest)}`);
  return parsed.data;
}

export type ManagedBuildArg = (typeof MANAGED_BUILD_ARGS)[number];

export function isManagedBuildArg(name: string): name is ManagedBuildArg {
  return (MANAGED_BUILD_ARGS as readonly string[]).includes(name);
}

/** Build-arg names that look like credentials: build args persist in the image's history, so they are refused. */
export function looksLikeCredential(name: string): boolean {
  return /TOKEN|SECRET|PASSWORD|KEY/i.test(name);
}

/** Every Dockerfile ARG the build gets: the typed switches, the cache flag, and the user's overrides. */
export function dockerBuildArgs(
  args: Pick<ComfyImageArgs, "flashAttn" | "mmpose" | "bakeModels" | "modelVariant" | "extraBuildArgs">,
): Record<string, string> {
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
    BUILDKIT_INLINE_CACHE: "1",
  };
}

/** The docker/ folder of this checkout, found from here whether running from source or from dist/. */
export function findDockerContext(start: string = __dirname): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "docker");
    if (fs.existsSync(path.join(candidate, "Dockerfile"))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`cannot find docker/Dockerfile above ${start}`);
  }
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, "_");
}

function defaultSecretDir(): string {
  const user = typeof process.getuid === "function" ? String(process.getuid()) : safeName(os.userInfo().username);
  return path.join(os.tmpdir(), `steadydancer-build-secrets-${user}`);
}

/** Secret files this process wrote and has not removed yet. */
const privateFiles = new Set<string>();
let cleanupInstalled = false;

function removePrivateFiles(): void {
  for (const file of privateFiles) removePrivateFile(file);
}

/** Removes a file written by writePrivateFile (no error when it is already gone). */
export function removePrivateFile(file: string): void {
  fs.rmSync(file, { force: true });
  privateFiles.delete(file);
}

/**
 * Removes the secret files on exit and on SIGINT/SIGTERM. A signal listener replaces Node's default action
 * (ending the process): when ours is the only one, it is taken off and the signal raised again, so the
 * process ends as it would have; when others listen, they decide what the signal does. Ours goes first, so
 * it sees the others before a `once` listener has removed itself.
 */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once("exit", removePrivateFiles);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = (): void => {
      removePrivateFiles();
      if (process.listenerCount(signal) > 1) return;
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.prependListener(signal, onSignal);
  }
}

/**
 * Writes `content` to dir/fileName readable by this user only, refusing a directory others could tamper with,
 * and removes the file when the process exits or is stopped by SIGINT/SIGTERM. The path is stable, so it does
 * not change the build inputs.
 */
export function writePrivateFile(dir: string, fileName: string, content: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  const ownedByMe = typeof process.getuid !== "function" || stat.uid === process.getuid();
  if (!stat.isDirectory() || !ownedByMe || (stat.mode & 0o077) !== 0) {
    throw new Error(`${dir} must be a directory owned by you with mode 700 (it holds the build's secret file)`);
  }
  const file = path.join(dir, fileName);
  fs.rmSync(file, { force: true });
  installCleanup();
  privateFiles.add(file);
  fs.writeFileSync(file, content, { mode: 0o600, flag: "wx" });
  return file;
}
