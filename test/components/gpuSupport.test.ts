// GPU types the image's PyTorch cannot run are refused by the stack config (pod.gpuTypes) before any pod is made.
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { PROJECT_NAME, parseStackConfig } from "../../components/config";
import { unsupportedGpuReason } from "../../components/gpuSupport";

const ROOT = path.resolve(__dirname, "../../..");
const parse = (gpuTypes: string[]) =>
  parseStackConfig({
    values: { [`${PROJECT_NAME}:image.ref`]: "ghcr.io/org/comfyui-steadydancer:0.1.0", [`${PROJECT_NAME}:pod.gpuTypes`]: JSON.stringify(gpuTypes) },
    secretKeys: [],
    env: { RUNPOD_API_KEY: "rpa_FAKEKEY_do_not_leak_0123456789" },
    cwd: ROOT,
  });

describe("GPU types the image cannot run (pod.gpuTypes)", function () {
  it("refuses Blackwell GPUs, naming the reason and the supported families", function () {
    const r = parse(["NVIDIA L40S", "NVIDIA GeForce RTX 5090", "NVIDIA B200", "NVIDIA RTX PRO 6000 Blackwell Server Edition"]);
    assert.equal(r.ok, false);
    const problems = r.ok ? "" : r.problems.join("\n");
    assert.match(problems, /"NVIDIA GeForce RTX 5090" is a Blackwell \(GeForce RTX 50 series\) GPU \(compute capability 12\.0\): the image's PyTorch 2\.5\.1\+cu124 has kernels up to sm_90 only/);
    assert.match(problems, /"NVIDIA B200" is a Blackwell \(B100\/B200\/B300\) GPU \(compute capability 10\.x\)/);
    assert.match(problems, /"NVIDIA RTX PRO 6000 Blackwell Server Edition" is a Blackwell/);
    assert.match(problems, /Use Ampere .*Ada Lovelace .*or Hopper/);
    assert.doesNotMatch(problems, /item "NVIDIA L40S"/);
  });

  it("accepts the Ampere, Ada and Hopper types the image is built for", function () {
    const ok = ["NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3", "NVIDIA H200", "NVIDIA GeForce RTX 4090", "NVIDIA RTX A6000", "NVIDIA RTX 5000 Ada Generation"];
    for (const id of ok) assert.equal(unsupportedGpuReason(id), undefined, id);
    const r = parse(ok);
    assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
  });
});
