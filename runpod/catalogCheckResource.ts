// The `runpod:GpuCatalogCheck` dynamic resource class: the GPU catalog pre-flight as a resource that the
// image build and the pod can depend on, so its `check` runs (and can stop the deployment) before them.
import * as pulumi from "@pulumi/pulumi";
import { catalogCheckProvider, type CatalogCheckInputsArg } from "./catalogCheckProvider";

export type GpuCatalogCheckArgs = { [K in keyof CatalogCheckInputsArg]: pulumi.Input<CatalogCheckInputsArg[K]> };

export class GpuCatalogCheck extends pulumi.dynamic.Resource {
  /** The pod.gpuTypes that passed, in order (all of them when the check was skipped in a preview). */
  declare readonly allowedGpuTypeIds: pulumi.Output<string[]>;
  declare readonly summary: pulumi.Output<string>;
  declare readonly priceRange: pulumi.Output<{ min: number; max: number } | null>;
  /** product SERVERLESS: the endpoint's GPU pools and the types in them to exclude. */
  declare readonly gpuPools: pulumi.Output<string[]>;
  declare readonly excludedGpuTypeIds: pulumi.Output<string[]>;

  constructor(name: string, args: GpuCatalogCheckArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      catalogCheckProvider,
      name,
      { allowedGpuTypeIds: undefined, summary: undefined, priceRange: undefined, gpuPools: undefined, excludedGpuTypeIds: undefined, ...args },
      opts,
      "runpod",
      "GpuCatalogCheck",
    );
  }
}
