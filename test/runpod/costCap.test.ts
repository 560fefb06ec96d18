// The pod provider's cost cap and CUDA floor against the RunPod v2 emulator: a created pod billed above
// pod.maxCostPerHour is terminated, and gpu.minCudaVersion keeps pods off hosts with an older CUDA.
import * as assert from "node:assert/strict";
import { podProvider } from "../../runpod";
import { RunPodEmulator } from "../emulators/runpod";
import { configureLikeHost, type PodProvider } from "./serializedProvider";

const L40S = "NVIDIA L40S";
process.env.RUNPOD_PROVIDER_QUIET = "1";

function podInputs(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `cap-pod-${Math.random().toString(36).slice(2, 8)}`,
    image: "ghcr.io/example/comfyui-steadydancer:0.1.0",
    gpuTypeIds: [L40S],
    volumeGb: 20,
    ports: ["8188/http", "22/tcp"],
    readyTimeoutSeconds: 20,
    minCudaVersion: "12.4",
    ...overrides,
  };
}

describe("pod cost cap and CUDA floor", function () {
  this.timeout(20000);
  let emulator: RunPodEmulator;
  let provider: PodProvider;

  before(async () => {
    emulator = await RunPodEmulator.start({ timings: { provisionMs: 50, startMs: 50 } });
  });
  after(() => emulator.close());
  beforeEach(async () => {
    emulator.resetCalls();
    provider = await configureLikeHost({ ...podProvider }, { "runpod:apiKey": emulator.apiKey, "runpod:apiUrl": emulator.baseUrl });
  });

  const create = async (overrides: Record<string, unknown>) => {
    const checked = await provider.check!({}, podInputs(overrides));
    assert.deepEqual(checked.failures ?? [], []);
    return provider.create(checked.inputs ?? {});
  };

  it("terminates a created pod whose cost is above pod.maxCostPerHour and says so", async () => {
    await assert.rejects(create({ maxCostPerHour: 0.5 }), (error: Error) => {
      assert.match(error.message, /costs \$0\.86\/h, above pod\.maxCostPerHour \$0\.50\/h\. It was terminated/);
      return true;
    });
    assert.deepEqual(emulator.livePods(), [], "nothing is left running or billed");
    assert.equal(emulator.calls.filter((c) => c.method === "DELETE").length, 1);
  });

  it("keeps a pod within the cap and sends gpu.minCudaVersion with the create", async () => {
    const { id, outs } = await create({ maxCostPerHour: 1 });
    assert.equal(outs?.costPerHour, 0.86);
    const post = emulator.calls.find((c) => c.method === "POST" && c.path === "/v2/pods");
    assert.deepEqual((post?.body as { gpu?: unknown }).gpu, { id: L40S, count: 1, minCudaVersion: "12.4" });
    await provider.delete!(id, outs);
  });

  it("places no pod where every host's CUDA is below the floor", async () => {
    // The emulator's hosts all report CUDA 12.4.
    await assert.rejects(create({ minCudaVersion: "12.8" }), /No pod could be placed/);
    assert.deepEqual(emulator.livePods(), []);
  });
});
