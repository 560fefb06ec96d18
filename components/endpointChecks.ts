// EndpointChecks: proves a serverless endpoint works by running runpod/jobChecksCli.ts as @pulumi/command local
// commands: health (the endpoint's /health answers), then generate (a workflow as a job through /run and
// /status, and the same MP4 validation as the pod's). Each verdict is parsed into an output; the generation's
// cold-start and run times come from RunPod's own delayTime and executionTime.
import * as path from "path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  isBuiltinWorkflow,
  type EndpointGenerateResult,
  type EndpointHealthResult,
  type GenerateResult,
  type HealthResult,
} from "../checks";
import { checksCli, commandPath, shellCommand, verdictOf, workflowContentHash } from "./checks";

/** The env the endpoint checks read the RunPod API key from (runpod/jobChecksCli.ts). */
const API_KEY_ENV = "RUNPOD_API_KEY";

/** The stack's healthCheck and generateCheck outputs: a pod's verdict or an endpoint's (told apart by `check`). */
export type HealthVerdict = HealthResult | EndpointHealthResult;
export type GenerateVerdict = GenerateResult | EndpointGenerateResult;

export interface EndpointChecksArgs {
  /** The endpoint's job API base (QueueEndpoint.jobApiUrl). */
  jobApiUrl: pulumi.Input<string>;
  /** Re-run triggers: a new endpoint, a new image digest, or a changed worker container. */
  endpointId: pulumi.Input<string>;
  imageRef: pulumi.Input<string>;
  restartKey: pulumi.Input<string>;
  health: boolean;
  generate: boolean;
  healthTimeoutMinutes: number;
  generateTimeoutMinutes: number;
  /** smoke, steadydancer, or the path of an API-format workflow file (relative paths start at the repo root). */
  workflow: string;
  assetsDir?: string;
  outDir: string;
  /**
   * The RunPod API key from stack config, passed only as a secret env of the commands; unset when it comes from
   * RUNPOD_API_KEY, which the commands inherit.
   */
  apiKey?: pulumi.Input<string>;
}

export class EndpointChecks extends pulumi.ComponentResource {
  public readonly health: pulumi.Output<EndpointHealthResult | undefined>;
  public readonly generate: pulumi.Output<EndpointGenerateResult | undefined>;
  /** RunPod's delayTime of the generation job: its wait in the queue, the worker's cold start included. */
  public readonly coldStartSeconds: pulumi.Output<number | null | undefined>;
  /** RunPod's executionTime of the generation job. */
  public readonly runSeconds: pulumi.Output<number | null | undefined>;

  constructor(name: string, args: EndpointChecksArgs, opts?: pulumi.ComponentResourceOptions) {
    const cli = checksCli(undefined, path.join("runpod", "jobChecksCli"));
    const workflowHash = args.generate ? workflowContentHash(args.workflow, args.assetsDir, cli.dir) : undefined;
    super("steadydancer:checks:EndpointChecks", name, {}, opts);
    const relative = (file: string | undefined) => (file === undefined ? undefined : commandPath(file, cli.dir));
    const environment = args.apiKey === undefined ? undefined : { [API_KEY_ENV]: pulumi.secret(args.apiKey) };

    let previous: command.local.Command | undefined;
    const run = (check: "health" | "generate", flags: Record<string, string | number | undefined>, extraTriggers: string[] = []) => {
      const cmd = new command.local.Command(
        `${name}-${check}`,
        {
          create: pulumi.output(args.jobApiUrl).apply((url) => {
            const words = [...cli.argv, check, "--endpoint-url", url];
            for (const [flag, value] of Object.entries(flags)) if (value !== undefined) words.push(`--${flag}`, String(value));
            return shellCommand(words);
          }),
          dir: cli.dir,
          ...(environment && { environment }),
          triggers: [args.imageRef, args.endpointId, args.restartKey, ...extraTriggers],
          logging: "stderr",
        },
        { parent: this, ...(previous && { dependsOn: [previous] }) },
      );
      previous = cmd;
      return cmd;
    };

    const health = args.health ? run("health", { timeout: args.healthTimeoutMinutes * 60 }) : undefined;
    const generate = args.generate
      ? run(
          "generate",
          {
            timeout: args.generateTimeoutMinutes * 60,
            workflow: isBuiltinWorkflow(args.workflow) ? args.workflow : relative(args.workflow),
            assets: relative(args.assetsDir),
            out: relative(args.outDir),
          },
          workflowHash === undefined ? [] : [workflowHash],
        )
      : undefined;

    this.health = verdictOf(health, "endpointHealth");
    this.generate = verdictOf(generate, "endpointGenerate");
    this.coldStartSeconds = this.generate.apply((verdict) => verdict?.coldStartSeconds);
    this.runSeconds = this.generate.apply((verdict) => verdict?.runSeconds);
    this.registerOutputs({ health: this.health, generate: this.generate, coldStartSeconds: this.coldStartSeconds, runSeconds: this.runSeconds });
  }
}
