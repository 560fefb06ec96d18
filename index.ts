// Composition only: validated config in, components created, stack outputs out.
import type * as pulumi from "@pulumi/pulumi";
import { DeploymentChecks } from "./components/checks";
import { ServerlessEndpoint } from "./components/endpoint";
import { EndpointChecks, type GenerateVerdict, type HealthVerdict } from "./components/endpointChecks";
import { loadStackConfig } from "./components/config";
import { ComfyImage } from "./components/image";
import { bearerHeader } from "./components/comfyAuth";
import { LocalGpuContainer } from "./components/localTarget";
import { GpuPod } from "./components/pod";
import { GpuPreflight } from "./components/preflight";
import { ImageHistory } from "./history";

const config = loadStackConfig();

// Checked against RunPod's GPU catalog before the image is built or anything is created (RunPod targets only).
// For serverless it also finds the GPU pools the endpoint is placed by.
const preflight =
  config.target === "runpod"
    ? new GpuPreflight("steadydancer", {
        gpuTypes: config.pod.gpuTypes,
        gpuCount: config.pod.gpuCount,
        cloud: config.pod.cloud,
        minVramGb: config.checks.minVramGb,
        maxCostPerHour: config.pod.maxCostPerHour,
      })
    : config.target === "serverless"
      ? new GpuPreflight("steadydancer", {
          gpuTypes: config.serverless.gpuTypes,
          gpuCount: config.serverless.gpuCount,
          cloud: "SECURE",
          minVramGb: config.checks.minVramGb,
          product: "SERVERLESS",
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

const endpoint =
  config.target === "serverless"
    ? new ServerlessEndpoint("steadydancer", {
        image: image.imageRef,
        modelVariant: config.model.variant,
        env: config.pod.env,
        hfToken: config.hfToken,
        registry: config.registry,
        ...config.serverless,
        gpuPools: preflight?.gpuPools ?? [],
        excludedGpuTypes: preflight?.excludedGpuTypeIds ?? [],
      })
    : undefined;

const pod =
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
    : config.target === "runpod"
      ? new GpuPod("steadydancer", {
          image: image.imageRef,
          modelVariant: config.model.variant,
          ...config.pod,
          gpuTypes: preflight?.gpuTypes ?? config.pod.gpuTypes,
          comfyAuth: config.comfy.auth,
          registry: config.registry,
          hfToken: config.hfToken,
        })
      : undefined;

const podChecks = pod
  ? new DeploymentChecks("steadydancer", {
      comfyUrl: pod.comfyUrl,
      podId: pod.podId,
      imageRef: image.imageRef,
      restartKey: pod.restartKey,
      ...config.checks,
      // With comfy.auth the checks send the stack's token; otherwise the header (if any) of the user's own proxy.
      authHeader: config.comfy.auth ? bearerHeader(pod.comfyToken) : config.checks.authHeader,
    })
  : undefined;

const endpointChecks = endpoint
  ? new EndpointChecks("steadydancer", {
      jobApiUrl: endpoint.jobApiUrl,
      endpointId: endpoint.endpointId,
      imageRef: image.imageRef,
      restartKey: endpoint.restartKey,
      ...config.checks,
      ...(config.jobApiKey !== undefined ? { apiKey: config.jobApiKey } : {}),
    })
  : undefined;

// Recorded once the deployment runs the image, so previousImageRef names the digest it ran before.
const history = new ImageHistory("steadydancer", { imageRef: image.imageRef }, { dependsOn: [pod ?? endpoint].filter((r) => r !== undefined) });

export const imageRef = image.imageRef;
export const previousImageRef = history.previousImageRef;
// A pod (target runpod or local):
export const podId = pod?.podId;
export const comfyUrl = pod?.comfyUrl;
export const sshCommand = pod?.sshCommand;
export const podStatus = pod?.status;
export const costPerHour = pod?.costPerHour;
export const gpuType = pod?.gpuType;
export const comfyToken = pod?.comfyToken;
export const modelsVolumeId = pod?.modelsVolumeId;
export const vramCheck = podChecks?.vram;
// A serverless endpoint (target serverless):
export const endpointId = endpoint?.endpointId;
export const jobApiUrl = endpoint?.jobApiUrl;
export const gpuPools = endpoint?.gpuPools;
export const workersMax = endpoint?.workersMax;
export const coldStartSeconds = endpointChecks?.coldStartSeconds;
export const runSeconds = endpointChecks?.runSeconds;
// Either: the checks' verdicts.
export const healthCheck: pulumi.Output<HealthVerdict | undefined> | undefined = podChecks?.health ?? endpointChecks?.health;
export const generateCheck: pulumi.Output<GenerateVerdict | undefined> | undefined = podChecks?.generate ?? endpointChecks?.generate;
