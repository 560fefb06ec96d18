// A second Pulumi program that uses a deployed steadydancer-runpod stack: it reads the stack's outputs through a
// StackReference and hands them on, typed. Deploy it next to the GPU stack (same backend):
//   cd examples/consumer && pulumi stack init dev && pulumi config set gpuStack organization/steadydancer-runpod/dev
//   pulumi up && pulumi stack output comfyUrl
// `npm test` in the repository root type-checks this file against the root's @pulumi/pulumi (no install here).
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const gpuStack = config.require("gpuStack");
const gpu = new pulumi.StackReference(gpuStack);

/** A string output the GPU stack always exports; the pod-only ones are empty ("") on target local. */
function text(name: string): pulumi.Output<string> {
  return gpu.requireOutput(name).apply((value: unknown) => {
    if (typeof value !== "string") throw new Error(`${name} of ${gpuStack} is not a string: ${JSON.stringify(value)}`);
    return value;
  });
}

/** A string output one target exports and another leaves out (getOutput: absent reads as ""). */
function optionalText(name: string): pulumi.Output<string> {
  return gpu.getOutput(name).apply((value: unknown) => (typeof value === "string" ? value : ""));
}

/** ComfyUI's URL on target runpod or local; "" on target serverless, which has no ComfyUI URL. */
export const comfyUrl = optionalText("comfyUrl");
/** The endpoint's job API base on target serverless (POST <jobApiUrl>/run); "" on the other targets. */
export const jobApiUrl = optionalText("jobApiUrl");
export const imageRef = text("imageRef");
/** The digest deployed before imageRef: what `pulumi config set image.ref` takes for a rollback ("" before any). */
export const previousImageRef = text("previousImageRef");
export const podId = optionalText("podId");
/** USD per hour while the pod runs; null on target local (getOutput: an empty output may be left out of state). */
export const costPerHour = gpu.getOutput("costPerHour").apply((value: unknown) => (typeof value === "number" ? value : null));
export const runsOnRunPod = podId.apply((id) => id !== "");
