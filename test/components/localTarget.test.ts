import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalGpuContainer, dockerHostCli, type LocalGpuContainerArgs } from "../../components/localTarget";
import {
  COMMAND_TYPE,
  DOCKER_CONTAINER_TYPE,
  DOCKER_VOLUME_TYPE,
  LOCAL_CONTAINER_TYPE,
  MockRecorder,
  installMocks,
  plain,
  plaintextPaths,
  registeredUrns,
  settled,
  unwrap,
} from "../helpers/pulumiMocks";
import { WITHOUT_NVIDIA, WITH_NVIDIA, installStubDocker } from "../helpers/stubDocker";

const IMAGE = `ghcr.io/org/comfyui-steadydancer@sha256:${"e".repeat(64)}`;
const HF_TOKEN = "hf_FAKETOKEN_local_do_not_leak_77";

function localArgs(overrides: Partial<LocalGpuContainerArgs> = {}): LocalGpuContainerArgs {
  return {
    image: IMAGE,
    modelVariant: "fp8",
    env: { COMFYUI_ARGS: "--lowvram" },
    volumeMountPath: "/workspace",
    port: 8188,
    readyTimeoutMinutes: 45,
    bakedModels: false,
    comfyAuth: true,
    ...overrides,
  };
}

describe("LocalGpuContainer", function () {
  this.timeout(20000);
  let mocks: MockRecorder;

  beforeEach(async () => {
    mocks = new MockRecorder();
    await installMocks(mocks);
  });

  async function build(args: LocalGpuContainerArgs) {
    const local = new LocalGpuContainer("steadydancer", args);
    const outputs = {
      comfyUrl: await unwrap(local.comfyUrl),
      podId: await unwrap(local.podId),
      sshCommand: await unwrap(local.sshCommand),
      costPerHour: await unwrap(local.costPerHour),
      gpuType: await unwrap(local.gpuType),
      restartKey: await unwrap(local.restartKey),
      comfyToken: await unwrap(local.comfyToken),
      comfyTokenIsSecret: await pulumi.isSecret(local.comfyToken),
    };
    await settled();
    return outputs;
  }

  it("runs the image with every GPU, ComfyUI on 127.0.0.1 only, the workspace volume and the pod's env", async () => {
    const out = await build(localArgs());

    const container = mocks.only(DOCKER_CONTAINER_TYPE);
    const inputs = container.inputs;
    assert.equal(inputs.image, IMAGE);
    assert.deepEqual(inputs.deviceRequests, [{ driver: "nvidia", count: -1, capabilities: ["gpu"] }]);
    assert.deepEqual(inputs.ports, [{ internal: 8188, external: 8188, ip: "127.0.0.1", protocol: "tcp" }]);
    const volume = mocks.only(DOCKER_VOLUME_TYPE);
    assert.equal(volume.inputs.name, "steadydancer-dev-workspace");
    assert.equal(volume.retainOnDelete, true, "the downloaded weights outlive pulumi destroy");
    assert.deepEqual(inputs.volumes, [{ volumeName: "steadydancer-dev-workspace", containerPath: "/workspace" }]);
    const token = out.comfyToken;
    assert.ok(token, "comfyAuth true generates the stack's token");
    assert.ok(out.comfyTokenIsSecret, "the token is a secret output");
    assert.deepEqual(plain(inputs.envs), [
      "COMFYUI_ARGS=--lowvram",
      `COMFYUI_AUTH_TOKEN=${token}`,
      "MODELS_DIR=/workspace/models",
      "STEADYDANCER_VARIANT=fp8",
    ]);
    assert.ok(!("healthcheck" in inputs), "the image's own HEALTHCHECK is the one Docker runs");
    assert.equal(inputs.wait, true);
    assert.equal(inputs.waitTimeout, 45 * 60);
    assert.equal(container.deleteBeforeReplace, true, "one container name and host port: delete before replace");

    assert.deepEqual(out, {
      comfyUrl: "http://127.0.0.1:8188",
      podId: "",
      sshCommand: "",
      costPerHour: null,
      gpuType: "",
      restartKey: "steadydancer-container-id",
      comfyToken: token,
      comfyTokenIsSecret: true,
    });
    const urns = registeredUrns();
    for (const child of [DOCKER_CONTAINER_TYPE, DOCKER_VOLUME_TYPE, COMMAND_TYPE]) {
      assert.ok(urns.some((u) => u.includes(`::${LOCAL_CONTAINER_TYPE}$${child}::`)), `${child} is a child:\n${urns.join("\n")}`);
    }
  });

  it("creates the container only after the pre-flight, which checks the same image, volume and models dir", async () => {
    await build(localArgs({ env: { MODELS_DIR: "/workspace/weights" }, volumeName: "sd-models", modelVariant: "fp16" }));

    const preflight = mocks.only(COMMAND_TYPE);
    assert.equal(preflight.name, "steadydancer-preflight");
    const cli = dockerHostCli(require.resolve("../../components/localTarget"));
    assert.equal(
      preflight.inputs.create,
      `${cli.argv.join(" ")} --image ${IMAGE} --volume sd-models --mount /workspace --models-dir /workspace/weights --variant fp16`,
    );
    assert.equal(preflight.inputs.dir, cli.dir);
    const container = mocks.only(DOCKER_CONTAINER_TYPE);
    assert.ok(preflight.urn && container.dependencies?.includes(preflight.urn), "the container waits for the pre-flight");
  });

  it("tells the pre-flight when the weights are baked in, and publishes on local.port", async () => {
    const out = await build(localArgs({ bakedModels: true, port: 18188 }));
    assert.match(String(mocks.only(COMMAND_TYPE).inputs.create), / --baked$/);
    assert.equal(out.comfyUrl, "http://127.0.0.1:18188");
    assert.deepEqual(mocks.only(DOCKER_CONTAINER_TYPE).inputs.ports, [{ internal: 8188, external: 18188, ip: "127.0.0.1", protocol: "tcp" }]);
  });

  it("passes HF_TOKEN as a secret env, and never into the pre-flight's command line", async () => {
    await build(localArgs({ hfToken: pulumi.secret(HF_TOKEN) }));
    const container = mocks.only(DOCKER_CONTAINER_TYPE);
    assert.ok(pulumi.runtime.isRpcSecret(container.inputs.envs), "the env list holding HF_TOKEN is secret");
    assert.ok((plain(container.inputs.envs) as string[]).includes(`HF_TOKEN=${HF_TOKEN}`));
    assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, HF_TOKEN, r.name)), []);
    assert.ok(!JSON.stringify(mocks.only(COMMAND_TYPE).inputs).includes(HF_TOKEN));
  });

  it("the pre-flight command it registers really runs, and fails the deploy on a host without the NVIDIA runtime", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-preflight-"));
    try {
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      installStubDocker(bin);
      const mount = path.join(dir, "workspace");
      // The baked case measures no disk, so the stub's `run` (which runs the script on this machine) is not needed.
      await build(localArgs({ volumeMountPath: mount, bakedModels: true }));
      const preflight = mocks.only(COMMAND_TYPE).inputs;
      const run = (runtimes: string) =>
        spawnSync("/bin/sh", ["-c", String(preflight.create)], {
          cwd: String(preflight.dir),
          encoding: "utf8",
          env: { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`, STUB_LOG: path.join(dir, "log"), STUB_RUNTIMES: runtimes },
        });
      const failed = run(WITHOUT_NVIDIA);
      assert.equal(failed.status, 1, failed.stderr);
      assert.match(failed.stderr, /preflight: FAILED: the Docker host has no NVIDIA runtime/);
      const passed = run(WITH_NVIDIA);
      assert.equal(passed.status, 0, passed.stderr);
      assert.equal((JSON.parse(passed.stdout.trim().split("\n").pop() ?? "{}") as { ok?: boolean }).ok, true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
