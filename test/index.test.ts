import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_NAME } from "../components/config";
import { loadModelManifest, minVramGbFor } from "../models";
import {
  CHECKS_TYPE,
  COMFY_IMAGE_TYPE,
  COMMAND_TYPE,
  DOCKER_BUILD_IMAGE_TYPE,
  DOCKER_CONTAINER_TYPE,
  GPU_POD_TYPE,
  IMAGE_HISTORY_TYPE,
  LOCAL_CONTAINER_TYPE,
  MockRecorder,
  POD_TYPE,
  REGISTRY_TYPE,
  anyInputContains,
  fakeDigest,
  installMocks,
  MOCK_PASSWORD,
  plain,
  plaintextPaths,
  settled,
  unwrap,
} from "./helpers/pulumiMocks";

const P = `${PROJECT_NAME}:`;
const IMAGE = "ghcr.io/org/comfyui-steadydancer:0.1.0";
const REPO = "ghcr.io/org/comfyui-steadydancer";
const DOCKERFILE = path.resolve(__dirname, "../../docker/Dockerfile");
const FAKE_API_KEY = "rpa_FAKEKEY_do_not_leak_0123456789";
const HF_TOKEN = "hf_FAKETOKEN_program_test_4242";
const PROGRAM = require.resolve("../index");

/** Evaluates the program afresh: a module runs once per process unless dropped from the cache. */
function runProgram(): Promise<typeof import("../index")> {
  delete require.cache[PROGRAM];
  return import("../index");
}

