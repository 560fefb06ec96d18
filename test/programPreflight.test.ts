// The program's GPU catalog pre-flight under Pulumi mocks: it is registered before the image build and
// the pod, the build waits for it, and the pod may only use the GPU types it passed.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_NAME } from "../components/config";
import { IMAGE_CUDA_VERSION } from "../components/pod";
import {
  DOCKER_BUILD_IMAGE_TYPE,
  GPU_CATALOG_CHECK_TYPE,
  MockRecorder,
  POD_TYPE,
  installMocks,
  settled,
  unwrap,
} from "./helpers/pulumiMocks";

const P = `${PROJECT_NAME}:`;
const PROGRAM = require.resolve("../index");

/** Mocks whose catalog check passes only the L40S, as if the other types were above the cost cap. */
class CappedCatalog extends MockRecorder {
  newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const result = super.newResource(args);
    if (args.type !== GPU_CATALOG_CHECK_TYPE) return result;
    return { ...result, state: { ...result.state, allowedGpuTypeIds: ["NVIDIA L40S"], summary: "GPU candidates $0.86–$0.86/h" } };
  }
}

async function runProgram(): Promise<typeof import("../index")> {
  delete require.cache[PROGRAM];
  return import("../index");
}

describe("program: GPU catalog pre-flight", function () {
  this.timeout(20000);
  const savedKey = process.env.RUNPOD_API_KEY;

  before(() => delete process.env.RUNPOD_API_KEY);
  after(() => {
    if (savedKey === undefined) delete process.env.RUNPOD_API_KEY;
    else process.env.RUNPOD_API_KEY = savedKey;
    pulumi.runtime.setAllConfig({});
    delete require.cache[PROGRAM];
  });

  function setConfig(values: Record<string, string>, withKey = true): void {
    const full = Object.fromEntries(Object.entries(values).map(([k, v]) => [P + k, v]));
    const key: Record<string, string> = withKey ? { "runpod:apiKey": "rpa_FAKE_preflight_key_0123456789" } : {};
    pulumi.runtime.setAllConfig({ ...full, ...key }, withKey ? ["runpod:apiKey"] : []);
  }

  it("checks the catalog before the build, and the pod gets only the GPU types that passed", async () => {
    const mocks = new CappedCatalog();
    await installMocks(mocks);
    setConfig({
      "image.ref": "ghcr.io/org/comfyui-steadydancer:0.1.0",
      "pod.gpuTypes": '["NVIDIA H100 80GB HBM3","NVIDIA L40S"]',
      "pod.gpuCount": "1",
      "pod.maxCostPerHour": "1.25",
      "model.variant": "fp8",
    });
    const program = await runProgram();
    await unwrap(program.podId);
    await settled();

    const check = mocks.only(GPU_CATALOG_CHECK_TYPE);
    assert.deepEqual(check.inputs.gpuTypeIds, ["NVIDIA H100 80GB HBM3", "NVIDIA L40S"]);
    assert.equal(check.inputs.maxCostPerHour, 1.25);
    assert.equal(check.inputs.cloud, "SECURE");
    assert.equal(typeof check.inputs.minVramGb, "number", "the manifest's VRAM minimum for the variant");
    assert.equal(check.inputs.preview, false);
    assert.ok(!JSON.stringify(check.inputs).includes("rpa_FAKE"), "the API key is no input of the check");

    const build = mocks.only(DOCKER_BUILD_IMAGE_TYPE);
    assert.ok(check.urn && build.dependencies?.includes(check.urn), "the image build waits for the pre-flight");
    assert.ok(mocks.created.indexOf(check) < mocks.created.indexOf(build));

    const pod = mocks.only(POD_TYPE);
    assert.deepEqual(pod.inputs.gpuTypeIds, ["NVIDIA L40S"], "only what the pre-flight passed");
    assert.equal(pod.inputs.minCudaVersion, IMAGE_CUDA_VERSION);
    assert.equal(pod.inputs.maxCostPerHour, 1.25);
  });

  it("previews without an API key, telling the check it runs in a preview (where it is then skipped)", async () => {
    const mocks = new MockRecorder();
    await installMocks(mocks, "dev", true);
    setConfig({ "image.ref": "ghcr.io/org/comfyui-steadydancer:0.1.0" }, false);
    await runProgram();
    await settled();
    assert.equal(mocks.only(GPU_CATALOG_CHECK_TYPE).inputs.preview, true);
  });

  it("still requires the API key outside a preview, before anything is created", async () => {
    const mocks = new MockRecorder();
    await installMocks(mocks);
    setConfig({ "image.ref": "ghcr.io/org/comfyui-steadydancer:0.1.0" }, false);
    await assert.rejects(runProgram(), /runpod:apiKey is not set: required for target runpod, and RUNPOD_API_KEY is not set either/);
    assert.deepEqual(mocks.created, []);
  });
});
