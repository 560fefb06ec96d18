// The `runpod:Registry` dynamic resource class: container registry credentials for private images.
import * as pulumi from "@pulumi/pulumi";
import { registryProvider } from "./registryProvider";

export interface RegistryArgs {
  name: pulumi.Input<string>;
  username: pulumi.Input<string>;
  /** Stored by RunPod write-only; kept in Pulumi state only as a secret. */
  password: pulumi.Input<string>;
}

export class Registry extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly registryId: pulumi.Output<string>;

  constructor(name: string, args: RegistryArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      registryProvider,
      name,
      { registryId: undefined, ...args, password: pulumi.secret(args.password) },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["password", "username"] }),
      "runpod",
      "Registry",
    );
  }
}
