// Shared Pulumi mock helpers: a recorder of created resources with computed outputs, an unwrap helper,
// and scanners for secrets in recorded inputs.
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";

export const POD_TYPE = "pulumi-nodejs:dynamic/runpod:Pod";
export const REGISTRY_TYPE = "pulumi-nodejs:dynamic/runpod:Registry";
export const RANDOM_STRING_TYPE = "random:index/randomString:RandomString";
export const GPU_POD_TYPE = "steadydancer:runpod:GpuPod";
export const MOCK_SUFFIX = "abc123";

/** Resolves an Output's value (never resolves for unknowns: keep preview off). */
export const unwrap = <T>(o: pulumi.Input<T>) => new Promise<pulumi.Unwrap<T>>((r) => pulumi.output(o).apply(r));

export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom: boolean;
  deleteBeforeReplace?: boolean;
}

/** Mocks that record every resource and return the outputs the real providers would compute. */
export class MockRecorder implements pulumi.runtime.Mocks {
  readonly created: Recorded[] = [];

  newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const inputs = (args.inputs ?? {}) as Record<string, unknown>;
    this.created.push({ type: args.type, name: args.name, inputs, custom: args.custom ?? false });
    const id = `${args.name}-id`;
    return { id, state: { ...inputs, ...computedOutputs(args.type, id, inputs) } };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    return args.inputs as Record<string, unknown>;
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
    case RANDOM_STRING_TYPE:
      return { result: MOCK_SUFFIX };
    default:
      return {};
  }
}

interface RegisterRequest {
  getName(): string;
  getDeletebeforereplace(): boolean;
}

/** Installs the recorder as Pulumi's mocks; also records each resource's deleteBeforeReplace option. */
export async function installMocks(recorder: MockRecorder, stack = "dev"): Promise<void> {
  await pulumi.runtime.setMocks(recorder, "steadydancer-runpod", stack, false);
  const monitor = mockMonitor();
  const register = monitor.registerResource.bind(monitor);
  // MockResourceArgs carries no resource options; read them from the request the monitor receives.
  monitor.registerResource = (req: RegisterRequest, callback: (err: unknown, res: unknown) => void) => {
    const done = (err: unknown, res: unknown) => {
      const record = recorder.created.find((r) => r.name === req.getName() && r.deleteBeforeReplace === undefined);
      if (record) record.deleteBeforeReplace = req.getDeletebeforereplace();
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
