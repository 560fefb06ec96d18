// pod.idleStopMinutes / pod.maxLifetimeHours / pod.lifetimeAction / pod.publicKey: validated config, the pod env
// they become, and the restart key that re-runs the checks after Pulumi started a stopped pod again.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_NAME, parseStackConfig, type RawStackConfig } from "../../components/config";
import { GpuPod, type GpuPodArgs } from "../../components/pod";
import { MockRecorder, POD_TYPE, installMocks, plain, plaintextPaths, unwrap } from "../helpers/pulumiMocks";

const IMAGE = "ghcr.io/org/comfyui-steadydancer:0.1.0";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC9+yi+Leq++apOlNzCeMnrww+Fenbbv0u5ANfO/b7SP user@laptop";

function raw(values: Record<string, string>): RawStackConfig {
  const full = Object.fromEntries(Object.entries(values).map(([k, v]) => [`${PROJECT_NAME}:${k}`, v]));
  return { values: { [`${PROJECT_NAME}:image.ref`]: IMAGE, ...full }, secretKeys: [], env: { RUNPOD_API_KEY: "rpa_FAKE" } };
}

function problems(values: Record<string, string>): string {
  const result = parseStackConfig(raw(values));
  if (result.ok) assert.fail(`accepted ${JSON.stringify(values)}`);
  return result.problems.join("\n");
}

function podArgs(overrides: Partial<GpuPodArgs> = {}): GpuPodArgs {
  return {
    image: IMAGE,
    gpuTypes: ["NVIDIA L40S"],
    gpuCount: 1,
    cloud: "SECURE",
    dataCenters: [],
    containerDiskGb: 60,
    volumeGb: 100,
    volumeMountPath: "/workspace",
    ports: ["8188/http", "22/tcp"],
    env: {},
    modelVariant: "fp8",
    readyTimeoutMinutes: 20,
    deleteOnFailure: true,
    createBeforeDelete: false,
    comfyAuth: false,
    ...overrides,
  };
}

/** Mocks whose pods named in `starts` report that startCount, as the provider does after starting a stopped pod. */
class StartCountMocks extends MockRecorder {
  starts = new Map<string, number>();
  override newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const result = super.newResource(args);
    const count = this.starts.get(args.name);
    return args.type === POD_TYPE && count !== undefined ? { ...result, state: { ...result.state, startCount: count } } : result;
  }
}

