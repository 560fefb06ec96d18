// Composition only: validated config in, components created, stack outputs out.
import { DeploymentChecks } from "./components/checks";
import { loadStackConfig } from "./components/config";
import { ComfyImage } from "./components/image";
import { GpuPod } from "./components/pod";
import { GpuPreflight } from "./components/preflight";

const config = loadStackConfig();

// Checked against RunPod's GPU catalog before the image is built or a pod is created.
const preflight = new GpuPreflight("steadydancer", {
  gpuTypes: config.pod.gpuTypes,
  gpuCount: config.pod.gpuCount,
  cloud: config.pod.cloud,
  minVramGb: config.checks.minVramGb,
  maxCostPerHour: config.pod.maxCostPerHour,
});

const image = new ComfyImage("steadydancer", {
  imageName: config.image.ref,
  build: config.image.build,
  flashAttn: config.image.flashAttn,
  mmpose: config.image.mmpose,
  bakeModels: config.image.bakeModels,
  modelVariant: config.model.variant,
  extraBuildArgs: config.image.extraBuildArgs,
  registry: config.registry,
  hfToken: config.image.hfToken,
}, { dependsOn: [preflight.gate] });

const gpu = new GpuPod("steadydancer", {
  image: image.imageRef,
  modelVariant: config.model.variant,
  ...config.pod,
  gpuTypes: preflight.gpuTypes,
  registry: config.registry,
  hfToken: config.hfToken,
});

const checks = new DeploymentChecks("steadydancer", {
  comfyUrl: gpu.comfyUrl,
  podId: gpu.podId,
  imageRef: image.imageRef,
  restartKey: gpu.restartKey,
  ...config.checks,
});

export const imageRef = image.imageRef;
export const podId = gpu.podId;
export const comfyUrl = gpu.comfyUrl;
export const sshCommand = gpu.sshCommand;
export const costPerHour = gpu.costPerHour;
export const gpuType = gpu.gpuType;
export const modelsVolumeId = gpu.modelsVolumeId;
export const healthCheck = checks.health;
export const vramCheck = checks.vram;
export const generateCheck = checks.generate;
