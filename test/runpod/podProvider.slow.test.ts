// The pod and registry providers against the RunPod v2 emulator, driven directly and through the
// serialized form Pulumi stores in state.
import * as assert from "node:assert/strict";
import { podProvider, registryProvider, type PodOutputs } from "../../runpod";
import { RunPodEmulator } from "../emulators/runpod";
import {
  captureSerializedProviders,
  configureLikeHost,
  type PodProvider,
  type RegistryProvider,
  type SerializedProviders,
} from "./serializedProvider";

const L40S = "NVIDIA L40S";
const RTX4090 = "NVIDIA GeForce RTX 4090";

function podInputs(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `test-pod-${Math.random().toString(36).slice(2, 8)}`,
    image: "ghcr.io/example/comfyui-steadydancer:0.1.0",
    gpuTypeIds: [L40S, RTX4090],
    gpuCount: 1,
    cloud: "SECURE",
    dataCenterIds: [],
    containerDiskGb: 40,
    volumeGb: 20,
    volumeMountPath: "/workspace",
    ports: ["8188/http", "22/tcp"],
    env: { COMFY_ARGS: "--lowvram" },
    readyTimeoutSeconds: 20,
    deleteOnFailure: true,
    ...overrides,
  };
}

/** check() first, as the engine does, so create receives normalised inputs. */
async function checked(provider: PodProvider, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  const result = await provider.check!({}, inputs);
  assert.deepEqual(result.failures ?? [], [], "inputs should pass check");
  return result.inputs ?? {};
}

async function created(provider: PodProvider, inputs: Record<string, unknown>): Promise<{ id: string; outs: PodOutputs }> {
  const { id, outs } = await provider.create(inputs);
  assert.ok(outs, "create returns outputs");
  return { id, outs };
}

async function refreshed(provider: PodProvider, id: string, outs: PodOutputs): Promise<{ id?: string; props: PodOutputs }> {
  const read = await provider.read!(id, outs);
  return { ...(read.id !== undefined ? { id: read.id } : {}), props: read.props ?? outs };
}

function postsTo(emulator: RunPodEmulator, path: RegExp): number {
  return emulator.calls.filter((c) => c.method === "POST" && path.test(c.path)).length;
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  assert.fail("expected the call to fail");
}

process.env.RUNPOD_PROVIDER_QUIET = "1";

const forms: Array<{ label: string; load: (emulator: RunPodEmulator) => Promise<{ pod: PodProvider; registry: RegistryProvider }> }> = [];
let serialized: SerializedProviders | undefined;

forms.push({
  label: "direct",
  load: async (emulator) => {
    const config = { "runpod:apiKey": emulator.apiKey, "runpod:apiUrl": emulator.baseUrl };
    // Copies: configure() stores settings on the object, and the shared singletons must stay clean.
    return {
      pod: await configureLikeHost({ ...podProvider }, config),
      registry: await configureLikeHost({ ...registryProvider }, config),
    };
  },
});
forms.push({
  label: "serialized",
  load: async (emulator) => {
    serialized ??= await captureSerializedProviders();
    const fresh = serialized.load();
    const config = { "runpod:apiKey": emulator.apiKey, "runpod:apiUrl": emulator.baseUrl };
    return { pod: await configureLikeHost(fresh.pod, config), registry: await configureLikeHost(fresh.registry, config) };
  },
});

