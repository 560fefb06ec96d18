// The network-volume provider (pod.modelsVolumeGb) against the RunPod v2 emulator's /v2/network-volumes,
// and a pod mounting the volume: placed in the volume's data centre, and the volume outlives the pod.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { NetworkVolume, networkVolumeProvider, podProvider, type NetworkVolumeOutputs } from "../../runpod";
import { RunPodEmulator } from "../emulators/runpod";
import { configureLikeHost, type PodProvider } from "./serializedProvider";

type VolumeProvider = typeof networkVolumeProvider;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => { handler: () => unknown };

/** The provider text a NetworkVolume registers, loaded as a fresh provider host would. */
async function serializedProvider(): Promise<VolumeProvider> {
  let text: string | undefined;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const candidate = (args.inputs as Record<string, unknown>).__provider;
        if (typeof candidate === "string") text = candidate;
        return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "steadydancer-runpod",
    "test",
    false,
  );
  const volume = new NetworkVolume("capture", { name: "capture", sizeGb: 10, dataCenterId: "EU-RO-1" });
  await new Promise<void>((resolve) => volume.urn.apply(() => resolve()));
  for (let i = 0; i < 100 && !text; i += 1) await new Promise((r) => setTimeout(r, 10));
  if (!text) throw new Error("the NetworkVolume provider was not serialized");
  return requireFromString(text).handler() as VolumeProvider;
}
process.env.RUNPOD_PROVIDER_QUIET = "1";

describe("network volume provider (models volume)", function () {
  this.timeout(20000);
  let emulator: RunPodEmulator;
  let volumes: VolumeProvider;
  let pods: PodProvider;

  before(async () => {
    emulator = await RunPodEmulator.start({ timings: { provisionMs: 50, startMs: 50 } });
  });
  after(() => emulator.close());
  beforeEach(async () => {
    emulator.resetCalls();
    const config = { "runpod:apiKey": emulator.apiKey, "runpod:apiUrl": emulator.baseUrl };
    volumes = await configureLikeHost({ ...networkVolumeProvider }, config);
    pods = await configureLikeHost({ ...podProvider }, config);
  });

  const uniqueName = () => `steadydancer-test-${Math.random().toString(36).slice(2, 8)}-models`;

  async function createVolume(inputs: Record<string, unknown>): Promise<{ id: string; outs: NetworkVolumeOutputs }> {
    const checked = await volumes.check!({}, inputs);
    assert.deepEqual(checked.failures ?? [], []);
    const { id, outs } = await volumes.create(checked.inputs ?? {});
    assert.ok(outs);
    return { id, outs };
  }

  it("creates a volume in its data centre, and a pod mounting it lands there and leaves it behind", async () => {
    const { id, outs } = await createVolume({ name: uniqueName(), sizeGb: 150, dataCenterId: "EU-RO-1" });
    assert.equal(outs.volumeId, id);
    assert.equal(outs.volumeType, "STANDARD", "the data centre's first tier when none is asked for");
    const post = emulator.calls.find((c) => c.method === "POST" && c.path === "/v2/network-volumes");
    assert.deepEqual(post?.body, { name: outs.name, size: 150, dataCenter: "EU-RO-1" });

    const podIn = await pods.check!({}, {
      name: `nv-pod-${Math.random().toString(36).slice(2, 8)}`,
      image: "ghcr.io/example/comfyui-steadydancer:0.1.0",
      gpuTypeIds: ["NVIDIA L40S"],
      dataCenterIds: ["EU-RO-1"],
      networkVolumeId: id,
      ports: ["8188/http"],
      readyTimeoutSeconds: 20,
    });
    const pod = await pods.create(podIn.inputs ?? {});
    assert.equal(pod.outs?.dataCenterId, "EU-RO-1");
    await pods.delete!(pod.id, pod.outs);
    assert.ok(emulator.volumes.all().some((v) => v.id === id), "deleting the pod keeps the volume and its models");
  });

  it("adopts the volume a destroy kept (same name and data centre) and grows it, instead of making a second", async () => {
    const name = uniqueName();
    const kept = emulator.volumes.seed({ name, size: 100, dataCenter: "EU-RO-1", type: "STANDARD" });
    const { id, outs } = await createVolume({ name, sizeGb: 200, dataCenterId: "EU-RO-1" });
    assert.equal(id, kept.id);
    assert.equal(outs.sizeGb, 200);
    assert.equal(emulator.calls.filter((c) => c.method === "POST").length, 0, "no second billed volume");
    assert.equal(emulator.volumes.all().find((v) => v.id === id)?.size, 200);
  });

  it("refuses to shrink, replaces on a data centre change, and grows in place", async () => {
    const { id, outs } = await createVolume({ name: uniqueName(), sizeGb: 100, dataCenterId: "US-TX-3" });
    const { volumeId: _id, volumeType: _type, ...inputs } = outs;
    const shrink = await volumes.check!(outs as unknown as Record<string, unknown>, { ...inputs, sizeGb: 50 });
    assert.match(shrink.failures?.[0]?.reason ?? "", /cannot shrink \(it has 100 GB\)/);
    const moved = await volumes.diff!(id, outs, { ...inputs, dataCenterId: "EU-RO-1" });
    assert.deepEqual(moved.replaces, ["dataCenterId"]);
    const grown = await volumes.update!(id, outs, { ...inputs, sizeGb: 120 });
    assert.equal(grown.outs?.sizeGb, 120);
    const patch = emulator.calls.find((c) => c.method === "PATCH");
    assert.deepEqual(patch?.body, { size: 120 });
  });

  it("works the same after Pulumi serialized the provider into state", async () => {
    const loaded = await configureLikeHost(await serializedProvider(), { "runpod:apiKey": emulator.apiKey, "runpod:apiUrl": emulator.baseUrl });
    const checked = await loaded.check!({}, { name: uniqueName(), sizeGb: 30, dataCenterId: "EU-RO-1" });
    const { id, outs } = await loaded.create(checked.inputs ?? {});
    assert.equal((await loaded.read!(id, outs)).id, id);
    await loaded.delete!(id, outs!);
    assert.ok(!emulator.volumes.all().some((v) => v.id === id));
  });

  it("passes on RunPod's refusal of a data centre without network volumes, and reads a deleted volume as gone", async () => {
    // The emulator's CA-MTL-1 offers STANDARD volumes; a made-up data centre offers none.
    await assert.rejects(createVolume({ name: uniqueName(), sizeGb: 20, dataCenterId: "XX-NONE-1" }), /400.*does not support network volumes; supported: /s);
    const { id, outs } = await createVolume({ name: uniqueName(), sizeGb: 20, dataCenterId: "CA-MTL-1" });
    await volumes.delete!(id, outs);
    const read = await volumes.read!(id, outs);
    assert.equal(read.id, "");
    await volumes.delete!(id, outs); // already gone: still succeeds
  });
});
