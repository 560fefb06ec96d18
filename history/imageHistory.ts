// The `deploy:ImageHistory` dynamic resource class: the current image digest in, the one before it out.
import * as pulumi from "@pulumi/pulumi";
import { imageHistoryProvider } from "./imageHistoryProvider";

export interface ImageHistoryArgs {
  /** The digest reference (repo@sha256:…) this deployment runs. */
  imageRef: pulumi.Input<string>;
}

/**
 * Records the deployed image digest in state. When a later `pulumi up` deploys another digest, the one it
 * replaces becomes `previousImageRef` (empty on the first deploy, and while the digest stays the same).
 */
export class ImageHistory extends pulumi.dynamic.Resource {
  declare readonly imageRef: pulumi.Output<string>;
  declare readonly previousImageRef: pulumi.Output<string>;

  constructor(name: string, args: ImageHistoryArgs, opts?: pulumi.CustomResourceOptions) {
    super(imageHistoryProvider, name, { previousImageRef: undefined, ...args }, opts, "deploy", "ImageHistory");
  }
}
