// The CUDA floor the pod is created with (gpu.minCudaVersion) is the CUDA the image is built on.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { IMAGE_CUDA_VERSION } from "../../components/pod";

describe("image CUDA version", () => {
  it("every nvidia/cuda base stage and the torch build the image labels match IMAGE_CUDA_VERSION", () => {
    const dockerfile = fs.readFileSync(path.resolve(__dirname, "../../../docker/Dockerfile"), "utf8");
    const bases = [...dockerfile.matchAll(/^FROM\s+nvidia\/cuda:(\d+)\.(\d+)\.\d+/gm)].map((m) => `${m[1]}.${m[2]}`);
    assert.ok(bases.length > 0, "the Dockerfile builds on nvidia/cuda");
    assert.deepEqual([...new Set(bases)], [IMAGE_CUDA_VERSION]);
    // torch comes from PyPI (its 2.5.1 manylinux wheel is the cu124 build); the image's label names that build.
    const torchBuild = /io\.steadydancer\.torch="\$\{TORCH_VERSION\}\+cu(\d+)(\d)"/.exec(dockerfile);
    assert.equal(torchBuild && `${torchBuild[1]}.${torchBuild[2]}`, IMAGE_CUDA_VERSION);
  });
});
