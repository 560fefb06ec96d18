// ServerlessEndpoint: the same image as a RunPod queue endpoint whose workers scale from zero. A serverless
// template carries the container (image, env, disk, registry); the endpoint carries the GPU pools, the worker
// bounds and the scaler. Workers run docker/scripts/start.sh with MODE=serverless: ComfyUI inside the worker,
// reached only by the job handler, so there is no port, no token and no sshd.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { QueueEndpoint, Registry, ServerlessTemplate } from "../runpod";
import type { ModelVariant } from "../models";
import { IMAGE_CUDA_VERSION } from "./pod";

/** Where RunPod mounts an endpoint's network volume inside each worker. */
export const SERVERLESS_VOLUME_PATH = "/runpod-volume";

export interface ServerlessEndpointArgs {
  image: pulumi.Input<string>;
  modelVariant: ModelVariant;
  /** pod.env: the container env of every worker. */
  env: Record<string, pulumi.Input<string>>;
  /** Hugging Face token; reaches the workers as the secret env HF_TOKEN. */
  hfToken?: pulumi.Input<string>;
  registry?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
  /** The GPU pools holding serverless.gpuTypes, and the other types in them (GpuPreflight with product SERVERLESS). */
  gpuPools: pulumi.Input<string[]>;
  excludedGpuTypes: pulumi.Input<string[]>;
  gpuCount: number;
  workersMin: number;
  workersMax: number;
  /** QUEUE_DELAY only; undefined with REQUEST_COUNT. */
  idleTimeoutSeconds?: number;
  scalerType: "QUEUE_DELAY" | "REQUEST_COUNT";
  scalerValue: number;
  flashboot: boolean;
  executionTimeoutSeconds: number;
  dataCenterIds: string[];
  /** A network volume holding the models, mounted at SERVERLESS_VOLUME_PATH in every worker. */
  networkVolumeId?: string;
  containerDiskGb: number;
  /** Videos up to this size come back base64 in the job output; larger ones need the bucket. */
  maxInlineVideoMb: number;
  bucket?: { endpointUrl: string; name?: string; accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> };
}

export class ServerlessEndpoint extends pulumi.ComponentResource {
  public readonly endpointId: pulumi.Output<string>;
  /** The endpoint's job API base: POST …/run, GET …/status/{id}, GET …/health (RunPod API key as Bearer). */
  public readonly jobApiUrl: pulumi.Output<string>;
  public readonly templateId: pulumi.Output<string>;
  public readonly gpuPools: pulumi.Output<string[]>;
  public readonly workersMax: pulumi.Output<number>;
  /**
   * Changes exactly when the workers' container changes (the template's revision, the endpoint): the checks run
   * again then. Secret, since the template env holds HF_TOKEN.
   */
  public readonly restartKey: pulumi.Output<string>;

  constructor(name: string, args: ServerlessEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    super("steadydancer:runpod:ServerlessEndpoint", name, {}, opts);
    const suffix = new random.RandomString(
      `${name}-suffix`,
      { length: 6, lower: true, upper: false, numeric: true, special: false },
      { parent: this },
    );
    const baseName = pulumi.interpolate`steadydancer-${pulumi.getStack()}-${suffix.result}`;

    const registry = args.registry
      ? new Registry(`${name}-registry`, { name: baseName, username: args.registry.username, password: args.registry.password }, { parent: this })
      : undefined;

    const template = new ServerlessTemplate(
      `${name}-template`,
      {
        name: baseName,
        image: args.image,
        env: workerEnv(args),
        containerDiskGb: args.containerDiskGb,
        ...(registry ? { registryId: registry.registryId } : {}),
      },
      { parent: this },
    );

    const endpoint = new QueueEndpoint(
      `${name}-endpoint`,
      {
        name: baseName,
        templateId: template.templateId,
        templateRevision: template.revision,
        gpuPools: args.gpuPools,
        excludedGpuTypes: args.excludedGpuTypes,
        gpuCount: args.gpuCount,
        minCudaVersion: IMAGE_CUDA_VERSION,
        workersMin: args.workersMin,
        workersMax: args.workersMax,
        ...(args.idleTimeoutSeconds !== undefined ? { idleTimeoutSeconds: args.idleTimeoutSeconds } : {}),
        scalerType: args.scalerType,
        scalerValue: args.scalerValue,
        flashboot: args.flashboot ? "FLASHBOOT" : "OFF",
        networkVolumeIds: args.networkVolumeId ? [args.networkVolumeId] : [],
        dataCenterIds: args.dataCenterIds,
        executionTimeoutMs: args.executionTimeoutSeconds * 1000,
      },
      { parent: this },
    );

    this.endpointId = endpoint.endpointId;
    this.jobApiUrl = endpoint.jobApiUrl;
    this.templateId = template.templateId;
    this.gpuPools = endpoint.gpuPools;
    this.workersMax = endpoint.workersMax;
    this.restartKey = pulumi.secret(
      pulumi
        .all([template.templateId, template.revision, endpoint.endpointId])
        .apply((parts) => createHash("sha256").update(JSON.stringify(parts)).digest("hex")),
    );
    this.registerOutputs({
      endpointId: this.endpointId,
      jobApiUrl: this.jobApiUrl,
      templateId: this.templateId,
      gpuPools: this.gpuPools,
      workersMax: this.workersMax,
      restartKey: this.restartKey,
    });
  }
}

/**
 * The workers' env: serverless mode, the models on the network volume when there is one, the variant, the
 * inline-size limit and the bucket. Secret as a whole whenever a secret (HF_TOKEN, the bucket keys) is in it.
 */
export function workerEnv(
  args: Pick<ServerlessEndpointArgs, "env" | "modelVariant" | "hfToken" | "networkVolumeId" | "maxInlineVideoMb" | "bucket">,
): pulumi.Output<Record<string, string>> {
  const env: Record<string, pulumi.Input<string>> = {
    ...(args.networkVolumeId ? { MODELS_DIR: `${SERVERLESS_VOLUME_PATH}/models` } : {}),
    ...args.env,
    MODE: "serverless",
    STEADYDANCER_VARIANT: args.modelVariant,
    MAX_INLINE_BYTES: String(Math.round(args.maxInlineVideoMb * 1024 * 1024)),
  };
  const secrets: Record<string, pulumi.Input<string>> = {};
  if (args.hfToken !== undefined) secrets.HF_TOKEN = args.hfToken;
  if (args.bucket) {
    env.BUCKET_ENDPOINT_URL = args.bucket.endpointUrl;
    if (args.bucket.name) env.BUCKET_NAME = args.bucket.name;
    secrets.BUCKET_ACCESS_KEY_ID = args.bucket.accessKeyId;
    secrets.BUCKET_SECRET_ACCESS_KEY = args.bucket.secretAccessKey;
  }
  const all = pulumi.output({ ...env, ...secrets });
  return Object.keys(secrets).length ? pulumi.secret(all) : all;
}
