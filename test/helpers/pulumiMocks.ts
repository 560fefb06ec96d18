// Shared Pulumi mock helpers: a recorder of created resources with computed outputs, an unwrap helper,
// and scanners for secrets in recorded inputs.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";

export const POD_TYPE = "pulumi-nodejs:dynamic/runpod:Pod";
export const REGISTRY_TYPE = "pulumi-nodejs:dynamic/runpod:Registry";
export const GPU_CATALOG_CHECK_TYPE = "pulumi-nodejs:dynamic/runpod:GpuCatalogCheck";
export const GPU_PREFLIGHT_TYPE = "steadydancer:runpod:GpuPreflight";
export const NETWORK_VOLUME_TYPE = "pulumi-nodejs:dynamic/runpod:NetworkVolume";
export const RANDOM_STRING_TYPE = "random:index/randomString:RandomString";
export const RANDOM_PASSWORD_TYPE = "random:index/randomPassword:RandomPassword";
/** What every mocked RandomPassword generates. */
export const MOCK_PASSWORD = "MockComfyToken0123456789abcdefghijklmnopqrstuvwx";
export const GPU_POD_TYPE = "steadydancer:runpod:GpuPod";
export const COMFY_IMAGE_TYPE = "steadydancer:image:ComfyImage";
export const CHECKS_TYPE = "steadydancer:checks:DeploymentChecks";
export const DOCKER_IMAGE_TYPE = "docker:index/image:Image";
export const REMOTE_IMAGE_TYPE = "docker:index/remoteImage:RemoteImage";
export const REGISTRY_IMAGE_TYPE = "docker:index/registryImage:RegistryImage";
export const DOCKER_TAG_TYPE = "docker:index/tag:Tag";
export const DOCKER_BUILD_IMAGE_TYPE = "docker-build:index:Image";
export const DOCKER_PROVIDER_TYPE = "pulumi:providers:docker";
export const COMMAND_TYPE = "command:local:Command";
export const LOCAL_CONTAINER_TYPE = "steadydancer:local:LocalGpuContainer";
export const DOCKER_CONTAINER_TYPE = "docker:index/container:Container";
export const DOCKER_VOLUME_TYPE = "docker:index/volume:Volume";
export const IMAGE_HISTORY_TYPE = "pulumi-nodejs:dynamic/deploy:ImageHistory";
export const TEMPLATE_TYPE = "pulumi-nodejs:dynamic/runpod:ServerlessTemplate";
export const QUEUE_ENDPOINT_TYPE = "pulumi-nodejs:dynamic/runpod:QueueEndpoint";
export const SERVERLESS_ENDPOINT_TYPE = "steadydancer:runpod:ServerlessEndpoint";
export const ENDPOINT_CHECKS_TYPE = "steadydancer:checks:EndpointChecks";
export const GET_REGISTRY_IMAGE = "docker:index/getRegistryImage:getRegistryImage";
export const MOCK_SUFFIX = "abc123";

/**
 * Waits until every pending resource registration has finished, including children whose inputs wait on
 * other resources' outputs. Uses the SDK's own tracker (runtime/settings waitForRPCs, public in JS but
 * left out of its typings).
 */
export async function settled(): Promise<void> {
  const settings: unknown = await import("@pulumi/pulumi/runtime/settings");
  const wait = settings && typeof settings === "object" && "waitForRPCs" in settings ? settings.waitForRPCs : undefined;
  if (typeof wait !== "function") throw new Error("@pulumi/pulumi no longer exports runtime/settings waitForRPCs");
  await (wait as () => Promise<void>)();
}

/** Resolves an Output's value (never resolves for unknowns: keep preview off). */
export const unwrap = <T>(o: pulumi.Input<T>) => new Promise<pulumi.Unwrap<T>>((r) => pulumi.output(o).apply(r));

export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom: boolean;
  deleteBeforeReplace?: boolean;
  /** URNs the resource was registered as depending on (explicit dependsOn plus those of its Output inputs). */
  dependencies?: string[];
  urn?: string;
  /** The provider reference the resource was registered with, if one was given explicitly. */
  provider?: string;
  /** The retainOnDelete option: true leaves the cloud resource in place on delete. */
  retainOnDelete?: boolean;
  /** Outputs the resource asked the engine to keep secret in state (additionalSecretOutputs). */
  additionalSecretOutputs?: string[];
}

export interface RecordedCall {
  token: string;
  inputs: Record<string, unknown>;
  provider?: string;
}

/** A digest the mocks derive from a name, so the same image always gets the same digest. */
export function fakeDigest(name: string): string {
  return `sha256:${createHash("sha256").update(name).digest("hex")}`;
}

/** Mocks that record every resource and return the outputs the real providers would compute. */
export class MockRecorder implements pulumi.runtime.Mocks {
  readonly created: Recorded[] = [];
  readonly calls: RecordedCall[] = [];
  /** What a local.Command prints on stdout; by default the passing verdict of the check its `create` runs. */
  commandStdout: (inputs: Record<string, unknown>) => string = (inputs) =>
    passingVerdictFor(typeof inputs.create === "string" ? inputs.create : "");
  /** The registry's answer to getRegistryImage (sha256Digest by image name). */
  registryDigest: (name: string) => string = fakeDigest;

  newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const inputs = (args.inputs ?? {}) as Record<string, unknown>;
    this.created.push({ type: args.type, name: args.name, inputs, custom: args.custom ?? false, provider: args.provider });
    const id = `${args.name}-id`;
    const computed = args.type === COMMAND_TYPE ? { stdout: this.commandStdout(inputs), stderr: "" } : computedOutputs(args.type, id, inputs);
    return { id, state: { ...inputs, ...computed } };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    const inputs = args.inputs as Record<string, unknown>;
    this.calls.push({ token: args.token, inputs, provider: args.provider });
    if (args.token === GET_REGISTRY_IMAGE) {
      const name = String(inputs.name);
      return { id: name, name, sha256Digest: this.registryDigest(name) };
    }
    return inputs;
  }

  ofType(type: string): Recorded[] {
    return this.created.filter((r) => r.type === type);
  }

  only(type: string): Recorded {
    const found = this.ofType(type);
    if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
    return found[0];
  }
}

function computedOutputs(type: string, id: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case POD_TYPE: {
      const gpus = Array.isArray(inputs.gpuTypeIds) ? (inputs.gpuTypeIds as unknown[]) : [];
      return {
        podId: id,
        status: "RUNNING",
        gpuTypeId: typeof gpus[0] === "string" ? gpus[0] : "NVIDIA L40S",
        dataCenterId: "EU-RO-1",
        costPerHour: 0.86,
        publicIp: null,
        portMappings: [],
        httpUrls: { "8188": `https://${id}-8188.proxy.runpod.net` },
        sshCommand: `ssh ${id}@ssh.runpod.io -i ~/.ssh/id_ed25519`,
      };
    }
    case REGISTRY_TYPE:
      return { registryId: `reg-${id}` };
    case IMAGE_HISTORY_TYPE:
      // What the provider's create records: nothing deployed before.
      return { previousImageRef: "" };
    case NETWORK_VOLUME_TYPE:
      return { volumeId: `vol-${id}`, volumeType: "STANDARD" };
    case GPU_CATALOG_CHECK_TYPE:
      // What the provider's check returns when every candidate passes (runpod/catalogCheckProvider.ts).
      return {
        allowedGpuTypeIds: inputs.gpuTypeIds,
        summary: "GPU candidates (mocked catalog)",
        priceRange: null,
        // The emulator's catalog: the L40S is in ADA_48_PRO beside the RTX 6000 Ada.
        gpuPools: inputs.product === "SERVERLESS" ? ["ADA_48_PRO"] : [],
        excludedGpuTypeIds: inputs.product === "SERVERLESS" ? ["NVIDIA RTX 6000 Ada Generation"] : [],
      };
    case TEMPLATE_TYPE:
      return { templateId: `tpl-${id}`, revision: 1 };
    case QUEUE_ENDPOINT_TYPE:
      return { endpointId: `ep-${id}`, jobApiUrl: `https://api.runpod.ai/v2/ep-${id}`, createdAt: "2026-12-01T00:00:00Z" };
    case RANDOM_STRING_TYPE:
      return { result: MOCK_SUFFIX };
    case RANDOM_PASSWORD_TYPE:
      return { result: MOCK_PASSWORD, bcryptHash: "mock-bcrypt" };
    case DOCKER_IMAGE_TYPE: {
      const name = String(inputs.imageName);
      return { repoDigest: `${repoOf(name)}@${fakeDigest(`built:${name}`)}`, baseImageName: name, registryServer: "" };
    }
    case REMOTE_IMAGE_TYPE: {
      const name = String(inputs.name);
      return { imageId: fakeDigest(`local:${name}`), repoDigest: `${repoOf(name)}@${fakeDigest(`built:${name}`)}` };
    }
    case REGISTRY_IMAGE_TYPE:
      return { sha256Digest: fakeDigest(`pushed:${String(inputs.name)}`) };
    case DOCKER_BUILD_IMAGE_TYPE: {
      // What the provider reports after a pushed build: the digest of the first tag, and that tag at it.
      const tag = String((inputs.tags as unknown[] | undefined)?.[0]);
      const digest = fakeDigest(`built:${tag}`);
      return { digest, ref: `${repoOf(tag)}@${digest}`, contextHash: "0".repeat(64) };
    }
    case DOCKER_TAG_TYPE:
      return { sourceImageId: fakeDigest(`local:${String(inputs.sourceImage)}`) };
    default:
      return {};
  }
}

/** [registry/]path of an image reference, without tag or digest. */
function repoOf(ref: string): string {
  const name = ref.split("@")[0] ?? ref;
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? name.slice(0, colon) : name;
}

