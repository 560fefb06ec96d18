// Composition only: validated config in, components created, stack outputs out.
import { DeploymentChecks } from "./components/checks";
import { loadStackConfig } from "./components/config";
import { ComfyImage } from "./components/image";
import { bearerHeader } from "./components/comfyAuth";
import { LocalGpuContainer } from "./components/localTarget";
import { GpuPod } from "./components/pod";
import { GpuPreflight } from "./components/preflight";
import { ImageHistory } from "./history";

const config = loadStackConfig();

// Checked against RunPod's GPU catalog before the image is built or a pod is created (RunPod only).
const preflight =
  config.target === "runpod"
    ? new GpuPreflight("steadydancer", {
        gpuTypes: config.pod.gpuTypes,
        gpuCount: config.pod.gpuCount,
        cloud: config.pod.cloud,
        minVramGb: config.checks.minVramGb,
        maxCostPerHour: config.pod.maxCostPerHour,
      })
    : undefined;

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
}, { dependsOn: preflight ? [preflight.gate] : [] });

const deployment =
  config.target === "local"
    ? new LocalGpuContainer("steadydancer", {
        image: image.imageRef,
        modelVariant: config.model.variant,
        env: config.pod.env,
        volumeMountPath: config.pod.volumeMountPath,
        volumeName: config.local.volumeName,
        port: config.local.port,
        readyTimeoutMinutes: config.local.readyTimeoutMinutes,
        bakedModels: config.image.bakeModels,
        hfToken: config.hfToken,
        comfyAuth: config.comfy.auth,
      })
    : new GpuPod("steadydancer", {
        image: image.imageRef,
        modelVariant: config.model.variant,
        ...config.pod,
        gpuTypes: preflight?.gpuTypes ?? config.pod.gpuTypes,
        comfyAuth: config.comfy.auth,
        registry: config.registry,
        hfToken: config.hfToken,
      });

const checks = new DeploymentChecks("steadydancer", {
  comfyUrl: deployment.comfyUrl,
  podId: deployment.podId,
  imageRef: image.imageRef,
  restartKey: deployment.restartKey,
  ...config.checks,
  // With comfy.auth the checks send the stack's token; otherwise the header (if any) of the user's own proxy.
  authHeader: config.comfy.auth ? bearerHeader(deployment.comfyToken) : config.checks.authHeader,
});

// Recorded once the deployment runs the image, so previousImageRef names the digest it ran before.
const history = new ImageHistory("steadydancer", { imageRef: image.imageRef }, { dependsOn: [deployment] });

export const imageRef = image.imageRef;
export const previousImageRef = history.previousImageRef;
export const podId = deployment.podId;
export const comfyUrl = deployment.comfyUrl;
export const sshCommand = deployment.sshCommand;
export const podStatus = deployment.status;
export const costPerHour = deployment.costPerHour;
export const gpuType = deployment.gpuType;
export const comfyToken = deployment.comfyToken;
export const modelsVolumeId = deployment.modelsVolumeId;
export const healthCheck = checks.health;
export const vramCheck = checks.vram;
export const generateCheck = checks.generate;