describe("self-stopping pods and SSH keys: config and GpuPod", function () {
  this.timeout(20000);

  it("config: off by default; reads limits, action and a public key", () => {
    const defaults = parseStackConfig(raw({}));
    assert.ok(defaults.ok);
    assert.deepEqual(
      [defaults.config.pod.idleStopMinutes, defaults.config.pod.maxLifetimeHours, defaults.config.pod.lifetimeAction, defaults.config.pod.publicKey],
      [0, 0, "stop", undefined],
    );
    const set = parseStackConfig(
      raw({ "pod.idleStopMinutes": "30", "pod.maxLifetimeHours": "8", "pod.lifetimeAction": "terminate", "pod.publicKey": `  ${KEY}\n` }),
    );
    assert.ok(set.ok, set.ok ? "" : set.problems.join("\n"));
    assert.deepEqual(
      [set.config.pod.idleStopMinutes, set.config.pod.maxLifetimeHours, set.config.pod.lifetimeAction, set.config.pod.publicKey],
      [30, 8, "terminate", KEY],
    );
  });

  it("config: rejects bad limits, an unknown action, keys that are not OpenSSH public keys, and a key without 22/tcp", () => {
    const text = problems({
      "pod.idleStopMinutes": "-5",
      "pod.maxLifetimeHours": "1.5",
      "pod.lifetimeAction": "pause",
      "pod.env": '["PUBLIC_KEY=x","IDLE_STOP_MINUTES=1"]',
    });
    assert.match(text, /pod\.idleStopMinutes .*out of range/);
    assert.match(text, /pod\.maxLifetimeHours .*not a whole number/);
    assert.match(text, /pod\.lifetimeAction .*unknown action/);
    assert.match(text, /PUBLIC_KEY is reserved: comes from pod\.publicKey/);
    assert.match(text, /IDLE_STOP_MINUTES is reserved: comes from pod\.idleStopMinutes/);

    const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";
    assert.match(problems({ "pod.publicKey": privateKey }), /pod\.publicKey .*is a private key: give the public one/);
    assert.match(problems({ "pod.publicKey": "SHA256:abcdefghijklmnop user@laptop" }), /does not start with an OpenSSH key type/);
    const damaged = KEY.replace("AAAAC3NzaC1lZDI1NTE5", "AAAAC3NzaC1yc2EAAAAB");
    assert.match(problems({ "pod.publicKey": damaged }), /is damaged: its key data is not a ssh-ed25519 key/);
    assert.match(problems({ "pod.publicKey": `${KEY}\nssh-rsa` }), /line 2 has no base64 key after ssh-rsa/);
    assert.match(
      problems({ "pod.publicKey": KEY, "pod.ports": '["8188/http"]' }),
      /pod\.ports .*pod\.publicKey is set but pod\.ports lacks 22\/tcp/,
    );
    const two = parseStackConfig(raw({ "pod.publicKey": `${KEY}\n${KEY.replace("user@laptop", "ci@server")}` }));
    assert.ok(two.ok, "two key lines are allowed");
  });

  describe("GpuPod", () => {
    let mocks: StartCountMocks;
    beforeEach(async () => {
      mocks = new StartCountMocks();
      await installMocks(mocks);
    });
    const env = (name: string) => mocks.created.find((r) => r.type === POD_TYPE && r.name === `${name}-pod`)?.inputs.env as Record<string, string>;

    it("gives the pod the watchdog's env only when a limit is set, and PUBLIC_KEY from publicKey", async () => {
      const off = new GpuPod("off", podArgs({ idleStopMinutes: 0, maxLifetimeHours: 0, lifetimeAction: "terminate" }));
      const idle = new GpuPod("idle", podArgs({ idleStopMinutes: 30, publicKey: KEY }));
      const both = new GpuPod("both", podArgs({ idleStopMinutes: 10, maxLifetimeHours: 8, lifetimeAction: "terminate" }));
      await Promise.all([unwrap(off.podId), unwrap(idle.podId), unwrap(both.podId)]);
      assert.deepEqual(env("off"), { MODELS_DIR: "/workspace/models", STEADYDANCER_VARIANT: "fp8", COMFYUI_AUTH: "off" });
      assert.deepEqual(env("idle"), {
        MODELS_DIR: "/workspace/models",
        STEADYDANCER_VARIANT: "fp8",
        COMFYUI_AUTH: "off",
        IDLE_STOP_MINUTES: "30",
        LIFETIME_ACTION: "stop",
        PUBLIC_KEY: KEY,
      });
      assert.deepEqual(
        [env("both").IDLE_STOP_MINUTES, env("both").MAX_LIFETIME_HOURS, env("both").LIFETIME_ACTION, env("both").PUBLIC_KEY],
        ["10", "8", "terminate", undefined],
      );
      assert.ok(!Object.keys(env("both")).includes("RUNPOD_API_KEY"), "our API key never goes into the pod");
    });

    it("keeps the env secret when it carries the HF token, limits and key added", async () => {
      const token = "hf_FAKETOKEN_do_not_leak_selfstop";
      const gpu = new GpuPod("secret", podArgs({ idleStopMinutes: 5, publicKey: KEY, hfToken: pulumi.secret(token) }));
      await unwrap(gpu.podId);
      const recorded = mocks.created.find((r) => r.type === POD_TYPE && r.name === "secret-pod")?.inputs.env;
      assert.ok(pulumi.runtime.isRpcSecret(recorded), "env carrying HF_TOKEN must stay a secret");
      const values = plain(recorded) as Record<string, string>;
      assert.deepEqual([values.IDLE_STOP_MINUTES, values.PUBLIC_KEY, values.HF_TOKEN], ["5", KEY, token]);
      assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, token, r.name)), []);
    });

    it("changes restartKey when Pulumi started the stopped pod again (checks re-run), not before; outputs its status", async () => {
      mocks.starts.set("counted-pod", 1);
      mocks.starts.set("zero-pod", 0);
      const fresh = new GpuPod("fresh", podArgs());
      const zero = new GpuPod("zero", podArgs());
      const counted = new GpuPod("counted", podArgs());
      const [a, b, c] = await Promise.all([unwrap(fresh.restartKey), unwrap(zero.restartKey), unwrap(counted.restartKey)]);
      assert.equal(a, b, "a pod never started again keeps the key it had before startCount existed");
      assert.notEqual(a, c, "a start after a stop must re-run the checks");
      assert.equal(await unwrap(fresh.status), "RUNNING");
    });
  });
});
