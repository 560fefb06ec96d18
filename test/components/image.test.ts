import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { buildContextFiles, contextHash, inBuildContext } from "../../components/dockerContext";
import {
  ComfyImage,
  dockerBuildArgs,
  findDockerContext,
  imageRefProblem,
  parseImageRef,
  writePrivateFile,
  type ComfyImageArgs,
} from "../../components/image";
import {
  COMFY_IMAGE_TYPE,
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
} from "../helpers/pulumiMocks";

const IMAGE = "ghcr.io/org/comfyui-steadydancer:0.1.0";
const REPO = "ghcr.io/org/comfyui-steadydancer";
const PASSWORD = "ghp_FAKEPASSWORD_image_test_xyz";
const HF_TOKEN = "hf_FAKETOKEN_image_test_abcdef";
/** Waits up to a second for `done` (an apply's side effect lands after the outputs that fed it resolve). */
async function eventually(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

const BUILD_TYPES = [DOCKER_IMAGE_TYPE, REMOTE_IMAGE_TYPE, REGISTRY_IMAGE_TYPE, DOCKER_TAG_TYPE];

describe("ComfyImage", function () {
  this.timeout(20000);
  let mocks: MockRecorder;
  let tmp: string;
  let context: string;
  let secretDir: string;

  const imageArgs = (overrides: Partial<ComfyImageArgs> = {}): ComfyImageArgs => ({
    imageName: IMAGE,
    build: true,
    flashAttn: true,
    mmpose: true,
    bakeModels: false,
    modelVariant: "fp8",
    contextDir: context,
    secretDir,
    ...overrides,
  });

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "comfy-image-test-"));
    context = path.join(tmp, "repo", "docker");
    fs.mkdirSync(path.join(context, "scripts"), { recursive: true });
    fs.writeFileSync(path.join(context, "Dockerfile"), "FROM scratch\n");
    fs.writeFileSync(path.join(context, "scripts", "start.sh"), "#!/bin/sh\n");
    secretDir = path.join(tmp, "secrets");
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  beforeEach(async () => {
    mocks = new MockRecorder();
    await installMocks(mocks);
  });

  describe("building (image.build true)", () => {
    it("builds the context for linux/amd64 with BuildKit, the build args of its switches and inline cache from :buildcache", async () => {
      const image = new ComfyImage(
        "img",
        imageArgs({ flashAttn: false, bakeModels: true, modelVariant: "fp16", extraBuildArgs: { COMFYUI_VERSION: "v0.3.75" } }),
      );
      await unwrap(image.imageRef);
      await settled();

      const { inputs } = mocks.only(DOCKER_IMAGE_TYPE);
      assert.equal(inputs.imageName, IMAGE);
      assert.deepEqual(inputs.build, {
        context,
        dockerfile: path.join(context, "Dockerfile"),
        platform: "linux/amd64",
        builderVersion: "BuilderBuildKit",
        args: {
          COMFYUI_VERSION: "v0.3.75",
          ENABLE_FLASH_ATTN: "false",
          ENABLE_MMPOSE: "true",
          BAKE_STEADYDANCER: "true",
          STEADYDANCER_VARIANT: "fp16",
          BUILDKIT_INLINE_CACHE: "1",
        },
        cacheFrom: { images: [`${REPO}:buildcache`] },
      });
      assert.notEqual(inputs.skipPush, true, "the image is pushed");
      assert.ok(registeredUrns().some((u) => u.endsWith(`::${COMFY_IMAGE_TYPE}$${DOCKER_IMAGE_TYPE}::img-image`)));
    });

    it("hands on the pushed repoDigest as imageRef, so an unchanged image keeps the same reference", async () => {
      const image = new ComfyImage("digest", imageArgs());
      const [ref, built] = await Promise.all([unwrap(image.imageRef), unwrap(image.built)]);

      assert.equal(ref, `${REPO}@${fakeDigest(`built:${IMAGE}`)}`);
      assert.match(ref, /^ghcr\.io\/org\/comfyui-steadydancer@sha256:[a-f0-9]{64}$/);
      assert.equal(built, true);
    });

    it("refreshes :buildcache from each new build through a Tag and a RegistryImage triggered by its digest", async () => {
      const image = new ComfyImage("cache", imageArgs());
      const ref = await unwrap(image.imageRef);
      await settled();

      const tag = mocks.only(DOCKER_TAG_TYPE).inputs;
      assert.equal(tag.sourceImage, IMAGE);
      assert.equal(tag.targetImage, `${REPO}:buildcache`);
      assert.deepEqual(tag.tagTriggers, [ref]);
      const push = mocks.only(REGISTRY_IMAGE_TYPE).inputs;
      assert.equal(push.name, `${REPO}:buildcache`);
      assert.equal(push.keepRemotely, true, "replacing the cache push must not delete the tag");
      assert.deepEqual(push.triggers, { source: ref });
    });

    it("logs in to the image's registry with the password only ever as a secret", async () => {
      const image = new ComfyImage("private", imageArgs({ registry: { username: "org-bot", password: PASSWORD } }));
      await unwrap(image.imageRef);
      await settled();

      // The SDK lifts a nested secret to the property holding it: the whole registry block is secret.
      const registry = mocks.only(DOCKER_IMAGE_TYPE).inputs.registry;
      assert.ok(pulumi.runtime.isRpcSecret(registry), "the registry block carrying the password must be a secret");
      assert.deepEqual(plain(registry), { server: "ghcr.io", username: "org-bot", password: PASSWORD });
      const cachePush = mocks.only(REGISTRY_IMAGE_TYPE).inputs.authConfig;
      assert.ok(pulumi.runtime.isRpcSecret(cachePush));
      assert.equal((plain(cachePush) as Record<string, unknown>).address, "ghcr.io");
      assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, PASSWORD, r.name)), []);
    });

    it("keeps the HF token out of the build when models are not baked", async () => {
      const image = new ComfyImage("nobake", imageArgs({ hfToken: pulumi.secret(HF_TOKEN) }));
      await unwrap(image.imageRef);
      await settled();

      assert.equal(mocks.ofType(DOCKER_IMAGE_TYPE).length, 1);
      assert.deepEqual(anyInputContains(mocks.created, HF_TOKEN), []);
      assert.equal(fs.existsSync(secretDir) && fs.readdirSync(secretDir).length > 0, false, "no token file written");
    });

    it("bakes gated weights with the HF token as a BuildKit secret file, never a build arg, then pushes", async () => {
      // What the provider finds at the file when it builds: the engine hands it the RemoteImage's inputs.
      const atBuild: { content: string; mode: number }[] = [];
      const register = mocks.newResource.bind(mocks);
      mocks.newResource = (args) => {
        if (args.type === REMOTE_IMAGE_TYPE) {
          const inputs = args.inputs as Record<string, unknown>;
          const src = String((plain(inputs.build) as { secrets: { src: string }[] }).secrets[0]?.src);
          atBuild.push({ content: fs.readFileSync(src, "utf8"), mode: fs.statSync(src).mode & 0o777 });
        }
        return register(args);
      };
      const image = new ComfyImage(
        "bake",
        imageArgs({ bakeModels: true, hfToken: pulumi.secret(HF_TOKEN), registry: { username: "org-bot", password: PASSWORD } }),
      );
      const ref = await unwrap(image.imageRef);
      await settled();

      assert.equal(mocks.ofType(DOCKER_IMAGE_TYPE).length, 0, "docker.Image has no build secrets");
      const build = mocks.only(REMOTE_IMAGE_TYPE);
      // Secret as a whole: it holds the token file's path and the registry password.
      assert.ok(pulumi.runtime.isRpcSecret(build.inputs.build));
      const spec = plain(build.inputs.build) as Record<string, unknown>;
      assert.equal(spec.platform, "linux/amd64");
      assert.deepEqual(spec.cacheFroms, [`${REPO}:buildcache`]);
      assert.equal((spec.buildArgs as Record<string, string>).BAKE_STEADYDANCER, "true");
      assert.equal((spec.buildArgs as Record<string, string>).BUILDKIT_INLINE_CACHE, "1");
      const secrets = spec.secrets as { id: string; src: string }[];
      assert.equal(secrets.length, 1);
      assert.equal(secrets[0]?.id, "hf_token", "the id the Dockerfile mounts");
      const file = String(secrets[0]?.src);
      assert.equal(path.dirname(file), secretDir);
      assert.deepEqual(atBuild, [{ content: HF_TOKEN, mode: 0o600 }]);
      assert.equal(fs.statSync(secretDir).mode & 0o777, 0o700);
      await eventually(() => !fs.existsSync(file));
      assert.equal(fs.existsSync(file), false, "the token file is removed once the image is built");
      // The token is in no input at all, secret or not: only the file's path is.
      assert.deepEqual(anyInputContains(mocks.created, HF_TOKEN), []);
      assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, PASSWORD, r.name)), []);
      const triggers = build.inputs.triggers as Record<string, string>;
      assert.equal(triggers.context, contextHash(context));

      const pushes = mocks.ofType(REGISTRY_IMAGE_TYPE);
      const push = pushes.find((r) => r.name === "bake-push")?.inputs;
      assert.equal(push?.name, IMAGE);
      assert.equal(push?.keepRemotely, true);
      assert.deepEqual(push?.triggers, { imageId: fakeDigest(`local:${IMAGE}`) });
      assert.ok(pulumi.runtime.isRpcSecret(push?.authConfig));
      assert.equal(ref, `${REPO}@${fakeDigest(`pushed:${IMAGE}`)}`);
      assert.equal(mocks.only(DOCKER_TAG_TYPE).inputs.sourceImage, IMAGE);
    });

    it("writes no token file in a preview, where nothing is built, and keeps the same build inputs", async () => {
      const previewMocks = new MockRecorder();
      await installMocks(previewMocks, "dev", true);
      const stray = path.join(secretDir, "hf_token-dev");
      fs.rmSync(stray, { force: true });
      const image = new ComfyImage("preview", imageArgs({ bakeModels: true, hfToken: pulumi.secret(HF_TOKEN) }));
      await unwrap(image.imageRef);
      await settled();

      const spec = plain(previewMocks.only(REMOTE_IMAGE_TYPE).inputs.build) as { secrets: { id: string; src: string }[] };
      assert.deepEqual(spec.secrets, [{ id: "hf_token", src: stray }], "the path an update would use");
      assert.equal(fs.existsSync(stray), false, "a preview must not write the token to disk");
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
      assert.throws(() => dockerBuildArgs({ ...base, extraBuildArgs: { HF_TOKEN: "x" } }), /credential/);
      assert.deepEqual(dockerBuildArgs(base), {
        ENABLE_FLASH_ATTN: "true",
        ENABLE_MMPOSE: "true",
        BAKE_STEADYDANCER: "false",
        STEADYDANCER_VARIANT: "fp8",
        BUILDKIT_INLINE_CACHE: "1",
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

    it("hashes the build context so that any file change rebuilds and nothing else does", () => {
      const before = contextHash(context);
      assert.equal(contextHash(context), before);
      const script = path.join(context, "scripts", "start.sh");
      fs.writeFileSync(script, "#!/bin/sh\necho changed\n");
      assert.notEqual(contextHash(context), before);
      fs.writeFileSync(script, "#!/bin/sh\n");
      assert.equal(contextHash(context), before);
    });

    it("hashes only what the .dockerignore sends to the builder: outputs and notes do not rebuild the image", () => {
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

      const before = contextHash(ctx);
      write("workflows/README.md", "edited notes\n");
      write("output/smoke/smoke_00002.mp4", "another video");
      write("docker-compose.yml", "services: { comfyui: {} }\n");
      assert.equal(contextHash(ctx), before, "files the builder never sees must not trigger a rebuild");
      write("workflows/smoke.json", '{"1":{}}');
      const edited = contextHash(ctx);
      assert.notEqual(edited, before, "a file COPY reads rebuilds");
      write("Dockerfile", "FROM scratch\nLABEL a=b\n");
      assert.notEqual(contextHash(ctx), edited, "the Dockerfile is always part of the build, even under `*`");
    });

    it("hashes the project's docker/ folder without its notes, compose file or outputs", () => {
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

    describe("the token file when the program is stopped", function () {
      const IMAGE_JS = path.resolve(__dirname, "../../components/image.js");

      /** A node process that writes a secret file through writePrivateFile, then waits for a signal. */
      function stopped(signal: NodeJS.Signals, ownHandler: boolean) {
        const dir = fs.mkdtempSync(path.join(tmp, "sig-"));
        fs.chmodSync(dir, 0o700);
        const script = [
          `const { writePrivateFile } = require(${JSON.stringify(IMAGE_JS)});`,
          `const file = writePrivateFile(${JSON.stringify(dir)}, "hf_token-dev", "hf_secret");`,
          ownHandler ? `process.once(${JSON.stringify(signal)}, () => { console.log("own handler"); setTimeout(() => process.exit(7), 20); });` : "",
          'console.log("ready");',
          "setInterval(() => {}, 1000);",
        ].join("\n");
        return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; left: string[] }>((resolve, reject) => {
          const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
          let stdout = "";
          let sent = false;
          child.stdout.on("data", (d: Buffer) => {
            stdout += d.toString();
            if (!sent && stdout.includes("ready")) {
              assert.ok(fs.existsSync(path.join(dir, "hf_token-dev")), "the file is there while the program runs");
              sent = child.kill(signal);
            }
          });
          child.on("error", reject);
          child.on("close", (code, sig) => resolve({ code, signal: sig, stdout, left: fs.readdirSync(dir) }));
        });
      }

      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        it(`removes it on ${signal} and still ends the process by the signal`, async () => {
          const run = await stopped(signal, false);
          assert.deepEqual(run.left, [], "the token file outlived the process");
          assert.equal(run.signal, signal, `the process must end by ${signal} as it would have (code ${run.code})`);
        });
      }

      it("removes it on SIGTERM and leaves the signal to the program's own handler", async () => {
        const run = await stopped("SIGTERM", true);
        assert.deepEqual(run.left, []);
        assert.match(run.stdout, /own handler/);
        assert.equal(run.code, 7);
      });
    });

    it("writes the secret file privately and refuses a directory others can write to", () => {
      const open = path.join(tmp, "open");
      fs.mkdirSync(open, { mode: 0o777 });
      fs.chmodSync(open, 0o777);
      assert.throws(() => writePrivateFile(open, "t", "x"), /mode 700/);
      const dir = path.join(tmp, "private");
      const file = writePrivateFile(dir, "t", "first");
      assert.equal(writePrivateFile(dir, "t", "second"), file, "a stable path, so the build inputs do not change");
      assert.equal(fs.readFileSync(file, "utf8"), "second");
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    });
  });
});
