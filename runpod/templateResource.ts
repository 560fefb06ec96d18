// The `runpod:ServerlessTemplate` dynamic resource class: a RunPod template with `serverless: true`.
import * as pulumi from "@pulumi/pulumi";
import { templateProvider } from "./templateProvider";
import type { TemplateInputsArg } from "./serverlessSchemas";

export type ServerlessTemplateArgs = { [K in keyof TemplateInputsArg]: pulumi.Input<TemplateInputsArg[K]> };

/** The container settings serverless workers run; `env` is kept secret in inputs, state and outputs. */
export class ServerlessTemplate extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly image: pulumi.Output<string>;
  declare readonly env: pulumi.Output<Record<string, string>>;
  declare readonly templateId: pulumi.Output<string>;
  /** 1 at create, +1 for every in-place change of the container settings; pass it to QueueEndpoint.templateRevision. */
  declare readonly revision: pulumi.Output<number>;

  constructor(name: string, args: ServerlessTemplateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      templateProvider,
      name,
      { templateId: undefined, revision: undefined, ...args, ...(args.env !== undefined ? { env: pulumi.secret(args.env) } : {}) },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["env"] }),
      "runpod",
      "ServerlessTemplate",
    );
  }
}