describe("program (index.ts)", function () {
  this.timeout(20000);
  let mocks: MockRecorder;
  let savedEnv: string | undefined;

  before(() => {
    savedEnv = process.env.RUNPOD_API_KEY;
    delete process.env.RUNPOD_API_KEY;
  });

  after(() => {
    if (savedEnv === undefined) delete process.env.RUNPOD_API_KEY;
    else process.env.RUNPOD_API_KEY = savedEnv;
    pulumi.runtime.setAllConfig({});
    delete require.cache[PROGRAM];
  });

  beforeEach(async () => {
    mocks = new MockRecorder();
    await installMocks(mocks);
  });

  it("with bad config, fails listing every problem and creates nothing", async () => {
    pulumi.runtime.setAllConfig({
      [`${P}pod.gpuCount`]: "two",
      [`${P}pod.ports`]: '["22/tcp"]',
      [`${P}registry.password`]: "SECRET_pw_never_shown",
    }, [`${P}registry.password`]);

    await assert.rejects(runProgram(), (err: unknown) => {
      assert.ok(pulumi.RunError.isInstance(err));
      const message = err.message;
      for (const key of [`${P}image.ref`, `${P}pod.gpuCount`, `${P}pod.ports`, `${P}registry.username`, "runpod:apiKey"]) {
        assert.ok(message.includes(`  - ${key} `), `${key} missing from:\n${message}`);
      }
      assert.ok(!message.includes("SECRET_pw_never_shown"));
      return true;
    });
    assert.deepEqual(mocks.created, [], "no resource may be created from a bad config");
  });

  /** Project keys (short names) plus the API key, as a live stack would hold them. */
  function setConfig(values: Record<string, string>, secrets: string[] = []): void {
    const full = Object.fromEntries(Object.entries(values).map(([k, v]) => [k.includes(":") ? k : P + k, v]));
    pulumi.runtime.setAllConfig({ ...full, "runpod:apiKey": FAKE_API_KEY }, [...secrets.map((k) => P + k), "runpod:apiKey"]);
  }

  async function outputsOf(program: typeof import("../index")) {
    const outputs = {
      imageRef: await unwrap(program.imageRef),
      previousImageRef: await unwrap(program.previousImageRef),
      podId: await unwrap(program.podId),
      comfyUrl: await unwrap(program.comfyUrl),
      sshCommand: await unwrap(program.sshCommand),
      costPerHour: await unwrap(program.costPerHour),
      gpuType: await unwrap(program.gpuType),
      healthCheck: await unwrap(program.healthCheck),
      vramCheck: await unwrap(program.vramCheck),
      generateCheck: await unwrap(program.generateCheck),
    };
    await settled();
    return outputs;
  }

  const commands = () => mocks.ofType(COMMAND_TYPE);

  it("with a prebuilt image, pins its digest, deploys the pod on it, checks it and exports every output", async () => {
    setConfig(
      {
        "image.ref": IMAGE,
        "image.build": "false",
        "model.variant": "fp16",
        "pod.gpuTypes": '["NVIDIA L40S","NVIDIA A100 80GB PCIe"]',
        "pod.readyTimeoutMinutes": "30",
        "registry.username": "org-bot",
        "registry.password": "registry_pw_program_test",
        hfToken: HF_TOKEN,
        "comfy.auth": "false",
        "checks.authHeader": "X-Proxy-Auth: SECRET_header_program_test",
      },
      ["registry.password", "hfToken", "checks.authHeader"],
    );

    const out = await outputsOf(await runProgram());

    const digestRef = `${REPO}@${fakeDigest(IMAGE)}`;
    assert.equal(out.imageRef, digestRef);
    assert.equal(out.previousImageRef, "", "first deploy: no image came before");
    assert.equal(out.podId, "steadydancer-pod-id");
    assert.equal(out.comfyUrl, "https://steadydancer-pod-id-8188.proxy.runpod.net");
    assert.match(out.sshCommand ?? "", /^ssh /);
    assert.equal(out.costPerHour, 0.86);
    assert.equal(out.gpuType, "NVIDIA L40S");
    assert.equal(out.healthCheck?.check, "health");
    assert.equal(out.vramCheck?.check, "vram");
    assert.equal(out.generateCheck?.check, "generate");

    assert.equal(mocks.only(COMFY_IMAGE_TYPE).name, "steadydancer");
    assert.equal(mocks.only(GPU_POD_TYPE).name, "steadydancer");
    assert.equal(mocks.only(CHECKS_TYPE).name, "steadydancer");
    assert.equal(mocks.ofType(DOCKER_BUILD_IMAGE_TYPE).length, 0, "a prebuilt image is not built");
    const pod = mocks.only(POD_TYPE).inputs;
    assert.equal(pod.image, digestRef, "the pod runs the digest, not the tag");
    assert.equal(pod.readyTimeoutSeconds, 30 * 60);
    assert.equal((plain(pod.env) as Record<string, string>).STEADYDANCER_VARIANT, "fp16");
    assert.equal(mocks.only(REGISTRY_TYPE).inputs.username, "org-bot");

    assert.equal(commands().length, 3);
    const vram = commands().find((c) => c.name === "steadydancer-vram");
    const minVram = minVramGbFor(loadModelManifest(), "fp16");
    assert.match(String(vram?.inputs.create), new RegExp(`--url https://steadydancer-pod-id-8188\\.proxy\\.runpod\\.net .*--min-vram-gb ${minVram}$`));
    for (const c of commands()) {
      assert.ok(pulumi.runtime.isRpcSecret(c.inputs.triggers), "the restart key comes from the pod's env (HF_TOKEN): secret");
      const [ref, pod, restartKey] = plain(c.inputs.triggers) as string[];
      assert.deepEqual([ref, pod], [digestRef, "steadydancer-pod-id"]);
      assert.match(restartKey ?? "", /^[a-f0-9]{64}$/);
    }

    for (const secret of [HF_TOKEN, "registry_pw_program_test", "SECRET_header_program_test"]) {
      assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, secret, r.name)), []);
    }
    assert.deepEqual(anyInputContains(mocks.created, FAKE_API_KEY), []);
  });

  it("keeps the checks' triggers while the image digest is unchanged, and changes them when it changes", async () => {
    const triggersOfRun = async (digest?: string) => {
      mocks = new MockRecorder();
      if (digest) mocks.registryDigest = () => digest;
      await installMocks(mocks);
      setConfig({ "image.ref": IMAGE, "image.build": "false" });
      await outputsOf(await runProgram());
      return commands().map((c) => JSON.stringify(plain(c.inputs.triggers)));
    };

    const first = await triggersOfRun();
    const again = await triggersOfRun();
    assert.equal(first.length, 3);
    assert.deepEqual(again, first, "same digest, same triggers: the checks do not re-run");
    const rebuilt = await triggersOfRun(`sha256:${"f".repeat(64)}`);
    assert.notDeepEqual(rebuilt, first, "a new digest re-runs every check");
    assert.ok(rebuilt.every((t) => t.includes(`${REPO}@sha256:${"f".repeat(64)}`)));
  });

  it("re-runs the checks when a pod update restarts the container under the same pod id", async () => {
    const runWith = async (extra: Record<string, string>) => {
      mocks = new MockRecorder();
      await installMocks(mocks);
      setConfig({ "image.ref": IMAGE, "image.build": "false", ...extra });
      const out = await outputsOf(await runProgram());
      return { podId: out.podId, triggers: commands().map((c) => JSON.stringify(plain(c.inputs.triggers))) };
    };

    const first = await runWith({ "pod.env": '["COMFYUI_ARGS=--lowvram"]' });
    const same = await runWith({ "pod.env": '["COMFYUI_ARGS=--lowvram"]' });
    assert.deepEqual(same.triggers, first.triggers);
    for (const [key, value] of [
      ["pod.env", '["COMFYUI_ARGS=--highvram"]'],
      ["pod.ports", '["8188/http","22/tcp","8888/http"]'],
      ["pod.containerDiskGb", "80"],
    ]) {
      const changed = await runWith({ [key]: value });
      assert.equal(changed.podId, first.podId, "an in-place update keeps the pod id");
      assert.equal(changed.triggers.length, 3);
      changed.triggers.forEach((t, i) => assert.notEqual(t, first.triggers[i], `${key}: check ${i} must re-run`));
    }
  });

  it("by default guards ComfyUI with the stack's token: the checks send it from their environment, it is exported as a secret", async () => {
    setConfig({ "image.ref": IMAGE, "image.build": "false" });

    const program = await runProgram();
    const out = await outputsOf(program);
    const token = await unwrap(program.comfyToken);

    assert.equal(token, MOCK_PASSWORD);
    assert.ok(program.comfyToken && (await pulumi.isSecret(program.comfyToken)), "the comfyToken stack output is a secret");
    assert.equal(out.healthCheck?.check, "health");
    assert.equal(commands().length, 3);
    for (const cmd of commands()) {
      assert.ok(pulumi.runtime.isRpcSecret(cmd.inputs.environment), `${cmd.name}: the environment carrying the header is a secret`);
      const environment = plain(cmd.inputs.environment) as Record<string, string>;
      assert.equal(environment.COMFYUI_AUTH_HEADER, `Authorization: Bearer ${MOCK_PASSWORD}`);
      assert.ok(!String(cmd.inputs.create).includes(MOCK_PASSWORD), "the token is never on the command line");
    }
    for (const record of mocks.created) {
      assert.deepEqual(plaintextPaths(record.inputs, MOCK_PASSWORD), [], `${record.type} ${record.name} holds the token in plaintext`);
    }
  });

  it("keeps a secret pod.env secret in the Pod's inputs and outputs without an hfToken", async () => {
    const value = "SECRET_env_value_program_test_5150";
    setConfig({ "image.ref": IMAGE, "image.build": "false", "pod.env": `["MY_API_TOKEN=${value}","COMFYUI_ARGS=--lowvram"]` }, ["pod.env"]);

    await outputsOf(await runProgram());

    const pod = mocks.only(POD_TYPE);
    assert.equal((plain(pod.inputs.env) as Record<string, string>).MY_API_TOKEN, value, "the pod still gets the value");
    assert.deepEqual(plaintextPaths(pod.inputs, value), [], "the env value is stored only as a secret");
    assert.ok(pod.additionalSecretOutputs?.includes("env"), "the env RunPod echoes back is a secret output too");
    for (const record of mocks.created.filter((r) => r !== pod)) {
      assert.deepEqual(plaintextPaths(record.inputs, value), [], `${record.type} ${record.name} holds the value in plaintext`);
    }
  });

  it("creates no check commands when every check is switched off, and exports them as undefined", async () => {
    setConfig({
      "image.ref": `${REPO}@sha256:${"c".repeat(64)}`,
      "image.build": "false",
      "checks.health": "false",
      "checks.vram": "false",
      "checks.generate": "false",
    });

    const out = await outputsOf(await runProgram());

    assert.equal(out.imageRef, `${REPO}@sha256:${"c".repeat(64)}`);
    assert.deepEqual([out.healthCheck, out.vramCheck, out.generateCheck], [undefined, undefined, undefined]);
    assert.deepEqual(commands(), []);
  });

  it("builds the image from docker/ by default and deploys the pushed digest", async () => {
    assert.ok(fs.existsSync(DOCKERFILE), `${DOCKERFILE} is part of the repository: the default build needs it`);
    setConfig({ "image.ref": IMAGE, "image.buildArgs": '["COMFYUI_VERSION=v0.3.75"]' });

    const out = await outputsOf(await runProgram());

    const build = mocks.only(DOCKER_BUILD_IMAGE_TYPE).inputs;
    assert.equal(path.resolve(String((build.context as { location: string }).location)), path.dirname(DOCKERFILE));
    assert.equal((build.buildArgs as Record<string, string>).COMFYUI_VERSION, "v0.3.75");
    assert.equal(out.imageRef, `${REPO}@${fakeDigest(`built:${IMAGE}`)}`);
    assert.equal(mocks.only(POD_TYPE).inputs.image, out.imageRef);
  });

  it("records the deployed digest for previousImageRef only after the deployment runs it", async () => {
    setConfig({ "image.ref": IMAGE, "image.build": "false" });
    await outputsOf(await runProgram());
    const history = mocks.only(IMAGE_HISTORY_TYPE);
    assert.equal(history.inputs.imageRef, `${REPO}@${fakeDigest(IMAGE)}`);
    const pod = mocks.only(POD_TYPE);
    assert.ok(pod.urn && history.dependencies?.includes(pod.urn), `the history waits for the pod: ${JSON.stringify(history.dependencies)}`);
  });

  it("with target local, runs the same image and checks in a local container, without any RunPod resource or key", async () => {
    // No runpod:apiKey at all: the local target never talks to RunPod.
    pulumi.runtime.setAllConfig({
      [`${P}image.ref`]: IMAGE,
      [`${P}image.build`]: "false",
      [`${P}target`]: "local",
      [`${P}model.variant`]: "fp16",
    });

    const out = await outputsOf(await runProgram());

    const digestRef = `${REPO}@${fakeDigest(IMAGE)}`;
    assert.equal(mocks.only(LOCAL_CONTAINER_TYPE).name, "steadydancer");
    assert.equal(mocks.ofType(GPU_POD_TYPE).length + mocks.ofType(POD_TYPE).length + mocks.ofType(REGISTRY_TYPE).length, 0);
    const container = mocks.only(DOCKER_CONTAINER_TYPE);
    assert.equal(container.inputs.image, digestRef);
    assert.ok((plain(container.inputs.envs) as string[]).includes("STEADYDANCER_VARIANT=fp16"));
    assert.equal(out.comfyUrl, "http://127.0.0.1:8188");
    assert.deepEqual([out.podId, out.sshCommand, out.gpuType, out.costPerHour], ["", "", "", null], "pod-only outputs are empty");
    assert.equal(out.previousImageRef, "");
    assert.equal(out.healthCheck?.check, "health");
    assert.equal(commands().filter((c) => c.name !== "steadydancer-preflight").length, 3);
    for (const c of commands().filter((c) => c.name !== "steadydancer-preflight")) {
      assert.match(String(c.inputs.create), / --url http:\/\/127\.0\.0\.1:8188( |$)/);
      assert.ok((plain(c.inputs.triggers) as string[]).includes("steadydancer-container-id"), "a new container re-runs the checks");
    }
  });
});
