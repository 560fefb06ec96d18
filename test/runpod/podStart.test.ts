// A pod that stopped itself (its watchdog sent `stop`) through refresh and the next up, and SSH that only shows
// a command when it can connect: the serialized pod provider (what Pulumi runs) against the RunPod v2 emulator.
import * as assert from "node:assert/strict";
import type { PodOutputs } from "../../runpod";
import { RunPodEmulator } from "../emulators/runpod";
import { captureSerializedProviders, configureLikeHost, type PodProvider, type SerializedProviders } from "./serializedProvider";

process.env.RUNPOD_PROVIDER_QUIET = "1";

const USER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC9+yi+Leq++apOlNzCeMnrww+Fenbbv0u5ANfO/b7SP user@laptop";

function podInputs(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `stop-test-${Math.random().toString(36).slice(2, 8)}`,
    image: "ghcr.io/example/comfyui-steadydancer:0.1.0",
    gpuTypeIds: ["NVIDIA L40S"],
    containerDiskGb: 40,
    volumeGb: 20,
    ports: ["8188/http", "22/tcp"],
    env: { COMFY_ARGS: "--lowvram" },
    readyTimeoutSeconds: 20,
    ...overrides,
  };
}

describe("pod provider: stopped pods and SSH (serialized, emulator)", function () {
  this.timeout(60_000);
  let serialized: SerializedProviders | undefined;
  let emulator: RunPodEmulator;
  let pod: PodProvider;

  beforeEach(async () => {
    emulator = await RunPodEmulator.start({ timings: { provisionMs: 100, startMs: 100, runtimeNullMs: 0 } });
    serialized ??= await captureSerializedProviders();
    pod = await configureLikeHost(serialized.load().pod, { "runpod:apiKey": emulator.apiKey, "runpod:apiUrl": emulator.baseUrl });
  });
  afterEach(() => emulator.close());

  async function create(overrides: Record<string, unknown> = {}): Promise<{ id: string; outs: PodOutputs; inputs: Record<string, unknown> }> {
    const checked = await pod.check!({}, podInputs(overrides));
    assert.deepEqual(checked.failures ?? [], []);
    const inputs = checked.inputs ?? {};
    const { id, outs } = await pod.create(inputs);
    assert.ok(outs);
    return { id, outs, inputs };
  }

  /** What the watchdog does from inside the pod: POST /pods/{id}/action stop with a key. */
  async function stopFromInside(id: string): Promise<void> {
    const res = await fetch(`${emulator.baseUrl}/pods/${id}/action`, {
      method: "POST",
      headers: { authorization: `Bearer ${emulator.apiKey}`, "content-type": "application/json", "user-agent": "steadydancer-pod-watchdog/0.1" },
      body: JSON.stringify({ action: "stop" }),
    });
    assert.equal(res.status, 200);
  }

  const starts = () => emulator.calls.filter((c) => c.method === "POST" && c.path.endsWith("/action") && (c.body as { action?: string }).action === "start");

  it("refresh reports a stopped pod as EXITED; the next up starts it, waits until it serves and counts the start", async () => {
    const { id, outs, inputs } = await create();
    assert.equal(outs.status, "RUNNING");
    await stopFromInside(id);

    const read = await pod.read!(id, outs);
    assert.equal(read.id, id, "a stopped pod still exists");
    const stopped = read.props as PodOutputs;
    assert.equal(stopped.status, "EXITED");
    assert.deepEqual(stopped.portMappings, []);
    assert.equal(stopped.sshCommand, null);

    const diff = await pod.diff!(id, stopped, inputs);
    assert.equal(diff.changes, true, "a stopped pod must show as an update");
    assert.deepEqual(diff.replaces ?? [], [], "starting it must not replace the pod");

    emulator.resetCalls();
    const updated = await pod.update!(id, stopped, inputs);
    const outs2 = updated.outs as PodOutputs;
    assert.equal(starts().length, 1);
    assert.equal(outs2.status, "RUNNING");
    assert.equal(outs2.podId, id);
    assert.equal(outs2.startCount, 1);
    assert.equal(emulator.podById(id)?.status, "RUNNING");
    assert.equal((outs2.portMappings as unknown[]).length, 2, "every port mapped again before update returned");

    const again = (await pod.read!(id, outs2)).props as PodOutputs;
    assert.equal(again.startCount, 1, "the count survives a refresh");
    assert.equal((await pod.diff!(id, again, inputs)).changes, false, "a started pod needs nothing more");
  });

  it("a lost answer to start is settled by reading the pod, never by a second start", async () => {
    const { id, outs, inputs } = await create();
    await stopFromInside(id);
    const stopped = (await pod.read!(id, outs)).props as PodOutputs;
    emulator.resetCalls();
    emulator.inject({ method: "POST", path: /\/action$/, status: 503, applyFirst: true });
    const outs2 = (await pod.update!(id, stopped, inputs)).outs as PodOutputs;
    assert.equal(outs2.status, "RUNNING");
    assert.equal(starts().length, 1, "start was sent again after an ambiguous 503");
  });

  it("a host whose GPU is taken fails the start with what to do, and the pod stays recorded", async () => {
    const { id, outs, inputs } = await create();
    await stopFromInside(id);
    const stopped = (await pod.read!(id, outs)).props as PodOutputs;
    emulator.inject({ method: "POST", path: /\/action$/, status: 400, detail: "There are not enough free GPUs on the host machine to start this pod." });
    await assert.rejects(pod.update!(id, stopped, inputs), (error: Error) => {
      assert.match(error.message, /Pod \S+ could not be started: There are not enough free GPUs/);
      assert.match(error.message, /pulumi up --replace/);
      return true;
    });
    assert.equal(emulator.podById(id)?.status, "EXITED", "the stopped pod was not touched");
  });

  it("sends startSsh only with 22/tcp, and outputs sshCommand only when sshd has a key and 22/tcp is mapped", async () => {
    const noKey = await create();
    const createBodies = () => emulator.calls.filter((c) => c.method === "POST" && c.path === "/v2/pods").map((c) => c.body as Record<string, unknown>);
    assert.equal(createBodies()[0]?.startSsh, true);
    assert.equal(noKey.outs.sshCommand, null, "no key anywhere: ssh cannot log in");

    const withKey = await create({ env: { PUBLIC_KEY: USER_KEY } });
    assert.match(String(withKey.outs.sshCommand), /^ssh root@\d+\.\d+\.\d+\.\d+ -p \d+$/);

    const account = await fetch(`${emulator.baseUrl}/account/ssh-keys`, {
      method: "PUT",
      headers: { authorization: `Bearer ${emulator.apiKey}`, "content-type": "application/json", "user-agent": "test" },
      body: JSON.stringify({ keys: [USER_KEY] }),
    });
    assert.equal(account.status, 200);
    const accountKeys = await create();
    assert.match(String(accountKeys.outs.sshCommand), /^ssh root@/, "the account's keys injected as PUBLIC_KEY make ssh work");

    emulator.resetCalls();
    const noPort = await create({ ports: ["8188/http"], env: { PUBLIC_KEY: USER_KEY } });
    assert.equal(createBodies()[0]?.startSsh, undefined, "startSsh without 22/tcp");
    assert.equal(noPort.outs.sshCommand, null, "a key but no 22/tcp: nothing to connect to");
  });
});