/** A verdict that passes checks/result.ts's schema, for the check named in a checks CLI command line. */
export function passingVerdictFor(create: string): string {
  const check = /\b(health|vram|generate)\b/.exec(create)?.[1];
  if (create.includes("jobChecksCli")) return passingEndpointVerdictFor(check);
  const common = { ok: true, message: `${check ?? "unknown"} passed`, url: "https://mock-8188.proxy.runpod.net", durationMs: 12 };
  const device = { name: "cuda:0 NVIDIA L40S", type: "cuda", index: 0, vramTotalBytes: 48 * 2 ** 30, vramFreeBytes: 47 * 2 ** 30 };
  switch (check) {
    case "health":
      return JSON.stringify({ check, ...common, comfyuiVersion: "0.3.75", pythonVersion: "3.10.12", pytorchVersion: "2.5.1+cu124", devices: [device] });
    case "vram":
      return JSON.stringify({ check, ...common, minVramGb: 24, gpu: device.name, vramTotalGb: 48, vramFreeGb: 47, devices: [device] });
    case "generate":
      return JSON.stringify({
        check, ...common, workflow: "smoke", promptId: "p-1", queueMs: 5, executionMs: 900,
        frames: 16, width: 256, height: 256, fileBytes: 12345, videoPath: "checks-output/smoke.mp4",
      });
    default:
      return "";
  }
}

/** The endpoint checks' passing verdicts (runpod/jobChecksCli.ts). */
function passingEndpointVerdictFor(check: string | undefined): string {
  const common = { ok: true, message: `endpoint ${check ?? "unknown"} passed`, url: "https://api.runpod.ai/v2/ep-mock", durationMs: 12 };
  if (check === "health") {
    return JSON.stringify({
      check: "endpointHealth", ...common,
      jobs: { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 }, workers: { idle: 0, running: 0 },
    });
  }
  return JSON.stringify({
    check: "endpointGenerate", ...common, workflow: "smoke", jobId: "job-1", jobStatus: "COMPLETED", workerId: "w-1",
    coldStartSeconds: 42.5, runSeconds: 7.25, frames: 16, width: 256, height: 256, fileBytes: 12345, videoPath: "checks-output/smoke.mp4",
  });
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getDeletebeforereplace(): boolean;
  getRetainondelete(): boolean | undefined;
  getDependenciesList(): string[];
  getRetainondelete(): boolean | undefined;
  getAdditionalsecretoutputsList(): string[];
}

interface RegisterResponse {
  getUrn(): string;
}

/**
 * Installs the recorder as Pulumi's mocks; also records each resource's options (deleteBeforeReplace,
 * dependencies, retainOnDelete, additionalSecretOutputs). With `preview`, the program runs as in `pulumi preview` (pulumi.runtime.isDryRun() is true).
 */
export async function installMocks(recorder: MockRecorder, stack = "dev", preview = false): Promise<void> {
  await pulumi.runtime.setMocks(recorder, "steadydancer-runpod", stack, preview);
  const monitor = mockMonitor();
  const register = monitor.registerResource.bind(monitor);
  // MockResourceArgs carries no resource options; read them from the request the monitor receives.
  monitor.registerResource = (req: RegisterRequest, callback: (err: unknown, res: RegisterResponse | undefined) => void) => {
    const done = (err: unknown, res: RegisterResponse | undefined) => {
      const record = recorder.created.find(
        (r) => r.type === req.getType() && r.name === req.getName() && r.deleteBeforeReplace === undefined,
      );
      if (record) {
        record.deleteBeforeReplace = req.getDeletebeforereplace();
        record.dependencies = req.getDependenciesList();
        record.additionalSecretOutputs = req.getAdditionalsecretoutputsList();
        record.urn = res?.getUrn();
        record.retainOnDelete = req.getRetainondelete() ?? false;
      }
      callback(err, res);
    };
    return register(req, done);
  };
}

function mockMonitor(): MockMonitor {
  const monitor: unknown = pulumi.runtime.getMonitor();
  if (!(monitor instanceof MockMonitor)) throw new Error("Pulumi mocks are not installed");
  return monitor;
}

/** URNs of every registered resource; a child's URN type carries its parent's type (`Parent$Child`). */
export function registeredUrns(): string[] {
  return [...mockMonitor().resources.keys()];
}

/** Paths where `needle` occurs in a string that is not wrapped as a secret. */
export function plaintextPaths(value: unknown, needle: string, path = "$"): string[] {
  if (pulumi.runtime.isRpcSecret(value)) return [];
  if (typeof value === "string") return value.includes(needle) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => plaintextPaths(v, needle, `${path}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => plaintextPaths(v, needle, `${path}.${k}`));
  }
  return [];
}

/** Whether `needle` occurs anywhere in the recorded inputs, secret or not (including `__provider`). */
export function anyInputContains(records: Recorded[], needle: string): Recorded[] {
  return records.filter((r) => JSON.stringify(r.inputs).includes(needle));
}

/** The value of a possibly secret-wrapped recorded input. */
export function plain(value: unknown): unknown {
  return pulumi.runtime.isRpcSecret(value) ? (value as { value: unknown }).value : value;
}
