// The `runpod:NetworkVolume` dynamic resource class: a network volume in one data centre.
import * as pulumi from "@pulumi/pulumi";
import { networkVolumeProvider, type NetworkVolumeInputs } from "./networkVolumeProvider";

export type NetworkVolumeArgs = { [K in keyof NetworkVolumeInputs]: pulumi.Input<NetworkVolumeInputs[K]> };

export class NetworkVolume extends pulumi.dynamic.Resource {
  declare readonly volumeId: pulumi.Output<string>;
  declare readonly dataCenterId: pulumi.Output<string>;
  declare readonly sizeGb: pulumi.Output<number>;

  constructor(name: string, args: NetworkVolumeArgs, opts?: pulumi.CustomResourceOptions) {
    super(networkVolumeProvider, name, { volumeId: undefined, volumeType: undefined, ...args }, opts, "runpod", "NetworkVolume");
  }
}