for (const form of forms) {
  describe(`pod provider (${form.label})`, function () {
    this.timeout(60_000);
    let emulator: RunPodEmulator;
    let pod: PodProvider;
    let registry: RegistryProvider;

    // The provider's own pauses (lookups, backoff, polling) at a fifth: same code paths, faster suite.
    let savedScale: string | undefined;
    before(() => {
      savedScale = process.env.RUNPOD_PROVIDER_DELAY_SCALE;
      process.env.RUNPOD_PROVIDER_DELAY_SCALE = "0.2";
    });
    after(() => {
      if (savedScale === undefined) delete process.env.RUNPOD_PROVIDER_DELAY_SCALE;
      else process.env.RUNPOD_PROVIDER_DELAY_SCALE = savedScale;
    });
    beforeEach(async () => {
      emulator = await RunPodEmulator.start({ timings: { provisionMs: 150, startMs: 150, runtimeNullMs: 0 } });
      ({ pod, registry } = await form.load(emulator));
    });
    afterEach(async () => {
      await emulator.close();
    });
    // The serialized form is what Pulumi runs, so it gets every case; the direct form the core ones.
    const serializedOnly = form.label === "serialized" ? it : () => undefined;

    it("creates a pod and returns only once it is RUNNING with every port mapped", async () => {
      const inputs = await checked(pod, podInputs());
      const { id, outs } = await created(pod, inputs);
      assert.equal(outs.podId, id);
      assert.equal(outs.status, "RUNNING");
      assert.equal(outs.gpuTypeId, L40S);
      assert.ok(outs.costPerHour > 0);
      assert.equal(outs.httpUrls["8188"], `https://${id}-8188.proxy.runpod.net`);
      const ssh = (outs.portMappings as Array<{ private: number; type: string; ip: string | null; public: number | null }>).find(
        (m) => m.private === 22,
      );
      assert.ok(ssh?.ip && ssh.public, "22/tcp has a public mapping");
      assert.equal(outs.sshCommand, null, "no PUBLIC_KEY and no account keys: ssh could not log in (test/runpod/podStart.test.ts has the cases)");
      assert.equal(outs.publicIp, ssh.ip);
      assert.equal(emulator.podById(id)?.status, "RUNNING");
      assert.equal(emulator.livePods().length, 1);
    });

    serializedOnly("does not take the live RUNNING-with-runtime-null window for readiness", async () => {
      emulator.setTimings({ runtimeNullMs: 1500 });
      const started = Date.now();
      const { id, outs } = await created(pod, await checked(pod, podInputs()));
      assert.ok(Date.now() - started >= 1500, "returned only after the container was reported");
      assert.ok((outs.portMappings as unknown[]).length === 2);
      assert.ok(emulator.podById(id)?.runtime, "the emulator reports a runtime now");
    });

    it("falls back to the next GPU type when the first has no capacity", async () => {
      emulator.setStock([{ gpuId: RTX4090, dataCenterId: "EU-RO-1" }]);
      const { outs } = await created(pod, await checked(pod, podInputs()));
      assert.equal(outs.gpuTypeId, RTX4090);
      assert.equal(outs.dataCenterId, "EU-RO-1");
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 2, "one create per candidate, in order");
      assert.equal(emulator.livePods().length, 1);
    });

    serializedOnly("walks data centres in the order given", async () => {
      emulator.setStock([
        { gpuId: L40S, dataCenterId: "US-TX-3" },
        { gpuId: L40S, dataCenterId: "CA-MTL-1" },
      ]);
      const { outs } = await created(pod, await checked(pod, podInputs({ dataCenterIds: ["EU-RO-1", "CA-MTL-1", "US-TX-3"] })));
      assert.equal(outs.dataCenterId, "CA-MTL-1");
    });

    serializedOnly("reports every refused candidate when there is no capacity anywhere, and leaves no pod", async () => {
      emulator.setStock([]);
      const error = await rejection(pod.create(await checked(pod, podInputs({ dataCenterIds: ["EU-RO-1", "US-TX-3"] }))));
      assert.match(error.message, /No pod could be placed/);
      assert.match(error.message, /NVIDIA L40S in EU-RO-1: no capacity/);
      assert.match(error.message, /NVIDIA GeForce RTX 4090 in US-TX-3: no capacity/);
      assert.match(error.message, /pod\.gpuTypes/);
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 4);
      assert.equal(emulator.livePods().length, 0);
    });

    serializedOnly("stops at 402 without trying further candidates", async () => {
      emulator.setBalance(0);
      const error = await rejection(pod.create(await checked(pod, podInputs())));
      assert.match(error.message, /402/);
      assert.match(error.message, /Add funds/);
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1);
    });

    serializedOnly("never retries a 422 and shows RunPod's validation errors", async () => {
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, status: 422 });
      const error = await rejection(pod.create(await checked(pod, podInputs())));
      assert.match(error.message, /422/);
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1);
    });

    serializedOnly("waits out a 429 for Retry-After, then creates exactly one pod", async () => {
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, status: 429, retryAfter: 1 });
      const started = Date.now();
      const { id } = await created(pod, await checked(pod, podInputs()));
      assert.ok(Date.now() - started >= 1000, "honoured Retry-After");
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 2);
      assert.deepEqual(
        emulator.livePods().map((p) => p.id),
        [id],
      );
    });

    it("adopts the pod an ambiguous 5xx create made instead of creating a second one", async () => {
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, status: 500, applyFirst: true });
      const { id } = await created(pod, await checked(pod, podInputs()));
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1, "the POST was not repeated");
      assert.deepEqual(
        emulator.livePods().map((p) => p.id),
        [id],
      );
      assert.ok(emulator.calls.some((c) => c.method === "GET" && c.path === "/v2/pods"), "listed pods to find it");
    });

    serializedOnly("re-sends a create only after listing proves the failed one made nothing", async () => {
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, status: 503, times: 1 });
      const { id } = await created(pod, await checked(pod, podInputs()));
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 2);
      const lists = emulator.calls.filter((c) => c.method === "GET" && c.path === "/v2/pods");
      assert.ok(lists.length >= 1);
      const secondPost = emulator.calls.filter((c) => c.method === "POST")[1];
      assert.ok(lists[0].at <= secondPost.at, "listed before re-posting");
      assert.deepEqual(
        emulator.livePods().map((p) => p.id),
        [id],
      );
    });

    serializedOnly("times out a hung create, then adopts the pod it made once it appears", async () => {
      process.env.RUNPOD_HTTP_TIMEOUT_MS = "500";
      try {
        emulator.inject({ method: "POST", path: /^\/v2\/pods$/, hangMs: 1500 });
        const { id } = await created(pod, await checked(pod, podInputs()));
        assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1, "the hung POST was not repeated");
        assert.deepEqual(
          emulator.livePods().map((p) => p.id),
          [id],
        );
      } finally {
        delete process.env.RUNPOD_HTTP_TIMEOUT_MS;
      }
    });

    it("adopts the pod a 201 with a truncated body made, and leaves exactly one pod", async () => {
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, truncateBody: 0.5 });
      const { id, outs } = await created(pod, await checked(pod, podInputs()));
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1, "an accepted create is never sent again");
      assert.deepEqual(emulator.livePods().map((p) => p.id), [id]);
      assert.equal(outs.status, "RUNNING");
    });

    serializedOnly("adopts by name the pod a 201 without an id made", async () => {
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, dropMembers: ["id"] });
      const { id } = await created(pod, await checked(pod, podInputs()));
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1);
      assert.deepEqual(emulator.livePods().map((p) => p.id), [id]);
    });

    serializedOnly("adopts by the id it still carried a pod whose 201 lacks required members", async () => {
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, dropMembers: ["ssh", "gpu.vcpuCount", "runtime"] });
      const { id } = await created(pod, await checked(pod, podInputs()));
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1);
      assert.deepEqual(emulator.livePods().map((p) => p.id), [id]);
      assert.ok(emulator.calls.some((c) => c.method === "GET" && c.path === `/v2/pods/${id}`));
    });

    serializedOnly("takes answers the spec allows: no gpu.count, runtime ports with members missing", async () => {
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, dropMembers: ["gpu.count"] });
      const { id } = await created(pod, await checked(pod, podInputs()));
      assert.equal(emulator.calls.filter((c) => c.method === "GET" && c.path === "/v2/pods").length, 1, "no lookup: the answer was usable");
      assert.deepEqual(emulator.livePods().map((p) => p.id), [id]);
    });

    serializedOnly("terminates the pod an unreadable 201 named when it cannot be read back, and says so", async () => {
      // The create answer and every read of the pod lack a member the spec requires.
      emulator.inject({ method: "POST", path: /^\/v2\/pods$/, dropMembers: ["locked"] });
      emulator.inject({ method: "GET", path: /^\/v2\/pods/, dropMembers: ["locked"], times: 1000 });
      const scale = process.env.RUNPOD_PROVIDER_DELAY_SCALE;
      process.env.RUNPOD_PROVIDER_DELAY_SCALE = "0.05"; // the lookups span 31 s at full scale
      const error = await rejection(pod.create(await checked(pod, podInputs()))).finally(() => {
        process.env.RUNPOD_PROVIDER_DELAY_SCALE = scale;
      });
      assert.match(error.message, /accepted the create/);
      assert.match(error.message, /was terminated, so nothing is left billed/);
      assert.equal(emulator.livePods().length, 0);
      assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1);
    });

    for (const status of [405, 410, 413]) {
      serializedOnly(`fails at once on a ${status} to the create: not retried, not ambiguous, says what to change`, async () => {
        emulator.inject({ method: "POST", path: /^\/v2\/pods$/, status });
        const error = await rejection(pod.create(await checked(pod, podInputs())));
        assert.equal(postsTo(emulator, /^\/v2\/pods$/), 1);
        assert.equal(emulator.calls.filter((c) => c.method === "GET" && c.path === "/v2/pods").length, 1, "only the listing before the create");
        assert.match(error.message, new RegExp(`failed: ${status} \\w`), "RunPod's status and title");
        assert.match(error.message, status === 413 ? /shorten the pod\.env values/ : /set runpod:apiUrl to https:\/\/api\.runpod\.io\/v2/);
        assert.equal(emulator.livePods().length, 0);
      });
    }

    serializedOnly("a 410 while polling stops the wait at once and terminates the pod", async () => {
      emulator.inject({ method: "GET", path: /^\/v2\/pods\/[a-z0-9]+$/, status: 410 });
      const started = Date.now();
      const error = await rejection(pod.create(await checked(pod, podInputs())));
      assert.ok(Date.now() - started < 10_000, "did not wait for the ready timeout");
      assert.match(error.message, /410/);
      assert.match(error.message, /terminated/);
      assert.equal(emulator.calls.filter((c) => c.status === 410).length, 1, "a 410 is not retried");
      assert.equal(emulator.livePods().length, 0);
    });

    serializedOnly("rides out a burst of 5xx on status polls", async () => {
      emulator.inject({ method: "GET", path: /^\/v2\/pods\/[a-z0-9]+$/, status: 502, times: 2 });
      const { outs } = await created(pod, await checked(pod, podInputs()));
      assert.equal(outs.status, "RUNNING");
    });

    it("terminates the pod it made when it goes to ERROR while booting", async () => {
      emulator.failNextBoot("ERROR");
      const error = await rejection(pod.create(await checked(pod, podInputs())));
      assert.match(error.message, /ERROR/);
      assert.match(error.message, /terminated, so nothing is left running or billed/);
      assert.equal(emulator.livePods().length, 0);
    });

    serializedOnly("terminates the pod it made when it is not ready in time", async () => {
      emulator.hangBoot();
      const error = await rejection(pod.create(await checked(pod, podInputs({ readyTimeoutSeconds: 2 }))));
      assert.match(error.message, /not ready within 2s/);
      assert.match(error.message, /pod\.readyTimeoutMinutes/);
      assert.equal(emulator.livePods().length, 0);
    });

    it("an interrupt (Ctrl-C) while the pod boots terminates it before failing, and stops catching signals", async () => {
      emulator.hangBoot();
      const before = process.listenerCount("SIGINT");
      const creating = created(pod, await checked(pod, podInputs()));
      for (let i = 0; i < 100 && emulator.livePods().length === 0; i += 1) await new Promise((r) => setTimeout(r, 20));
      assert.equal(emulator.livePods().length, 1, "the pod exists while booting");
      assert.equal(process.listenerCount("SIGINT"), before + 1, "the signal is caught while a pod is in flight");
      process.emit("SIGINT", "SIGINT");
      const error = await rejection(creating);
      assert.match(error.message, /interrupted \(SIGINT\)/);
      assert.match(error.message, /terminated, so nothing is left running or billed/);
      assert.equal(emulator.livePods().length, 0);
      assert.equal(process.listenerCount("SIGINT"), before, "default signal handling is back");
    });

    serializedOnly("with deleteOnFailure=false keeps the failed pod and hands its id to Pulumi", async () => {
      emulator.failNextBoot("ERROR");
      const error = await rejection(pod.create(await checked(pod, podInputs({ deleteOnFailure: false }))));
      const live = emulator.livePods();
      assert.equal(live.length, 1);
      assert.equal(error.id, live[0].id, "a partial-state error carries the id");
      assert.equal((error.properties as Record<string, unknown>).podId, live[0].id);
    });

    it("refresh reads a pod deleted outside Pulumi as gone", async () => {
      const { id, outs } = await created(pod, await checked(pod, podInputs()));
      emulator.terminateOutOfBand(id);
      const read = await refreshed(pod, id, outs);
      assert.equal(read.id, "");
    });

    serializedOnly("refresh reports drift but only for env keys the user declared", async () => {
      const { id, outs } = await created(pod, await checked(pod, podInputs()));
      const stored = emulator.podById(id)!;
      stored.env = { ...stored.env, PUBLIC_KEY: "ssh-ed25519 AAAA injected", JUPYTER_PASSWORD: "x" };
      stored.image = "ghcr.io/example/other:1";
      const read = await refreshed(pod, id, outs);
      assert.equal(read.id, id);
      assert.deepEqual(read.props.env, { COMFY_ARGS: "--lowvram" });
      assert.equal(read.props.image, "ghcr.io/example/other:1");
      const diff = await pod.diff!(id, read.props, await checked(pod, { ...podInputs(), name: outs.name }));
      assert.equal(diff.changes, true, "the image drift shows as a change");
      assert.deepEqual(diff.replaces, []);
    });

    it("updates env in place: PATCHes the merged map, waits for the restart, keeps injected keys", async () => {
      const inputs = await checked(pod, podInputs());
      const { id, outs } = await created(pod, inputs);
      const stored = emulator.podById(id)!;
      stored.env = { ...stored.env, PUBLIC_KEY: "ssh-ed25519 AAAA injected" };
      const before = JSON.stringify(outs.portMappings);
      const news = await checked(pod, { ...inputs, env: { COMFY_ARGS: "--highvram", EXTRA: "1" } });
      const diff = await pod.diff!(id, outs, news);
      assert.equal(diff.changes, true);
      assert.deepEqual(diff.replaces, []);
      emulator.resetCalls();
      const { outs: after } = await pod.update!(id, outs, news);
      assert.ok(after);
      const patch = emulator.calls.find((c) => c.method === "PATCH");
      assert.deepEqual(patch?.body, {
        env: { PUBLIC_KEY: "ssh-ed25519 AAAA injected", COMFY_ARGS: "--highvram", EXTRA: "1" },
      });
      assert.equal(after.status, "RUNNING");
      assert.deepEqual(after.env, { COMFY_ARGS: "--highvram", EXTRA: "1" });
      assert.notEqual(JSON.stringify(after.portMappings), before, "a reset draws new port mappings");
      assert.equal(emulator.livePods().length, 1);
    });

    serializedOnly("replaces (delete first) when the GPU count changes, but not when fallbacks are only reordered", async () => {
      const inputs = await checked(pod, podInputs());
      const { id, outs } = await created(pod, inputs);
      const more = await pod.diff!(id, outs, await checked(pod, { ...inputs, gpuCount: 2 }));
      assert.deepEqual(more.replaces, ["gpuCount"]);
      assert.equal(more.deleteBeforeReplace, true);
      const reordered = await pod.diff!(id, outs, await checked(pod, { ...inputs, gpuTypeIds: [RTX4090, L40S] }));
      assert.deepEqual(reordered.replaces, []);
      const dropped = await pod.diff!(id, outs, await checked(pod, { ...inputs, gpuTypeIds: [RTX4090] }));
      assert.deepEqual(dropped.replaces, ["gpuTypeIds"]);
      const parallel = await pod.diff!(id, outs, await checked(pod, { ...inputs, gpuCount: 2, createBeforeDelete: true }));
      assert.equal(parallel.deleteBeforeReplace, false);
      const unchanged = await pod.diff!(id, outs, inputs);
      assert.equal(unchanged.changes, false);
    });

    it("delete terminates the pod and succeeds again on a pod already gone", async () => {
      const { id, outs } = await created(pod, await checked(pod, podInputs()));
      await pod.delete!(id, outs);
      assert.equal(emulator.livePods().length, 0);
      await pod.delete!(id, outs);
    });

    it("check reports every bad input at once and lets unknown preview values through", async () => {
      const bad = await pod.check!({}, podInputs({ gpuTypeIds: [], ports: ["8188/udp"], containerDiskGb: 0, volumeGb: 5 }));
      const properties = (bad.failures ?? []).map((f) => f.property).sort();
      assert.deepEqual(properties, ["containerDiskGb", "gpuTypeIds", "ports.0", "volumeGb"]);
      const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
      const preview = await pod.check!({}, podInputs({ image: unknown, env: { A: unknown } }));
      assert.deepEqual(preview.failures, []);
      assert.equal(preview.inputs?.image, unknown);
      assert.equal(emulator.calls.length, 0, "check makes no API call");
    });

    it("registry credentials: create, refresh, adopt after an ambiguous create, delete idempotently", async () => {
      const inputs = { name: "reg-a", username: "bot", password: "s3cret-pass" };
      const { id, outs } = await registry.create(inputs);
      assert.ok(outs);
      assert.equal(outs.registryId, id);
      assert.equal(emulator.registries()[0].password, "s3cret-pass");
      const read = await registry.read!(id, outs);
      assert.equal(read.id, id);
      const diff = await registry.diff!(id, outs, { ...inputs, password: "rotated" });
      assert.deepEqual(diff.replaces, ["password"]);
      await registry.delete!(id, outs);
      await registry.delete!(id, outs);
      assert.equal((await registry.read!(id, outs)).id, "");

      emulator.inject({ method: "POST", path: /^\/v2\/registries$/, status: 502, applyFirst: true });
      const adopted = await registry.create({ ...inputs, name: "reg-b" });
      assert.equal(emulator.registries().filter((r) => r.name === "reg-b").length, 1);
      assert.equal(adopted.outs?.registryId, adopted.id);
    });
  });
}

