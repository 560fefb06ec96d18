import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { buildContextFiles, inBuildContext } from "../../components/dockerContext";
import {
  ComfyImage,
  HF_TOKEN_SECRET_ID,
  dockerBuildArgs,
  findDockerContext,
  imageRefProblem,
  parseImageRef,
  type ComfyImageArgs,
} from "../../components/image";
import {
  COMFY_IMAGE_TYPE,
  DOCKER_BUILD_IMAGE_TYPE,
  DOCKER_IMAGE_TYPE,
  DOCKER_PROVIDER_TYPE,
  DOCKER_TAG_TYPE,
  GET_REGISTRY_IMAGE,
  MockRecorder,
  REGISTRY_IMAGE_TYPE,
  REMOTE_IMAGE_TYPE,
  anyInputContains,
  fakeDigest,
  installMocks,
  plain,
  plaintextPaths,
  registeredUrns,
  settled,
  unwrap,
  type Recorded,
} from "../helpers/pulumiMocks";

const IMAGE = "ghcr.io/org/comfyui-steadydancer:0.1.0";
const REPO = "ghcr.io/org/comfyui-steadydancer";
const PASSWORD = "ghp_FAKEPASSWORD_image_test_xyz";
const HF_TOKEN = "hf_FAKETOKEN_image_test_abcdef";

const BUILD_TYPES = [DOCKER_BUILD_IMAGE_TYPE, DOCKER_IMAGE_TYPE, REMOTE_IMAGE_TYPE, REGISTRY_IMAGE_TYPE, DOCKER_TAG_TYPE];

/** A downstream resource that runs the image. */
class Consumer extends pulumi.CustomResource {
  constructor(name: string, props: { image: pulumi.Input<string> }) {
    super("test:index:Consumer", name, props);
  }
}

/** A recorded input with every secret wrapper taken off, at any depth: what the provider receives. */
function unwrapped(value: unknown): unknown {
  const v = plain(value);
  if (Array.isArray(v)) return v.map(unwrapped);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapped(x)]));
  return v;
}

/**
 * What this process writes to files while `run` runs: every write call of the real fs module (the one the
 * SDK and our modules share), with its target and its data as text.
 */
async function fileWritesDuring(run: () => Promise<void>): Promise<{ target: string; data: string }[]> {
  const realFs = process.getBuiltinModule("node:fs") as unknown as Record<string, unknown>;
  const promises = realFs.promises as Record<string, unknown>;
  const writes: { target: string; data: string }[] = [];
  const originals: [Record<string, unknown>, string, unknown][] = [];
  const text = (data: unknown) => (typeof data === "string" ? data : Buffer.isBuffer(data) ? data.toString("utf8") : String(data));
  const spied: [Record<string, unknown>, string][] = [
    [realFs, "writeFileSync"],
    [realFs, "appendFileSync"],
    [realFs, "writeSync"],
    [realFs, "writeFile"],
    [realFs, "appendFile"],
    [realFs, "write"],
    [promises, "writeFile"],
    [promises, "appendFile"],
  ];
  for (const [owner, fn] of spied) {
    const original = owner[fn] as (...a: unknown[]) => unknown;
    originals.push([owner, fn, original]);
    owner[fn] = (...a: unknown[]) => {
      writes.push({ target: String(a[0]), data: text(a[1]) });
      return original.apply(owner, a);
    };
  }
  try {
    await run();
  } finally {
    for (const [owner, fn, original] of originals) owner[fn] = original;
  }
  return writes;
}

