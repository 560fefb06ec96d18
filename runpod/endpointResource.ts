// The `runpod:QueueEndpoint` dynamic resource class: a queue-based serverless GPU endpoint.
import * as pulumi from "@pulumi/pulumi";
import { endpointProvider } from "./endpointProvider";
import type { EndpointInputsArg } from "./serverlessSchemas";

export type QueueEndpointArgs = { [K in keyof EndpointInputsArg]: pulumi.Input<EndpointInputsArg[K]> };

/** A RunPod serverless endpoint (type QUEUE) whose workers run a ServerlessTemplate and scale between workersMin and workersMax. */
export class QueueEndpoint extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly endpointId: pulumi.Output<string>;
  /** `${jobApiBase}/${endpointId}`: POST …/run, GET …/status/{jobId}, GET …/health. */
  declare readonly jobApiUrl: pulumi.Output<string>;
  declare readonly image: pulumi.Output<string | null>;
  declare readonly gpuPools: pulumi.Output<string[]>;
  declare readonly excludedGpuTypes: pulumi.Output<string[]>;
  declare readonly gpuCount: pulumi.Output<number>;
  declare readonly workersMin: pulumi.Output<number>;
  declare readonly workersMax: pulumi.Output<number>;
  declare readonly idleTimeoutSeconds: pulumi.Output<number | undefined>;
  declare readonly scalerType: pulumi.Output<"QUEUE_DELAY" | "REQUEST_COUNT">;
  declare readonly scalerValue: pulumi.Output<number>;
  declare readonly flashboot: pulumi.Output<"OFF" | "FLASHBOOT" | "PRIORITY_FLASHBOOT">;
  declare readonly executionTimeoutMs: pulumi.Output<number>;
  declare readonly networkVolumeIds: pulumi.Output<string[]>;
  declare readonly dataCenterIds: pulumi.Output<string[]>;
  declare readonly createdAt: pulumi.Output<string>;

  constructor(name: string, args: QueueEndpointArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      endpointProvider,
      name,
      {
        endpointId: undefined,
        jobApiUrl: undefined,
        image: undefined,
        createdAt: undefined,
        gpuCount: undefined,
        excludedGpuTypes: undefined,
        workersMin: undefined,
        workersMax: undefined,
        idleTimeoutSeconds: undefined,
        scalerType: undefined,
        scalerValue: undefined,
        flashboot: undefined,
        executionTimeoutMs: undefined,
        networkVolumeIds: undefined,
        dataCenterIds: undefined,
        ...args,
      },
      opts,
      "runpod",
      "QueueEndpoint",
    );
  }
}
