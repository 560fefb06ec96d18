// GpuPreflight: the pod.gpuTypes checked against RunPod's GPU catalog before anything is built or created.
// Its check resource is what the image build and the pod depend on; the GPU types it passes (those under
// the cost cap, in order) are the ones the pod may be placed on.
import * as pulumi from "@pulumi/pulumi";
import { GpuCatalogCheck } from "../runpod";

export interface GpuPreflightArgs {
  /** RunPod GPU type ids, most preferred first. */
  gpuTypes: string[];
  gpuCount: number;
  cloud: "SECURE" | "COMMUNITY";
  /** GPU memory per GPU the model variant needs (checks.minVramGb, from the model manifest by default). */
  minVramGb?: number;
  /** USD per hour for the whole pod. */
  maxCostPerHour?: number;
  /** SERVERLESS: the types are mapped to the endpoint's GPU pools (cloud and cost cap do not apply). */
  product?: "POD" | "SERVERLESS";
}

export class GpuPreflight extends pulumi.ComponentResource {
  /** The GPU types the pod may use, preferred first. */
  public readonly gpuTypes: pulumi.Output<string[]>;
  /** The candidates' price range and what was skipped (or why the check was skipped), one line. */
  public readonly summary: pulumi.Output<string>;
  /** SERVERLESS: the GPU pools holding gpuTypes, and the other types in them that the endpoint excludes. */
  public readonly gpuPools: pulumi.Output<string[]>;
  public readonly excludedGpuTypeIds: pulumi.Output<string[]>;
  /** The resource to depend on: its check runs before whatever depends on it. */
  public readonly gate: pulumi.Resource;

  constructor(name: string, args: GpuPreflightArgs, opts?: pulumi.ComponentResourceOptions) {
    super("steadydancer:runpod:GpuPreflight", name, {}, opts);
    const check = new GpuCatalogCheck(
      `${name}-gpu-catalog`,
      {
        gpuTypeIds: args.gpuTypes,
        gpuCount: args.gpuCount,
        cloud: args.cloud,
        ...(args.minVramGb !== undefined ? { minVramGb: args.minVramGb } : {}),
        ...(args.maxCostPerHour !== undefined ? { maxCostPerHour: args.maxCostPerHour } : {}),
        ...(args.product !== undefined ? { product: args.product } : {}),
        preview: pulumi.runtime.isDryRun(),
      },
      { parent: this },
    );
    this.gate = check;
    this.gpuTypes = check.allowedGpuTypeIds;
    this.summary = check.summary;
    this.gpuPools = check.gpuPools;
    this.excludedGpuTypeIds = check.excludedGpuTypeIds;
    // Shown by `pulumi preview` and `pulumi up` alike: what the deployment may cost per hour.
    this.summary.apply((line) => {
      if (line) void pulumi.log.info(line, this);
    });
    this.registerOutputs({ gpuTypes: this.gpuTypes, summary: this.summary, gpuPools: this.gpuPools, excludedGpuTypeIds: this.excludedGpuTypeIds });
  }
}
