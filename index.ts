// Composition only: validated config in, components created, stack outputs out.
import { loadStackConfig } from "./components/config";
import { GpuPod } from "./components/pod";

const config = loadStackConfig();

const gpu = new GpuPod("steadydancer", {
  image: config.image.ref,
  ...config.pod,
  registry: config.registry,
  hfToken: config.hfToken,
});

export const imageRef = config.image.ref;
export const podId = gpu.podId;
export const comfyUrl = gpu.comfyUrl;
export const sshCommand = gpu.sshCommand;
export const costPerHour = gpu.costPerHour;
export const gpuType = gpu.gpuType;
