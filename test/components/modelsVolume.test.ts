// pod.modelsVolumeGb: the config rules, and GpuPod under mocks creating a kept network volume that the
// pod mounts at the models path and is pinned to.
import * as assert from "node:assert/strict";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_NAME, parseStackConfig } from "../../components/config";
import { GpuPod, type GpuPodArgs } from "../../components/pod";
import { MockRecorder, NETWORK_VOLUME_TYPE, POD_TYPE, installMocks, settled, unwrap } from "../helpers/pulumiMocks";

const P = `${PROJECT_NAME}:`;
const ROOT = path.resolve(__dirname, "../../..");

function parse(values: Record<string, string>) {
  const full = Object.fromEntries(Object.entries({ "image.ref": "ghcr.io/org/img:1", ...values }).map(([k, v]) => [P + k, v]));
  return parseStackConfig({ values: { ...full, "runpod:apiKey": "rpa_FAKE_models_volume_0123" }, secretKeys: ["runpod:apiKey"], cwd: ROOT });
}

describe("models volume (pod.modelsVolumeGb)", function () {
  this.timeout(20000);

  describe("config", () => {
    before(async () => installMocks(new MockRecorder()));

    it("replaces the default pod volume and takes its data centre from pod.dataCenters", () => {
      const result = parse({ "pod.modelsVolumeGb": "150", "pod.dataCenters": '["EU-RO-1","US-TX-3"]' });
      assert.ok(result.ok, result.ok ? "" : result.problems.join("\n"));
      assert.equal(result.config.pod.volumeGb, undefined);
      assert.deepEqual(result.config.pod.modelsVolume, { sizeGb: 150, dataCenterId: "EU-RO-1" });
    });

    it("reports a missing data centre, a clash with the other volume keys and COMMUNITY cloud at once", () => {
      const result = parse({ "pod.modelsVolumeGb": "150", "pod.volumeGb": "100", "pod.cloud": "COMMUNITY" });
      assert.ok(!result.ok);
      const text = result.problems.join("\n");
      assert.match(text, /pod\.modelsVolumeGb = "150": set either pod\.modelsVolumeGb or pod\.volumeGb, not both/);
      assert.match(text, /pod\.cloud = "COMMUNITY": network volumes attach to SECURE cloud pods only/);
      assert.match(text, /pod\.modelsVolumeDataCenter is not set: has no data centre/);
    });

    it("refuses a models volume data centre outside pod.dataCenters", () => {
      const result = parse({ "pod.modelsVolumeGb": "150", "pod.modelsVolumeDataCenter": "US-TX-3", "pod.dataCenters": '["EU-RO-1"]' });
      assert.ok(!result.ok);
      assert.match(result.problems.join("\n"), /US-TX-3 is not in pod\.dataCenters, but the pod must run where its models volume is/);
    });
  });

  describe("GpuPod", () => {
    const args = (overrides: Partial<GpuPodArgs>): GpuPodArgs => ({
      image: "ghcr.io/org/comfyui-steadydancer@sha256:" + "a".repeat(64),
      gpuTypes: ["NVIDIA L40S"],
      gpuCount: 1,
      cloud: "SECURE",
      dataCenters: [],
      containerDiskGb: 60,
      volumeMountPath: "/workspace",
      ports: ["8188/http", "22/tcp"],
      env: {},
      modelVariant: "fp8",
      readyTimeoutMinutes: 20,
      deleteOnFailure: true,
      createBeforeDelete: false,
      comfyAuth: false,
      ...overrides,
    });

    it("creates a kept network volume and pins the pod to its data centre, models under its mount", async () => {
      const mocks = new MockRecorder();
      await installMocks(mocks);
      const gpu = new GpuPod("sd", args({ modelsVolume: { sizeGb: 150, dataCenterId: "EU-RO-1" } }));
      const volumeId = await unwrap(gpu.modelsVolumeId);
      await settled();
      const volume = mocks.only(NETWORK_VOLUME_TYPE);
      assert.deepEqual(
        { name: volume.inputs.name, sizeGb: volume.inputs.sizeGb, dataCenterId: volume.inputs.dataCenterId },
        { name: "steadydancer-dev-models", sizeGb: 150, dataCenterId: "EU-RO-1" },
      );
      assert.equal(volume.retainOnDelete, true, "pulumi destroy keeps the volume (and the models)");
      const pod = mocks.only(POD_TYPE);
      assert.equal(pod.inputs.networkVolumeId, volumeId);
      assert.equal(pod.inputs.volumeGb, undefined);
      assert.deepEqual(pod.inputs.dataCenterIds, ["EU-RO-1"]);
      const env = pod.inputs.env as Record<string, string>;
      assert.equal(env.MODELS_DIR, "/workspace/models");
    });

    it("creates no volume without pod.modelsVolumeGb", async () => {
      const mocks = new MockRecorder();
      await installMocks(mocks);
      const gpu = new GpuPod("sd", args({ volumeGb: 100 }));
      assert.equal(await unwrap(gpu.modelsVolumeId), null);
      await settled();
      assert.equal(mocks.ofType(NETWORK_VOLUME_TYPE).length, 0);
      pulumi.runtime.setAllConfig({});
    });
  });
});
