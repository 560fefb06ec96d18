// Pure pod rules: placement order, request bodies, readiness, diffs and patches.
import * as assert from "node:assert/strict";
import { checkPodInputs, createPodBody, diffPod, patchPodBody, placementCandidates, podOutputs, podReadiness } from "../../runpod/podLogic";
import { podInputsSchema, type ApiPod, type PodInputs, type PodOutputs } from "../../runpod/schemas";

function inputs(overrides: Partial<PodInputs> = {}): PodInputs {
  return podInputsSchema().parse({ name: "p", image: "img:1", gpuTypeIds: ["A", "B"], volumeGb: 20, ...overrides });
}

function apiPod(overrides: Partial<ApiPod> = {}): ApiPod {
  // Every member the spec requires of a Pod, as the API reports a fresh RUNNING pod.
  const pod: ApiPod = {
    id: "pod1",
    name: "p",
    status: "RUNNING",
    actions: ["stop", "restart", "terminate"],
    image: "img:1",
    args: "",
    disk: 50,
    mounts: {},
    ports: [],
    env: {},
    registry: null,
    cloud: "SECURE",
    dataCenterId: null,
    cudaVersion: "12.4",
    ssh: { proxy: null, direct: null },
    template: null,
    cost: 0.5,
    locked: false,
    runtime: null,
    createdAt: "2026-08-20T06:16:19.436Z",
    startedAt: null,
    globalNetworking: { enabled: false },
    ...overrides,
  };
  return pod;
}

function outputsOf(i: PodInputs, gpu = "A", dc: string | null = "EU-RO-1"): PodOutputs {
  return podOutputs(i, apiPod({ gpu: { id: gpu, count: i.gpuCount, vcpuCount: 8, memory: 62 }, dataCenterId: dc, env: i.env }));
}

describe("pod rules", () => {
  it("walks GPU types before data centres, in the user's order", () => {
    const c = placementCandidates(inputs({ dataCenterIds: ["X", "Y"] }));
    assert.deepEqual(
      c.map((x) => `${x.gpuTypeId}@${x.dataCenterId}`),
      ["A@X", "A@Y", "B@X", "B@Y"],
    );
    assert.deepEqual(placementCandidates(inputs()).map((x) => x.dataCenterId), [null, null]);
  });

  it("builds a create body of v2 fields only, one GPU type, one data centre", () => {
    const body = createPodBody(inputs({ registryId: "reg1", env: { A: "1" } }), { gpuTypeId: "B", dataCenterId: "X" });
    assert.deepEqual(body, {
      name: "p",
      image: "img:1",
      gpu: { id: "B", count: 1 },
      cloud: "SECURE",
      dataCenterIds: ["X"],
      disk: 50,
      ports: ["8188/http", "22/tcp"],
      env: { A: "1" },
      registry: "reg1",
      mounts: { persistent: { size: 20, path: "/workspace" } },
      startSsh: true,
    });
    const network = createPodBody(inputs({ volumeGb: undefined, networkVolumeId: "vol1" }), { gpuTypeId: "A", dataCenterId: null });
    assert.deepEqual(network.mounts, { network: [{ volumeId: "vol1", path: "/workspace" }] });
    assert.ok(!("dataCenterIds" in network));
  });

  it("is not ready on RUNNING alone: the container and every port must be reported", () => {
    const ports = ["8188/http", "22/tcp"];
    assert.equal(podReadiness(apiPod({ runtime: null }), ports).state, "waiting");
    const partial = apiPod({ runtime: { ports: [{ private: 8188, public: 6000, type: "http", ip: "100.65.0.2" }] } });
    assert.deepEqual(podReadiness(partial, ports), { state: "waiting", reason: "RUNNING, port 22/tcp not mapped yet" });
    const noIp = apiPod({
      runtime: { ports: [{ private: 8188, public: 1, type: "http", ip: null }, { private: 22, public: null, type: "tcp", ip: null }] },
    });
    assert.equal(podReadiness(noIp, ports).state, "waiting");
    const ready = apiPod({
      runtime: { ports: [{ private: 8188, public: 1, type: "http", ip: null }, { private: 22, public: 40022, type: "tcp", ip: "1.2.3.4" }] },
    });
    assert.equal(podReadiness(ready, ports).state, "ready");
    assert.equal(podReadiness(apiPod({ status: "ERROR" }), ports).state, "failed");
    assert.equal(podReadiness(apiPod({ status: "EXITED" }), ports).state, "failed");
  });

  it("ignores env keys RunPod injected when diffing", () => {
    const i = inputs({ env: { A: "1" } });
    const olds = outputsOf(i);
    assert.equal(diffPod(olds, i).changes, false);
    assert.equal(diffPod(olds, inputs({ env: { A: "2" } })).resets, true);
  });

  it("sends env whole on PATCH: user-removed keys go, injected keys stay", () => {
    const olds = outputsOf(inputs({ env: { A: "1", B: "2" } }));
    const body = patchPodBody(olds, inputs({ env: { A: "1" } }), { A: "1", B: "2", PUBLIC_KEY: "k" });
    assert.deepEqual(body, { env: { A: "1", PUBLIC_KEY: "k" } });
  });

  it("replaces on what v2 cannot PATCH and updates the rest in place", () => {
    const olds = outputsOf(inputs());
    assert.deepEqual(diffPod(olds, inputs({ cloud: "COMMUNITY" })).replaces, ["cloud"]);
    assert.deepEqual(diffPod(olds, inputs({ volumeGb: 10 })).replaces, ["volumeGb"], "a volume cannot shrink");
    assert.deepEqual(diffPod(olds, inputs({ volumeGb: 40 })).replaces, []);
    assert.deepEqual(diffPod(olds, inputs({ volumeGb: undefined, networkVolumeId: "v" })).replaces, ["networkVolumeId"]);
    assert.deepEqual(diffPod(olds, inputs({ dataCenterIds: ["US-TX-3"] })).replaces, ["dataCenterIds"]);
    assert.deepEqual(diffPod(olds, inputs({ dataCenterIds: ["EU-RO-1", "US-TX-3"] })).replaces, []);
    const rename = diffPod(olds, inputs({ name: "q" }));
    assert.deepEqual([rename.changes, rename.resets], [true, false], "a rename does not restart the pod");
    const timeout = diffPod(olds, inputs({ readyTimeoutSeconds: 60 }));
    assert.deepEqual([timeout.changes, timeout.resets, timeout.replaces], [true, false, []]);
  });

  it("check tolerates unknowns nested in lists and maps, and still validates the rest", () => {
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const result = checkPodInputs({ name: unknown, image: unknown, gpuTypeIds: [unknown], gpuCount: 0 });
    assert.deepEqual(result.failures.map((f) => f.property), ["gpuCount"]);
  });
});
