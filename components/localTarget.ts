// LocalGpuContainer: the same image on the user's own Docker GPU host, for testing before paying for a pod.
// A pre-flight (dockerhost/cli.ts as a local command) proves the host has the NVIDIA runtime and the disk for
// the weights before the container is created; the container then waits on the image's own HEALTHCHECK.
import * as path from "path";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ModelVariant } from "../models";
import { shellCommand } from "./checks";
import { comfyAuth } from "./comfyAuth";
import { COMFYUI_PORT, podEnv } from "./pod";

/** /dev/shm for PyTorch's data loaders and ComfyUI, as docker/docker-compose.yml gives it. */
const SHM_SIZE_MB = 8192;

export interface LocalGpuContainerArgs {
  /** Image reference to run; a digest (repo@sha256:…) so a new build replaces the container. */
  image: pulumi.Input<string>;
  modelVariant: ModelVariant;
  /** Extra container env, as pod.env gives the pod. */
  env: Record<string, pulumi.Input<string>>;
  /** Where the workspace volume is mounted (MODELS_DIR defaults to <path>/models, as on the pod). */
  volumeMountPath: string;
  /** The Docker volume holding the workspace; default steadydancer-<stack>-workspace. It outlives the stack. */
  volumeName?: string;
  /** Port on 127.0.0.1 where ComfyUI is published. */
  port: number;
  /** How long creating the container may wait for the image's HEALTHCHECK to report healthy. */
  readyTimeoutMinutes: number;
  /** The weights are baked into the image: the pre-flight needs no disk for them. */
  bakedModels: boolean;
  /** Hugging Face token; reaches the container as the secret env HF_TOKEN. */
  hfToken?: pulumi.Input<string>;
  /** true: ComfyUI answers only requests carrying a token generated for this stack, as on a pod. */
  comfyAuth: boolean;
}

export class LocalGpuContainer extends pulumi.ComponentResource {
  public readonly comfyUrl: pulumi.Output<string>;
  /** Pod-only outputs, empty here so the stack keeps the same output names on every target. */
  public readonly podId: pulumi.Output<string>;
  public readonly sshCommand: pulumi.Output<string>;
  public readonly costPerHour: pulumi.Output<null>;
  public readonly gpuType: pulumi.Output<string>;
  public readonly status: pulumi.Output<string>;
  public readonly modelsVolumeId: pulumi.Output<null>;
  /** The container's id: a replaced container (new image, env, volume, port) runs the checks again. */
  public readonly restartKey: pulumi.Output<string>;
  /** The token ComfyUI's front asks for (a secret), or undefined with comfyAuth false. */
  public readonly comfyToken: pulumi.Output<string | undefined>;
  public readonly containerName: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;

  constructor(name: string, args: LocalGpuContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!path.posix.isAbsolute(args.volumeMountPath)) {
      throw new Error(`LocalGpuContainer ${name}: volumeMountPath must be an absolute path, got ${args.volumeMountPath}`);
    }
    super("steadydancer:local:LocalGpuContainer", name, {}, opts);
    const stack = pulumi.getStack();

    const volume = new docker.Volume(
      `${name}-workspace`,
      { name: args.volumeName ?? `steadydancer-${stack}-workspace` },
      // Downloaded weights (tens of GB) survive `pulumi destroy`; `docker volume rm <name>` reclaims them.
      { parent: this, retainOnDelete: true },
    );

    const plainEnv = podEnv(args, undefined, {});
    const auth = comfyAuth(name, args.comfyAuth, this);
    const cli = dockerHostCli();
    const preflight = new command.local.Command(
      `${name}-preflight`,
      {
        create: pulumi.all([args.image, volume.name, plainEnv]).apply(([image, volumeName, env]) =>
          shellCommand([
            ...cli.argv,
            "--image", image,
            "--volume", volumeName,
            "--mount", args.volumeMountPath,
            "--models-dir", env.MODELS_DIR,
            "--variant", args.modelVariant,
            ...(args.bakedModels ? ["--baked"] : []),
          ]),
        ),
        dir: cli.dir,
        logging: "stderr",
      },
      { parent: this },
    );

    const envs = podEnv(args, args.hfToken, auth.env).apply((env) =>
      Object.entries(env)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, value]) => `${key}=${value}`),
    );
    const container = new docker.Container(
      `${name}-container`,
      {
        name: `steadydancer-${stack}`,
        image: args.image,
        // Every GPU of the host, as `docker run --gpus all` asks for them.
        deviceRequests: [{ driver: "nvidia", count: -1, capabilities: ["gpu"] }],
        ports: [{ internal: COMFYUI_PORT, external: args.port, ip: "127.0.0.1", protocol: "tcp" }],
        envs,
        volumes: [{ volumeName: volume.name, containerPath: args.volumeMountPath }],
        shmSize: SHM_SIZE_MB,
        restart: "unless-stopped",
        // No healthcheck here: the image's HEALTHCHECK (long start period for the first model download) is the one
        // Docker runs, and `wait` holds the create until it reports healthy.
        wait: true,
        waitTimeout: args.readyTimeoutMinutes * 60,
      },
      {
        parent: this,
        dependsOn: [preflight],
        // One name and one host port: the old container must go before its replacement can start.
        deleteBeforeReplace: true,
        customTimeouts: { create: `${args.readyTimeoutMinutes + 10}m` },
      },
    );

    this.comfyUrl = pulumi.output(`http://127.0.0.1:${args.port}`);
    this.podId = pulumi.output("");
    this.sshCommand = pulumi.output("");
    this.costPerHour = pulumi.output(null);
    this.gpuType = pulumi.output("");
    this.status = pulumi.output("");
    this.modelsVolumeId = pulumi.output(null);
    this.restartKey = container.id;
    this.comfyToken = auth.token;
    this.containerName = container.name;
    this.volumeName = volume.name;
    this.registerOutputs({
      comfyUrl: this.comfyUrl,
      podId: this.podId,
      sshCommand: this.sshCommand,
      costPerHour: this.costPerHour,
      gpuType: this.gpuType,
      status: this.status,
      modelsVolumeId: this.modelsVolumeId,
      restartKey: this.restartKey,
      comfyToken: this.comfyToken,
      containerName: this.containerName,
      volumeName: this.volumeName,
    });
  }
}

/** How to start the pre-flight CLI: compiled when this file runs from dist/, through ts-node when from source. */
export function dockerHostCli(file: string = __filename): { dir: string; argv: string[] } {
  const here = path.dirname(file);
  if (file.endsWith(".js")) {
    const dir = path.resolve(here, "..", "..");
    return { dir, argv: ["node", path.relative(dir, path.resolve(here, "..", "dockerhost", "cli.js"))] };
  }
  const dir = path.resolve(here, "..");
  return { dir, argv: ["node", "-r", "ts-node/register/transpile-only", path.join("dockerhost", "cli.ts")] };
}
