import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { GpuPod, type GpuPodArgs } from "../../components/pod";
import {
  GPU_POD_TYPE,
  MOCK_SUFFIX,
  MockRecorder,
  POD_TYPE,
  MOCK_PASSWORD,
  RANDOM_PASSWORD_TYPE,
  RANDOM_STRING_TYPE,
  REGISTRY_TYPE,
  anyInputContains,
  installMocks,
  plain,
  plaintextPaths,
  registeredUrns,
  settled,
  unwrap,
} from "../helpers/pulumiMocks";

const FAKE_API_KEY = "rpa_FAKEKEY_do_not_leak_0123456789";
const HF_TOKEN = "hf_FAKETOKEN_do_not_leak_abcdef";
const REGISTRY_PASSWORD = "ghp_FAKEPASSWORD_do_not_leak_xyz";

function podArgs(overrides: Partial<GpuPodArgs> = {}): GpuPodArgs {
  return {
    image: "ghcr.io/org/comfyui-steadydancer:0.1.0",
    gpuTypes: ["NVIDIA RTX 6000 Ada Generation", "NVIDIA L40S", "NVIDIA A100 80GB PCIe"],
    gpuCount: 2,
    cloud: "SECURE",
    dataCenters: ["EU-RO-1", "US-KS-2"],
    containerDiskGb: 60,
    volumeGb: 100,
    volumeMountPath: "/workspace",
    ports: ["8188/http", "22/tcp"],
    env: { COMFYUI_ARGS: "--lowvram" },
    modelVariant: "fp8",
    comfyAuth: true,
    readyTimeoutMinutes: 20,
    deleteOnFailure: true,
    createBeforeDelete: false,
    ...overrides,
  };
}

