// Composition only: validated config in, components created, stack outputs out.
import { DeploymentChecks } from "./components/checks";
import { loadStackConfig } from "./components/config";
import { ComfyImage } from "./components/image";
import { GpuPod, bearerHeader } from "./components/pod";

const config = loadStackConfig();

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
});

const gpu = new GpuPod("steadydancer", {
  image: image.imageRef,
  modelVariant: config.model.variant,
  ...config.pod,
  comfyAuth: config.comfy.auth,
  registry: config.registry,
  hfToken: config.hfToken,
});

const checks = new DeploymentChecks("steadydancer", {
  comfyUrl: gpu.comfyUrl,
  podId: gpu.podId,
  imageRef: image.imageRef,
  restartKey: gpu.restartKey,
  ...config.checks,
  // With comfy.auth the checks send the stack's token; otherwise the header (if any) of the user's own proxy.
  authHeader: config.comfy.auth ? bearerHeader(gpu.comfyToken) : config.checks.authHeader,
});

export const imageRef = image.imageRef;
export const podId = gpu.podId;
export const comfyUrl = gpu.comfyUrl;
export const sshCommand = gpu.sshCommand;
export const costPerHour = gpu.costPerHour;
export const gpuType = gpu.gpuType;
export const comfyToken = gpu.comfyToken;
export const healthCheck = checks.health;
export const vramCheck = checks.vram;
export const generateCheck = checks.generate;