describe("pod provider settings and secrecy", function () {
  this.timeout(30_000);

  it("fails with a clear message, before any request, when no API key is configured", async () => {
    const emulator = await RunPodEmulator.start();
    const saved = process.env.RUNPOD_API_KEY;
    delete process.env.RUNPOD_API_KEY;
    try {
      const provider = await configureLikeHost({ ...podProvider }, { "runpod:apiUrl": emulator.baseUrl });
      const inputs = await checked(provider, podInputs());
      const error = await rejection(provider.create(inputs));
      assert.match(error.message, /pulumi config set --secret runpod:apiKey/);
      assert.equal(emulator.calls.length, 0);
    } finally {
      if (saved !== undefined) process.env.RUNPOD_API_KEY = saved;
      await emulator.close();
    }
  });

  it("uses RUNPOD_API_KEY and RUNPOD_API_URL when the stack config has none", async () => {
    const emulator = await RunPodEmulator.start({ timings: { provisionMs: 50, startMs: 50, runtimeNullMs: 0 } });
    process.env.RUNPOD_API_KEY = emulator.apiKey;
    process.env.RUNPOD_API_URL = emulator.baseUrl;
    try {
      const provider = await configureLikeHost({ ...podProvider }, {});
      const { id } = await created(provider, await checked(provider, podInputs()));
      assert.ok(emulator.podById(id));
    } finally {
      delete process.env.RUNPOD_API_KEY;
      delete process.env.RUNPOD_API_URL;
      await emulator.close();
    }
  });

  it("never puts the API key into the serialized provider, even after a provider was configured", async () => {
    await configureLikeHost(podProvider, { "runpod:apiKey": "rp_SECRET_KEY_MARKER" });
    try {
      const { texts } = await captureSerializedProviders();
      // The singleton was configured above on purpose: its settings must still not be captured.
      assert.ok(!texts.pod.includes("rp_SECRET_KEY_MARKER"), "API key leaked into __provider");
      assert.ok(!texts.registry.includes("rp_SECRET_KEY_MARKER"));
    } finally {
      await configureLikeHost(podProvider, {});
    }
  });
});