describe("GpuPod", function () {
  this.timeout(20000);
  let mocks: MockRecorder;
  let savedKey: string | undefined;

  before(() => {
    // The key is available to the process the way a real run has it; no input may ever carry it.
    savedKey = process.env.RUNPOD_API_KEY;
    process.env.RUNPOD_API_KEY = FAKE_API_KEY;
    pulumi.runtime.setAllConfig({ "runpod:apiKey": FAKE_API_KEY }, ["runpod:apiKey"]);
  });

  after(() => {
    if (savedKey === undefined) delete process.env.RUNPOD_API_KEY;
    else process.env.RUNPOD_API_KEY = savedKey;
    pulumi.runtime.setAllConfig({});
  });

  beforeEach(async () => {
    mocks = new MockRecorder();
    await installMocks(mocks);
  });

  it("creates a RandomString, a RandomPassword and a Pod as its children, and no Registry without credentials", async () => {
    const gpu = new GpuPod("plain", podArgs());
    await unwrap(gpu.comfyUrl);

    assert.deepEqual(mocks.created.filter((r) => r.custom).map((r) => r.type).sort(), [POD_TYPE, RANDOM_PASSWORD_TYPE, RANDOM_STRING_TYPE].sort());
    assert.equal(mocks.ofType(REGISTRY_TYPE).length, 0);
    const urns = registeredUrns();
    assert.ok(urns.some((u) => u.endsWith(`::${GPU_POD_TYPE}$${RANDOM_STRING_TYPE}::plain-suffix`)), urns.join("\n"));
    assert.ok(urns.some((u) => u.endsWith(`::${GPU_POD_TYPE}$${POD_TYPE}::plain-pod`)), urns.join("\n"));
  });

  it("names the pod steadydancer-<stack>-<suffix> from a lowercase 6-character RandomString", async () => {
    const gpu = new GpuPod("named", podArgs());
    await unwrap(gpu.podId);

    const suffix = mocks.only(RANDOM_STRING_TYPE).inputs;
    assert.equal(suffix.length, 6);
    assert.equal(suffix.upper, false);
    assert.equal(suffix.special, false);
    assert.notEqual(suffix.lower, false);
    assert.notEqual(suffix.numeric, false);
    assert.equal(mocks.only(POD_TYPE).inputs.name, `steadydancer-dev-${MOCK_SUFFIX}`);
  });

  it("maps its args onto the Pod inputs", async () => {
    const gpu = new GpuPod("mapped", podArgs({ comfyAuth: false }));
    await unwrap(gpu.podId);

    const inputs = mocks.only(POD_TYPE).inputs;
    assert.equal(inputs.image, "ghcr.io/org/comfyui-steadydancer:0.1.0");
    assert.deepEqual(inputs.gpuTypeIds, ["NVIDIA RTX 6000 Ada Generation", "NVIDIA L40S", "NVIDIA A100 80GB PCIe"]);
    assert.equal(inputs.gpuCount, 2);
    assert.equal(inputs.cloud, "SECURE");
    assert.deepEqual(inputs.dataCenterIds, ["EU-RO-1", "US-KS-2"]);
    assert.equal(inputs.containerDiskGb, 60);
    assert.equal(inputs.volumeGb, 100);
    assert.equal(inputs.networkVolumeId, undefined);
    assert.equal(inputs.volumeMountPath, "/workspace");
    assert.deepEqual(inputs.ports, ["8188/http", "22/tcp"]);
    assert.deepEqual(inputs.env, { COMFYUI_ARGS: "--lowvram", MODELS_DIR: "/workspace/models", STEADYDANCER_VARIANT: "fp8", COMFYUI_AUTH: "off" });
    assert.equal(inputs.readyTimeoutSeconds, 20 * 60);
    assert.equal(inputs.deleteOnFailure, true);
    assert.equal(inputs.createBeforeDelete, false);
    assert.equal(inputs.registryId, undefined);
  });

  it("tells the image which model variant to load and puts the models on the volume", async () => {
    const gpu = new GpuPod(
      "variant",
      podArgs({
        modelVariant: "fp16",
        volumeMountPath: "/runpod-volume/",
        env: { STEADYDANCER_VARIANT: "fp8", EXTRA: "1" },
        comfyAuth: false,
      }),
    );
    const custom = new GpuPod("modelsdir", podArgs({ env: { MODELS_DIR: "/mnt/models" }, comfyAuth: false }));
    await Promise.all([unwrap(gpu.podId), unwrap(custom.podId)]);

    const env = (name: string) => mocks.created.find((r) => r.type === POD_TYPE && r.name === name)?.inputs.env;
    // The variant arg wins over a stray env entry (config rejects one anyway); MODELS_DIR follows the mount path.
    assert.deepEqual(env("variant-pod"), { EXTRA: "1", MODELS_DIR: "/runpod-volume/models", STEADYDANCER_VARIANT: "fp16", COMFYUI_AUTH: "off" });
    assert.deepEqual(env("modelsdir-pod"), { MODELS_DIR: "/mnt/models", STEADYDANCER_VARIANT: "fp8", COMFYUI_AUTH: "off" });
  });

  it("deletes the old pod before creating its replacement unless createBeforeDelete is set", async () => {
    const first = new GpuPod("dbr", podArgs());
    const second = new GpuPod("cbd", podArgs({ createBeforeDelete: true }));
    await Promise.all([unwrap(first.podId), unwrap(second.podId)]);

    const pod = (name: string) => mocks.created.find((r) => r.name === name);
    assert.equal(pod("dbr-pod")?.deleteBeforeReplace, true);
    assert.equal(pod("cbd-pod")?.deleteBeforeReplace, false);
    assert.equal(pod("cbd-pod")?.inputs.createBeforeDelete, true);
  });

  it("exposes comfyUrl from httpUrls[8188] and the pod's id, ssh command, cost and GPU type", async () => {
    const gpu = new GpuPod("outs", podArgs());
    const [comfyUrl, podId, sshCommand, costPerHour, gpuType] = await Promise.all([
      unwrap(gpu.comfyUrl),
      unwrap(gpu.podId),
      unwrap(gpu.sshCommand),
      unwrap(gpu.costPerHour),
      unwrap(gpu.gpuType),
    ]);

    assert.equal(podId, "outs-pod-id");
    assert.equal(comfyUrl, "https://outs-pod-id-8188.proxy.runpod.net");
    assert.equal(sshCommand, "ssh outs-pod-id@ssh.runpod.io -i ~/.ssh/id_ed25519");
    assert.equal(costPerHour, 0.86);
    assert.equal(gpuType, "NVIDIA RTX 6000 Ada Generation");
  });

  it("creates a Registry child with the credentials and wires its registryId into the Pod", async () => {
    const gpu = new GpuPod(
      "private",
      podArgs({ registry: { username: "org-bot", password: pulumi.secret(REGISTRY_PASSWORD) } }),
    );
    await unwrap(gpu.podId);

    const registry = mocks.only(REGISTRY_TYPE);
    assert.equal(registry.inputs.name, `steadydancer-dev-${MOCK_SUFFIX}`);
    assert.equal(registry.inputs.username, "org-bot");
    assert.ok(pulumi.runtime.isRpcSecret(registry.inputs.password), "the password input must be a secret");
    assert.equal(plain(registry.inputs.password), REGISTRY_PASSWORD);
    assert.equal(mocks.only(POD_TYPE).inputs.registryId, "reg-private-registry-id");
    assert.ok(registeredUrns().some((u) => u.endsWith(`::${GPU_POD_TYPE}$${REGISTRY_TYPE}::private-registry`)));
  });

  it("keeps the registry password secret even when it is passed as a plain string", async () => {
    const gpu = new GpuPod("plainpw", podArgs({ registry: { username: "org-bot", password: REGISTRY_PASSWORD } }));
    await unwrap(gpu.podId);

    assert.ok(pulumi.runtime.isRpcSecret(mocks.only(REGISTRY_TYPE).inputs.password));
    assert.deepEqual(
      mocks.created.flatMap((r) => plaintextPaths(r.inputs, REGISTRY_PASSWORD, r.name)),
      [],
    );
  });

  it("passes the HF token as env HF_TOKEN, only ever as a secret", async () => {
    const gpu = new GpuPod("hf", podArgs({ hfToken: pulumi.secret(HF_TOKEN) }));
    await unwrap(gpu.podId);

    const env = mocks.only(POD_TYPE).inputs.env;
    assert.ok(pulumi.runtime.isRpcSecret(env), "env carrying HF_TOKEN must be a secret");
    assert.deepEqual(plain(env), {
      COMFYUI_ARGS: "--lowvram", MODELS_DIR: "/workspace/models", STEADYDANCER_VARIANT: "fp8", COMFYUI_AUTH_TOKEN: MOCK_PASSWORD, HF_TOKEN,
    });
    assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, HF_TOKEN, r.name)), []);
    const outputs = [gpu.comfyUrl, gpu.podId, gpu.sshCommand, gpu.gpuType];
    assert.deepEqual(await Promise.all(outputs.map((o) => pulumi.isSecret(o))), [false, false, false, false]);
  });

  it("puts the RunPod API key into no resource input, serialized provider included", async () => {
    const gpu = new GpuPod(
      "nokey",
      podArgs({ hfToken: pulumi.secret(HF_TOKEN), registry: { username: "org-bot", password: REGISTRY_PASSWORD } }),
    );
    await unwrap(gpu.comfyUrl);

    const dynamic = mocks.created.filter((r) => r.type === POD_TYPE || r.type === REGISTRY_TYPE);
    assert.equal(dynamic.length, 2);
    for (const r of dynamic) assert.equal(typeof r.inputs.__provider, "string", `${r.name} has a serialized provider`);
    assert.deepEqual(anyInputContains(mocks.created, FAKE_API_KEY).map((r) => r.name), []);
  });

  it("exposes a secret restartKey that changes with every input whose update restarts the container, and only those", async () => {
    const keyOf = async (name: string, overrides: Partial<GpuPodArgs>) => {
      const gpu = new GpuPod(name, podArgs(overrides));
      assert.equal(await pulumi.isSecret(gpu.restartKey), true, `${name}: restartKey must be secret`);
      return unwrap(gpu.restartKey);
    };
    const base = await keyOf("rk-base", {});
    assert.match(base, /^[a-f0-9]{64}$/);
    assert.equal(await keyOf("rk-same", { env: { COMFYUI_ARGS: "--lowvram" } }), base, "same inputs, same key");

    // Each of these goes to RunPod as an in-place update that recreates the container under the same pod id.
    const restarting: [string, Partial<GpuPodArgs>][] = [
      ["image", { image: "ghcr.io/org/comfyui-steadydancer:0.2.0" }],
      ["env value", { env: { COMFYUI_ARGS: "--highvram" } }],
      ["env name", { env: { COMFYUI_FLAGS: "--lowvram" } }],
      ["hf token", { hfToken: pulumi.secret(HF_TOKEN) }],
      ["model variant (env)", { modelVariant: "fp16" }],
      ["ports", { ports: ["8188/http", "22/tcp", "8888/http"] }],
      ["container disk", { containerDiskGb: 80 }],
      ["volume size", { volumeGb: 200 }],
      ["mount path", { volumeMountPath: "/runpod-volume" }],
      ["network volume", { volumeGb: undefined, networkVolumeId: "vol-1" }],
      ["registry", { registry: { username: "org-bot", password: REGISTRY_PASSWORD } }],
    ];
    for (const [what, overrides] of restarting) {
      assert.notEqual(await keyOf(`rk-${what.replace(/\W+/g, "-")}`, overrides), base, `${what} restarts the container`);
    }
    // These never touch the running container.
    const keeping: [string, Partial<GpuPodArgs>][] = [
      ["gpu order", { gpuTypes: ["NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA A100 80GB PCIe"] }],
      ["data centers", { dataCenters: ["EU-RO-1"] }],
      ["ready timeout", { readyTimeoutMinutes: 45 }],
      ["delete on failure", { deleteOnFailure: false }],
      ["create before delete", { createBeforeDelete: true }],
    ];
    for (const [what, overrides] of keeping) {
      assert.equal(await keyOf(`rk-${what.replace(/\W+/g, "-")}`, overrides), base, `${what} does not restart the container`);
    }
  });

  it("never lets the HF token reach the restartKey in plain form", async () => {
    const gpu = new GpuPod("rk-secret", podArgs({ hfToken: pulumi.secret(HF_TOKEN) }));
    const key = await unwrap(gpu.restartKey);
    assert.ok(!key.includes(HF_TOKEN));
    assert.equal(await pulumi.isSecret(gpu.restartKey), true);
    assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, HF_TOKEN, r.name)), []);
  });

  it("puts ComfyUI behind a token generated for the stack, passed to the pod and exported only as a secret", async () => {
    const gpu = new GpuPod("guarded", podArgs());
    const token = await unwrap(gpu.comfyToken);
    await unwrap(gpu.podId);
    await settled();

    assert.equal(token, MOCK_PASSWORD);
    assert.ok(await pulumi.isSecret(gpu.comfyToken), "comfyToken is a secret output");
    const password = mocks.only(RANDOM_PASSWORD_TYPE);
    assert.equal(password.inputs.length, 48);
    assert.equal(password.inputs.special, false, "a header- and URL-safe token");
    const pod = mocks.only(POD_TYPE);
    assert.equal((plain(pod.inputs.env) as Record<string, string>).COMFYUI_AUTH_TOKEN, MOCK_PASSWORD);
    assert.equal((plain(pod.inputs.env) as Record<string, string>).COMFYUI_AUTH, undefined);
    for (const record of mocks.created) assert.deepEqual(plaintextPaths(record.inputs, MOCK_PASSWORD), [], `${record.type} holds the token in plaintext`);
  });

  it("with comfyAuth false generates no token and tells the image to serve ComfyUI unchecked", async () => {
    const gpu = new GpuPod("open", podArgs({ comfyAuth: false }));
    assert.equal(await unwrap(gpu.comfyToken), undefined);
    await unwrap(gpu.podId);
    await settled();
    assert.equal(mocks.ofType(RANDOM_PASSWORD_TYPE).length, 0);
    const env = plain(mocks.only(POD_TYPE).inputs.env) as Record<string, string>;
    assert.equal(env.COMFYUI_AUTH, "off");
    assert.equal(env.COMFYUI_AUTH_TOKEN, undefined);
  });

  it("refuses ports without 8188/http, before creating anything", () => {
    assert.throws(() => new GpuPod("noport", podArgs({ ports: ["22/tcp"] })), /8188\/http/);
    assert.deepEqual(mocks.created, []);
  });
});
