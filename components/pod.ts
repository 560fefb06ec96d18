// GpuPod: one RunPod GPU pod running the ComfyUI image, with optional private-registry credentials.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { comfyAuth } from "./comfyAuth";
import { CONTAINER_RESETTING_FIELDS, NetworkVolume, Pod, Registry, type PodArgs } from "../runpod";
import type { ModelVariant } from "../models";

/** The port ComfyUI listens on inside the image; RunPod's proxy serves it over https. */
export const COMFYUI_PORT = 8188;
/**
 * The CUDA version of the image (docker/Dockerfile's nvidia/cuda base, torch cu124): sent as the pod's
 * gpu.minCudaVersion, so RunPod never places it on a host whose driver cannot run it.
 */
export const IMAGE_CUDA_VERSION = "12.4";

export interface GpuPodArgs {
  /** Image reference to run (tag or digest). */
  image: pulumi.Input<string>;
  /** RunPod GPU type ids, most preferred first (those the catalog pre-flight passed). */
  gpuTypes: pulumi.Input<string[]>;
  gpuCount: number;
  cloud: "SECURE" | "COMMUNITY";
  /** Allowed data centers; empty = any. */
  dataCenters: string[];
  containerDiskGb: number;
  /** Pod volume size; leave unset when a network volume is attached. */
  volumeGb?: number;
  networkVolumeId?: string;
  /**
   * Create (or adopt, by its per-stack name) and keep a network volume for the models, mounted at
   * volumeMountPath in place of the pod volume: a replaced pod finds the weights already there. It pins
   * the pod to the volume's data centre. Excludes volumeGb and networkVolumeId.
   */
  modelsVolume?: { sizeGb: number; dataCenterId: string };
  volumeMountPath: string;
  /** "<port>/http" or "<port>/tcp"; must include COMFYUI_PORT/http. */
  ports: string[];
  env: Record<string, pulumi.Input<string>>;
  /** SteadyDancer weights the pod uses: env STEADYDANCER_VARIANT (a user's STEADYDANCER_VARIANT is overridden). */
  modelVariant: ModelVariant;
  /**
   * true: ComfyUI answers only requests carrying a token generated for this stack (the image's authenticating
   * front checks COMFYUI_AUTH_TOKEN); false: COMFYUI_AUTH=off, open to anyone with the URL.
   */
  comfyAuth: boolean;
  /** Hugging Face token; reaches the pod as the secret env HF_TOKEN. */
  hfToken?: pulumi.Input<string>;
  /** Credentials of a private registry holding the image. */
  registry?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
  readyTimeoutMinutes: number;
  /** USD per hour: a created pod billed higher is terminated. */
  maxCostPerHour?: number;
  /** Remove a pod that fails to become ready (false keeps it for debugging). */
  deleteOnFailure: boolean;
  /** On replacement, create the new pod before deleting the old one (briefly pays for two). */
  createBeforeDelete: boolean;
  /** The pod stops itself after this many minutes without a queued or running prompt; 0 or unset: never. */
  idleStopMinutes?: number;
  /** The pod stops itself this many hours after its start; 0 or unset: never. */
  maxLifetimeHours?: number;
  /** What the pod does at either limit (default stop: the volume is kept and the next `pulumi up` starts it). */
  lifetimeAction?: "stop" | "terminate";
  /** An OpenSSH public key for root; reaches the pod as PUBLIC_KEY (RunPod then does not inject the account's keys). */
  publicKey?: string;
}

