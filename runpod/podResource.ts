// The `runpod:Pod` dynamic resource class: typed inputs in, typed outputs out.
import * as pulumi from "@pulumi/pulumi";
import { podProvider } from "./podProvider";
import type { PodInputsArg, PortMapping } from "./schemas";

export type PodArgs = { [K in keyof PodInputsArg]: pulumi.Input<PodInputsArg[K]> };

/** A RunPod GPU pod, created through REST v2 and ready (RUNNING, container up, ports mapped) when created. */
export class Pod extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly image: pulumi.Output<string>;
  declare readonly env: pulumi.Output<Record<string, string>>;
  declare readonly podId: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  declare readonly gpuTypeId: pulumi.Output<string>;
  declare readonly gpuCount: pulumi.Output<number>;
  declare readonly dataCenterId: pulumi.Output<string | null>;
  declare readonly costPerHour: pulumi.Output<number>;
  declare readonly publicIp: pulumi.Output<string | null>;
  declare readonly portMappings: pulumi.Output<PortMapping[]>;
  declare readonly httpUrls: pulumi.Output<Record<string, string>>;
  declare readonly sshCommand: pulumi.Output<string | null>;
  /** Times Pulumi started the pod again after it stopped (EXITED); changes re-run the checks. */
  declare readonly startCount: pulumi.Output<number | undefined>;

  constructor(name: string, args: PodArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      podProvider,
      name,
      {
        podId: undefined,
        status: undefined,
        gpuTypeId: undefined,
        dataCenterId: undefined,
        costPerHour: undefined,
        publicIp: undefined,
        portMappings: undefined,
        httpUrls: undefined,
        sshCommand: undefined,
        startCount: undefined,
        ...args,
      },
      opts,
      "runpod",
      "Pod",
    );
  }
}