describe("ComfyImage", function () {
  this.timeout(20000);
  let mocks: MockRecorder;
  let tmp: string;
  let context: string;

  const imageArgs = (overrides: Partial<ComfyImageArgs> = {}): ComfyImageArgs => ({
    imageName: IMAGE,
    build: true,
    flashAttn: true,
    mmpose: true,
    bakeModels: false,
    modelVariant: "fp8",
    contextDir: context,
    ...overrides,
  });

  /** The image's reference and the docker-build Image it registered, once everything settled. */
  async function built(image: ComfyImage): Promise<{ ref: string; build: Recorded }> {
    const ref = await unwrap(image.imageRef);
    await settled();
    return { ref, build: mocks.only(DOCKER_BUILD_IMAGE_TYPE) };
  }

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "comfy-image-test-"));
    context = path.join(tmp, "repo", "docker");
    fs.mkdirSync(path.join(context, "scripts"), { recursive: true });
    fs.writeFileSync(path.join(context, "Dockerfile"), "FROM scratch\n");
    fs.writeFileSync(path.join(context, "scripts", "start.sh"), "#!/bin/sh\n");
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  beforeEach(async () => {
    mocks = new MockRecorder();
    await installMocks(mocks);
  });

  describe("building (image.build true)", () => {
    it("builds the context with buildx for linux/amd64 with the build args of its switches and pushes the image.ref tag", async () => {
      const image = new ComfyImage(
        "img",
        imageArgs({ flashAttn: false, bakeModels: true, modelVariant: "fp16", extraBuildArgs: { COMFYUI_VERSION: "v0.3.75" } }),
      );
      const { build } = await built(image);

      const location = path.relative(process.cwd(), context);
      assert.deepEqual(build.inputs.tags, [IMAGE]);
      assert.equal(build.inputs.push, true);
      assert.deepEqual(build.inputs.platforms, ["linux/amd64"]);
      assert.deepEqual(build.inputs.context, { location });
      assert.deepEqual(build.inputs.dockerfile, { location: path.join(location, "Dockerfile") });
      assert.equal(path.resolve(location), context, "the provider, run in the project directory, finds the context");
      assert.deepEqual(build.inputs.buildArgs, {
        COMFYUI_VERSION: "v0.3.75",
        ENABLE_FLASH_ATTN: "false",
        ENABLE_MMPOSE: "true",
        BAKE_STEADYDANCER: "true",
        STEADYDANCER_VARIANT: "fp16",
      });
      assert.equal(build.inputs.buildOnPreview, false, "`pulumi preview` must not run a build of tens of minutes");
      assert.equal(build.retainOnDelete, true, "destroying the stack leaves the pushed image in the registry");
      assert.ok(registeredUrns().some((u) => u.endsWith(`::${COMFY_IMAGE_TYPE}$${DOCKER_BUILD_IMAGE_TYPE}::img-image`)));
      assert.deepEqual(
        mocks.created.filter((r) => r.type !== DOCKER_BUILD_IMAGE_TYPE && BUILD_TYPES.includes(r.type)),
        [],
        "one resource builds and pushes: no docker.Image, RemoteImage, Tag or RegistryImage",
      );
    });

    it("exports every stage's layers to <repo>:buildcache (mode max) and reads them back from there", async () => {
      const { build } = await built(new ComfyImage("cache", imageArgs()));

      assert.deepEqual(build.inputs.cacheTo, [{ registry: { ref: `${REPO}:buildcache`, mode: "max" } }]);
      assert.deepEqual(build.inputs.cacheFrom, [{ registry: { ref: `${REPO}:buildcache` } }]);
    });

    it("hands downstream resources the pushed digest as repo@sha256:…", async () => {
      const image = new ComfyImage("digest", imageArgs());
      const consumer = new Consumer("consumer", { image: image.imageRef });
      const [{ ref, build }, isBuilt] = await Promise.all([built(image), unwrap(image.built)]);
      await unwrap(consumer.urn);
      await settled();

      assert.equal(ref, `${REPO}@${fakeDigest(`built:${IMAGE}`)}`, "the build's digest output, on the repository");
      assert.match(ref, /^ghcr\.io\/org\/comfyui-steadydancer@sha256:[a-f0-9]{64}$/);
      assert.equal(isBuilt, true);
      const downstream = mocks.only("test:index:Consumer");
      assert.equal(downstream.inputs.image, ref, "the consumer runs the digest, not the tag");
      assert.ok(build.urn && downstream.dependencies?.includes(build.urn), "and waits for the build and push");
    });

    it("gives an unchanged context the same inputs on every run and from another checkout, so nothing is rebuilt", async () => {
      // docker-build rebuilds when an input differs or when its hash of the context's files does: the inputs
      // must carry nothing of the run or of where the checkout lives.
      const checkouts = ["a", "b"].map((n) => path.join(tmp, "checkouts", n, "project"));
      for (const dir of checkouts) {
        fs.mkdirSync(path.join(dir, "docker"), { recursive: true });
        fs.writeFileSync(path.join(dir, "docker", "Dockerfile"), "FROM scratch\n");
      }
      const cwd = process.cwd();
      const inputsIn = async (dir: string) => {
        mocks = new MockRecorder();
        await installMocks(mocks);
        process.chdir(dir);
        try {
          const args = imageArgs({
            contextDir: path.join(dir, "docker"),
            bakeModels: true,
            hfToken: pulumi.secret(HF_TOKEN),
            registry: { username: "org-bot", password: PASSWORD },
          });
          const { build } = await built(new ComfyImage("same", args));
          return unwrapped(build.inputs) as Record<string, unknown>;
        } finally {
          process.chdir(cwd);
        }
      };
      const [here, elsewhere] = checkouts as [string, string];
      const first = await inputsIn(here);
      const again = await inputsIn(here);
      const otherCheckout = await inputsIn(elsewhere);

      assert.deepEqual(again, first);
      assert.deepEqual(otherCheckout, first);
      assert.deepEqual(first.context, { location: "docker" });
      assert.equal(JSON.stringify(first).includes(tmp), false, "no absolute path of this machine in the inputs");
    });

    it("logs in to the image's registry through `registries`, with the password only ever as a secret", async () => {
      const { build } = await built(new ComfyImage("private", imageArgs({ registry: { username: "org-bot", password: PASSWORD } })));

      // The SDK lifts a nested secret to the property holding it: the whole registries list is secret.
      assert.ok(pulumi.runtime.isRpcSecret(build.inputs.registries), "the registries list carrying the password must be a secret");
      assert.deepEqual(unwrapped(build.inputs.registries), [{ address: "ghcr.io", username: "org-bot", password: PASSWORD }]);
      assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, PASSWORD, r.name)), []);
    });

    it("names Docker Hub in full in the tag and cache refs, and keeps the name as given in imageRef", async () => {
      const image = new ComfyImage("hub", imageArgs({ imageName: "someone/comfy:1", registry: { username: "u", password: PASSWORD } }));
      const { ref, build } = await built(image);

      assert.deepEqual(build.inputs.tags, ["docker.io/someone/comfy:1"]);
      assert.deepEqual(build.inputs.cacheFrom, [{ registry: { ref: "docker.io/someone/comfy:buildcache" } }]);
      assert.equal((unwrapped(build.inputs.registries) as { address: string }[])[0]?.address, "docker.io");
      assert.equal(ref, `someone/comfy@${fakeDigest("built:docker.io/someone/comfy:1")}`);
    });

    it("keeps the HF token out of the build when models are not baked", async () => {
      const { build } = await built(new ComfyImage("nobake", imageArgs({ hfToken: pulumi.secret(HF_TOKEN) })));

      assert.equal(build.inputs.secrets, undefined);
      assert.deepEqual(anyInputContains(mocks.created, HF_TOKEN), []);
    });

    it("bakes gated weights with the HF token as a BuildKit secret by value: no build arg, no plaintext, no file", async () => {
      const dockerfile = fs.readFileSync(path.join(findDockerContext(), "Dockerfile"), "utf8");
      assert.match(dockerfile, new RegExp(`--mount=type=secret,id=${HF_TOKEN_SECRET_ID}\\b`), "the id the Dockerfile mounts");
      let ref = "";
      let build: Recorded | undefined;
      const writes = await fileWritesDuring(async () => {
        const image = new ComfyImage(
          "bake",
          imageArgs({ bakeModels: true, hfToken: pulumi.secret(HF_TOKEN), registry: { username: "org-bot", password: PASSWORD } }),
        );
        ({ ref, build } = await built(image));
      });
      assert.ok(build);

      assert.ok(pulumi.runtime.isRpcSecret(build.inputs.secrets), "the secrets input is a secret");
      assert.deepEqual(unwrapped(build.inputs.secrets), { [HF_TOKEN_SECRET_ID]: HF_TOKEN });
      assert.ok(build.additionalSecretOutputs?.includes("secrets"), "and stays one in the state the provider returns");
      const elsewhere = Object.keys(build.inputs).filter((key) => key !== "secrets" && JSON.stringify(unwrapped(build?.inputs[key])).includes(HF_TOKEN));
      assert.deepEqual(elsewhere, [], "the token is in no other input, build args included");
      assert.deepEqual(anyInputContains(mocks.created.filter((r) => r !== build), HF_TOKEN), []);
      assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, HF_TOKEN, r.name)), []);
      assert.deepEqual(writes.filter((w) => w.data.includes(HF_TOKEN)), [], "no file is written with the token");
      assert.deepEqual(build.inputs.ignoreSecretsInDiffCalculation, [HF_TOKEN_SECRET_ID], "a rotated token alone rebuilds nothing");
      assert.equal((build.inputs.buildArgs as Record<string, string>).BAKE_STEADYDANCER, "true");
      assert.equal(ref, `${REPO}@${fakeDigest(`built:${IMAGE}`)}`);
    });

    it("refuses to build into a digest reference, before creating anything", () => {
      assert.throws(() => new ComfyImage("bad", imageArgs({ imageName: `${REPO}@sha256:${"c".repeat(64)}` })), /cannot push to a digest/);
      assert.deepEqual(mocks.created, []);
    });
  });

  describe("prebuilt (image.build false)", () => {
    it("builds nothing and resolves the tag's digest through a daemon-less provider with the registry login", async () => {
      const image = new ComfyImage(
        "pre",
        imageArgs({ build: false, registry: { username: "org-bot", password: PASSWORD }, contextDir: "/nonexistent" }),
      );
      const [ref, built] = await Promise.all([unwrap(image.imageRef), unwrap(image.built)]);
      await settled();

      assert.equal(ref, `${REPO}@${fakeDigest(IMAGE)}`);
      assert.equal(built, false);
      assert.deepEqual(mocks.created.filter((r) => BUILD_TYPES.includes(r.type)), []);
      const provider = mocks.only(DOCKER_PROVIDER_TYPE);
      // Provider inputs travel as JSON text.
      assert.equal(provider.inputs.disableDockerDaemonCheck, "true", "resolving a digest needs no Docker daemon");
      assert.ok(pulumi.runtime.isRpcSecret(provider.inputs.registryAuth), "registryAuth carries the password: secret");
      assert.deepEqual(JSON.parse(String(plain(provider.inputs.registryAuth))), [
        { address: "ghcr.io", username: "org-bot", password: PASSWORD },
      ]);
      assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, PASSWORD, r.name)), []);

      const lookups = mocks.calls.filter((c) => c.token === GET_REGISTRY_IMAGE);
      assert.equal(lookups.length, 1);
      assert.equal(lookups[0]?.inputs.name, IMAGE);
      assert.ok(provider.urn && lookups[0]?.provider?.startsWith(`${provider.urn}::`), "the lookup uses that provider");
    });

    it("logs in to Docker Hub's registry API for a Docker Hub image", async () => {
      const image = new ComfyImage(
        "hub",
        imageArgs({ build: false, imageName: "someone/comfy:1", registry: { username: "u", password: PASSWORD } }),
      );
      assert.equal(await unwrap(image.imageRef), `someone/comfy@${fakeDigest("someone/comfy:1")}`);
      const auth = JSON.parse(String(plain(mocks.only(DOCKER_PROVIDER_TYPE).inputs.registryAuth))) as { address: string }[];
      assert.equal(auth[0]?.address, "registry-1.docker.io");
    });

    it("passes a digest reference through without any lookup", async () => {
      const pinned = `${REPO}@sha256:${"d".repeat(64)}`;
      const image = new ComfyImage("pinned", imageArgs({ build: false, imageName: pinned }));

      assert.equal(await unwrap(image.imageRef), pinned);
      await settled();
      assert.deepEqual(mocks.created.filter((r) => r.custom).map((r) => r.type), []);
      assert.deepEqual(mocks.calls.filter((c) => c.token === GET_REGISTRY_IMAGE), []);
    });
  });

  describe("helpers", () => {
    it("refuses build args that the component sets itself or that look like credentials", () => {
      const base = { flashAttn: true, mmpose: true, bakeModels: false, modelVariant: "fp8" as const };
      assert.throws(() => dockerBuildArgs({ ...base, extraBuildArgs: { STEADYDANCER_VARIANT: "fp16" } }), /set by ComfyImage/);
      assert.throws(() => dockerBuildArgs({ ...base, extraBuildArgs: { BUILDKIT_INLINE_CACHE: "1" } }), /set by ComfyImage/);
      assert.throws(() => dockerBuildArgs({ ...base, extraBuildArgs: { HF_TOKEN: "x" } }), /credential/);
      assert.deepEqual(dockerBuildArgs(base), {
        ENABLE_FLASH_ATTN: "true",
        ENABLE_MMPOSE: "true",
        BAKE_STEADYDANCER: "false",
        STEADYDANCER_VARIANT: "fp8",
      });
    });

    it("refuses what is not an image reference, with the reason config gives, instead of splitting it", () => {
      for (const [bad, reason] of [
        ["Not/An/Image!", /is not an image reference/],
        ["http://ghcr.io/org/img:1", /is a URL/],
        ["ghcr.io/org/img :1", /contains whitespace/],
        ["repo@sha256:abc", /malformed digest/],
        ["ghcr.io/Org/img:1", /is not an image reference/],
        ["", /is empty/],
      ] as const) {
        assert.throws(() => parseImageRef(bad), reason, bad);
        assert.equal(imageRefProblem(bad) !== undefined, true, bad);
      }
      assert.throws(() => new ComfyImage("badref", imageArgs({ build: false, imageName: "Not/An/Image!" })), /is not an image reference/);
      assert.deepEqual(mocks.created, []);
    });

    it("splits image references into name, tag and digest", () => {
      const digest = `sha256:${"e".repeat(64)}`;
      assert.deepEqual(parseImageRef("localhost:5000/a/b:1.2"), { text: "localhost:5000/a/b:1.2", name: "localhost:5000/a/b", tag: "1.2" });
      assert.deepEqual(parseImageRef("localhost:5000/a/b"), { text: "localhost:5000/a/b", name: "localhost:5000/a/b" });
      assert.deepEqual(parseImageRef(`a/b:1@${digest}`), { text: `a/b:1@${digest}`, name: "a/b", tag: "1", digest });
    });

    it("finds docker/ above a compiled or source location", () => {
      const deep = path.join(tmp, "repo", "dist", "components");
      fs.mkdirSync(deep, { recursive: true });
      assert.equal(findDockerContext(deep), context);
      assert.throws(() => findDockerContext(os.tmpdir()), /cannot find docker\/Dockerfile/);
    });

    it("keeps what docker/.dockerignore leaves out from the context docker-build hashes: outputs and notes rebuild nothing", () => {
      const ctx = path.join(tmp, "ignored", "docker");
      const write = (rel: string, body: string) => {
        fs.mkdirSync(path.dirname(path.join(ctx, rel)), { recursive: true });
        fs.writeFileSync(path.join(ctx, rel), body);
      };
      // The project's own .dockerignore, over a context shaped like docker/.
      write(".dockerignore", fs.readFileSync(path.join(findDockerContext(), ".dockerignore"), "utf8"));
      write("Dockerfile", "FROM scratch\n");
      write("scripts/start.sh", "#!/bin/sh\n");
      write("workflows/smoke.json", "{}");
      write("workflows/README.md", "notes\n");
      write("output/smoke/smoke_00001.mp4", "video");
      write("docker-compose.yml", "services: {}\n");
      assert.deepEqual(buildContextFiles(ctx), ["Dockerfile", "scripts/start.sh", "workflows/smoke.json"]);
    });

    it("sends the builder, and hashes, the project's docker/ folder without its notes, compose file or outputs", () => {
      const files = buildContextFiles(findDockerContext());
      assert.ok(files.includes("Dockerfile") && files.includes("scripts/start.sh") && files.includes("workflows/smoke.json"), files.join(" "));
      assert.deepEqual(files.filter((f) => f.endsWith(".md") || f.startsWith("output/") || f === "docker-compose.yml"), []);
    });

    it("reads .dockerignore patterns the way Docker cleans them", () => {
      // Docker cleans each pattern: a trailing slash or a leading / or ./ names the same path.
      for (const pattern of ["output/", "/output", "./output", "output//"]) {
        assert.equal(inBuildContext(`${pattern}\n`, "output/a/b.mp4"), false, pattern);
        assert.equal(inBuildContext(`${pattern}\n`, "outputs/a.mp4"), true, pattern);
      }
      assert.equal(inBuildContext("*.[mw]p4\n", "a.mp4"), false);
      assert.equal(inBuildContext("*.[mw]p4\n", "a.ap4"), true);
      assert.equal(inBuildContext("*\n!scripts/[^x]*.sh\n", "scripts/start.sh"), true);
      assert.equal(inBuildContext("*\n!scripts/[^x]*.sh\n", "scripts/x.sh"), false);
      assert.equal(inBuildContext("# comment\n\n\\#literal\n", "#literal"), false);
    });
  });
});