export class GpuPod extends pulumi.ComponentResource {
  public readonly comfyUrl: pulumi.Output<string>;
  public readonly podId: pulumi.Output<string>;
  public readonly sshCommand: pulumi.Output<string | null>;
  public readonly costPerHour: pulumi.Output<number>;
  public readonly gpuType: pulumi.Output<string>;
  /** The token ComfyUI's front asks for (a secret), or undefined with comfyAuth false. */
  public readonly comfyToken: pulumi.Output<string | undefined>;
  /** The network volume holding the models (pod.modelsVolumeGb), or null. */
  public readonly modelsVolumeId: pulumi.Output<string | null>;
  /**
   * Changes exactly when an update restarts the container in place (same pod id): a sha256 over the Pod inputs
   * RunPod applies by recreating the container. Secret, since it is computed from the env (HF_TOKEN included).
   */
  public readonly restartKey: pulumi.Output<string>;
  /** RunPod's status as last seen: EXITED after a refresh means the pod stopped itself; `pulumi up` starts it. */
  public readonly status: pulumi.Output<string>;

  constructor(name: string, args: GpuPodArgs, opts?: pulumi.ComponentResourceOptions) {
    const comfyPort = `${COMFYUI_PORT}/http`;
    if (!args.ports.includes(comfyPort)) {
      throw new Error(`GpuPod ${name}: ports must include ${comfyPort}, the port ComfyUI is reached through`);
    }
    super("steadydancer:runpod:GpuPod", name, {}, opts);

    const suffix = new random.RandomString(
      `${name}-suffix`,
      { length: 6, lower: true, upper: false, numeric: true, special: false },
      { parent: this },
    );
    const podName = pulumi.interpolate`steadydancer-${pulumi.getStack()}-${suffix.result}`;

    const registry = args.registry
      ? new Registry(
          `${name}-registry`,
          { name: podName, username: args.registry.username, password: args.registry.password },
          { parent: this },
        )
      : undefined;

    const auth = comfyAuth(name, args.comfyAuth, this);
    // Kept by `pulumi destroy` (retainOnDelete): the next `pulumi up` of this stack adopts it by name.
    const modelsVolume = args.modelsVolume
      ? new NetworkVolume(
          `${name}-models`,
          { name: `steadydancer-${pulumi.getStack()}-models`, sizeGb: args.modelsVolume.sizeGb, dataCenterId: args.modelsVolume.dataCenterId },
          { parent: this, retainOnDelete: true },
        )
      : undefined;

    const podArgs: PodArgs = {
      name: podName,
      image: args.image,
      gpuTypeIds: args.gpuTypes,
      gpuCount: args.gpuCount,
      cloud: args.cloud,
      dataCenterIds: modelsVolume ? modelsVolume.dataCenterId.apply((dc) => [dc]) : args.dataCenters,
      containerDiskGb: args.containerDiskGb,
      volumeGb: modelsVolume ? undefined : args.volumeGb,
      networkVolumeId: modelsVolume ? modelsVolume.volumeId : args.networkVolumeId,
      volumeMountPath: args.volumeMountPath,
      ports: args.ports,
      env: withRunPodEnv(podEnv(args, args.hfToken, auth.env), args),
      registryId: registry?.registryId,
      readyTimeoutSeconds: args.readyTimeoutMinutes * 60,
      deleteOnFailure: args.deleteOnFailure,
      createBeforeDelete: args.createBeforeDelete,
      minCudaVersion: IMAGE_CUDA_VERSION,
      ...(args.maxCostPerHour !== undefined ? { maxCostPerHour: args.maxCostPerHour } : {}),
    };
    const pod = new Pod(
      `${name}-pod`,
      podArgs,
      // env may hold secrets (a secret pod.env, HF_TOKEN): the outputs RunPod echoes back stay secret too.
      { parent: this, deleteBeforeReplace: !args.createBeforeDelete, additionalSecretOutputs: ["env"] },
    );

    this.comfyUrl = pod.httpUrls.apply((urls) => {
      const url = urls[String(COMFYUI_PORT)];
      if (!url) throw new Error(`pod ${name} reports no https URL for port ${COMFYUI_PORT}`);
      return url;
    });
    this.podId = pod.podId;
    this.sshCommand = pod.sshCommand;
    this.costPerHour = pod.costPerHour;
    this.gpuType = pod.gpuTypeId;
    this.comfyToken = auth.token;
    this.restartKey = restartKeyOf(podArgs, pod.startCount);
    this.status = pod.status;
    this.modelsVolumeId = modelsVolume ? modelsVolume.volumeId : pulumi.output(null);
    this.registerOutputs({
      comfyUrl: this.comfyUrl,
      podId: this.podId,
      sshCommand: this.sshCommand,
      costPerHour: this.costPerHour,
      gpuType: this.gpuType,
      comfyToken: this.comfyToken,
      modelsVolumeId: this.modelsVolumeId,
      restartKey: this.restartKey,
      status: this.status,
    });
  }
}

/**
 * The pod's env: models go under the volume (MODELS_DIR, which pod.env may override) in the chosen variant.
 * With a token the whole map becomes secret, so HF_TOKEN is never stored in plaintext.
 */
export function podEnv(
  args: Pick<GpuPodArgs, "env" | "modelVariant" | "volumeMountPath">,
  hfToken: pulumi.Input<string> | undefined,
  auth: Record<string, pulumi.Input<string>>,
) {
  const env: Record<string, pulumi.Input<string>> = {
    MODELS_DIR: `${args.volumeMountPath.replace(/\/+$/, "")}/models`,
    ...args.env,
    STEADYDANCER_VARIANT: args.modelVariant,
    ...auth,
  };
  return pulumi.output(hfToken === undefined ? env : { ...env, HF_TOKEN: pulumi.secret(hfToken) });
}

/**
 * What only a RunPod pod gets: the watchdog's limits (it needs RUNPOD_POD_ID and the pod-scoped key) and the
 * SSH key. The map stays secret when it was (HF_TOKEN).
 */
function withRunPodEnv(
  env: pulumi.Output<Record<string, string>>,
  args: Pick<GpuPodArgs, "idleStopMinutes" | "maxLifetimeHours" | "lifetimeAction" | "publicKey">,
): pulumi.Output<Record<string, string>> {
  const extra: Record<string, string> = { ...selfStopEnv(args), ...(args.publicKey ? { PUBLIC_KEY: args.publicKey } : {}) };
  return Object.keys(extra).length ? env.apply((values) => ({ ...values, ...extra })) : env;
}

/** The env of docker/scripts/pod-watchdog.py, only when a limit is set (no limit: the env is as before). */
function selfStopEnv(args: Pick<GpuPodArgs, "idleStopMinutes" | "maxLifetimeHours" | "lifetimeAction">): Record<string, string> {
  const idle = args.idleStopMinutes ?? 0;
  const lifetime = args.maxLifetimeHours ?? 0;
  if (idle <= 0 && lifetime <= 0) return {};
  return {
    ...(idle > 0 ? { IDLE_STOP_MINUTES: String(idle) } : {}),
    ...(lifetime > 0 ? { MAX_LIFETIME_HOURS: String(lifetime) } : {}),
    LIFETIME_ACTION: args.lifetimeAction ?? "stop",
  };
}

/**
 * A hash of the Pod inputs whose in-place update recreates the container, and of how often Pulumi started the
 * pod again after it stopped itself: it changes exactly when the container restarts.
 */
function restartKeyOf(podArgs: PodArgs, startCount: pulumi.Output<number | undefined>): pulumi.Output<string> {
  const restarting = Object.fromEntries(CONTAINER_RESETTING_FIELDS.map((field) => [field, podArgs[field] ?? null]));
  const key = pulumi.all([pulumi.output(restarting), startCount]).apply(([values, starts]) => {
    // Env key order means nothing to RunPod; port order is compared as sent, so it stays.
    const env = (values.env ?? {}) as Record<string, string>;
    const sortedEnv = Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const fields = CONTAINER_RESETTING_FIELDS.map((field) => (field === "env" ? sortedEnv : values[field]));
    // Appended only once the pod was started again, so state from before startCount keeps its key.
    const canonical = JSON.stringify(starts ? [...fields, { starts }] : fields);
    return createHash("sha256").update(canonical).digest("hex");
  });
  // Secret even without a token: pod.env values may be sensitive, and a hash of low-entropy values can be guessed.
  return pulumi.secret(key);
}
