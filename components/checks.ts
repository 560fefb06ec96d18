// DeploymentChecks: proves the deployed ComfyUI works by running the checks CLI (checks/cli.ts) as
// @pulumi/command local commands, chained health → vram → generate, and parses each verdict into an output.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  AUTH_HEADER_ENV,
  UsageError,
  checkCliArgs,
  isBuiltinWorkflow,
  loadWorkflow,
  parseCheckOutput,
  type CheckCliFlags,
  type CheckName,
  type CheckResult,
  type GenerateResult,
  type HealthResult,
  type LoadedWorkflow,
  type VramResult,
} from "../checks";


export interface DeploymentChecksArgs {
  /** Base URL of the deployed ComfyUI. */
  comfyUrl: pulumi.Input<string>;
  /** Re-run triggers: a new pod, a new image digest or a container restarted in place runs every check again. */
  podId: pulumi.Input<string>;
  imageRef: pulumi.Input<string>;
  /** GpuPod.restartKey: changes when an in-place update restarts the container under the same pod id. */
  restartKey: pulumi.Input<string>;
  /** Which checks run; a switched-off check is not created and the chain links the remaining ones. */
  health: boolean;
  vram: boolean;
  generate: boolean;
  healthTimeoutMinutes: number;
  generateTimeoutMinutes: number;
  /** GPU memory the vram check demands. */
  minVramGb: number;
  /** smoke, steadydancer, or the path of an API-format workflow file (relative paths start at the repo root). */
  workflow: string;
  /** Directory with the workflow's input files (CLI default when unset). */
  assetsDir?: string;
  /** Where the generation check saves the video. */
  outDir: string;
  /** "Name: value" header for a ComfyUI behind an authenticating proxy; passed only through the environment. */
  authHeader?: pulumi.Input<string>;
}

export class DeploymentChecks extends pulumi.ComponentResource {
  public readonly health: pulumi.Output<HealthResult | undefined>;
  public readonly vram: pulumi.Output<VramResult | undefined>;
  public readonly generate: pulumi.Output<GenerateResult | undefined>;

  constructor(name: string, args: DeploymentChecksArgs, opts?: pulumi.ComponentResourceOptions) {
    const cli = checksCli();
    // Fails on a workflow the CLI could not run, before anything is registered.
    const workflowHash = args.generate ? workflowContentHash(args.workflow, args.assetsDir, cli.dir) : undefined;
    super("steadydancer:checks:DeploymentChecks", name, {}, opts);
    const relative = (file: string | undefined) => (file === undefined ? undefined : commandPath(file, cli.dir));
    const environment = args.authHeader === undefined ? undefined : { [AUTH_HEADER_ENV]: pulumi.secret(args.authHeader) };
    const healthSeconds = args.healthTimeoutMinutes * 60;

    let previous: command.local.Command | undefined;
    const run = (check: CheckName, flags: Omit<CheckCliFlags, "url">, extraTriggers: string[] = []): command.local.Command => {
      const cmd = new command.local.Command(
        `${name}-${check}`,
        {
          create: pulumi
            .output(args.comfyUrl)
            .apply((url) => shellCommand([...cli.argv, ...checkCliArgs(check, { ...flags, url })])),
          // Absolute: the provider starts the command in this directory and needs a real one. Every path in the
          // command line is relative to it, but dir itself is an input stored in state, so a moved checkout
          // still shows as a change and runs the checks once more.
          dir: cli.dir,
          ...(environment && { environment }),
          triggers: [args.imageRef, args.podId, args.restartKey, ...extraTriggers],
          // stdout carries the JSON verdict; stderr is the CLI's progress, shown live.
          logging: "stderr",
        },
        { parent: this, ...(previous && { dependsOn: [previous] }) },
      );
      previous = cmd;
      return cmd;
    };

    const health = args.health ? run("health", { timeoutSeconds: healthSeconds }) : undefined;
    // vram returns as soon as ComfyUI answers, but it may run alone against a pod that is still downloading
    // models (health switched off, or only vram re-created): it gets the same deadline as health.
    const vram = args.vram ? run("vram", { timeoutSeconds: healthSeconds, minVramGb: args.minVramGb }) : undefined;
    const generate = args.generate
      ? run(
          "generate",
          {
            timeoutSeconds: args.generateTimeoutMinutes * 60,
            workflow: isBuiltinWorkflow(args.workflow) ? args.workflow : relative(args.workflow),
            assets: relative(args.assetsDir),
            out: relative(args.outDir),
          },
          // A command line names files, not their content: an edited workflow or input file re-runs generation.
          workflowHash === undefined ? [] : [workflowHash],
        )
      : undefined;

    this.health = verdictOf(health, "health");
    this.vram = verdictOf(vram, "vram");
    this.generate = verdictOf(generate, "generate");
    this.registerOutputs({ health: this.health, vram: this.vram, generate: this.generate });
  }
}

type ResultOf<C extends CheckResult["check"]> = Extract<CheckResult, { check: C }>;

export function verdictOf<C extends CheckResult["check"]>(cmd: command.local.Command | undefined, check: C): pulumi.Output<ResultOf<C> | undefined> {
  if (!cmd) return pulumi.output(undefined);
  return cmd.stdout.apply((stdout) => parseVerdict(stdout, check));
}

/** The typed verdict of one check from its stdout; throws when it is missing, malformed, another check's, or failed. */
export function parseVerdict<C extends CheckResult["check"]>(stdout: string, check: C): ResultOf<C> {
  const result = parseCheckOutput(stdout);
  if (result.check !== check) throw new Error(`the ${check} check printed a ${result.check} verdict`);
  if (!result.ok) throw new Error(`the ${check} check failed: ${result.message}`);
  return result as ResultOf<C>;
}

/**
 * A path as the command line passes it: relative to the command's directory when it lies inside it (the
 * checkout can move), else unchanged.
 */
export function commandPath(file: string, dir: string): string {
  if (!path.isAbsolute(file)) return file;
  const rel = path.relative(dir, file);
  if (rel === "") return ".";
  return rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

/** sha256 over the workflow file and every input file it loads, found the way the CLI finds them from `dir`. */
export function workflowContentHash(workflow: string, assetsDir: string | undefined, dir: string): string {
  let loaded: LoadedWorkflow;
  try {
    loaded = loadWorkflow({
      workflow: isBuiltinWorkflow(workflow) ? workflow : path.resolve(dir, workflow),
      ...(assetsDir === undefined ? {} : { assetsDir: path.resolve(dir, assetsDir) }),
    });
  } catch (error) {
    if (error instanceof UsageError) throw new Error(`the generate check cannot run its workflow: ${error.message}`, { cause: error });
    throw error;
  }
  const hash = createHash("sha256");
  hash.update(fs.readFileSync(loaded.path)).update("\0");
  for (const asset of [...loaded.assets].sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0))) {
    hash.update(`${asset.fileName}\0`).update(fs.readFileSync(asset.localPath)).update("\0");
  }
  return `sha256:${hash.digest("hex")}`;
}

/**
 * How to start a checks CLI (checks/cli.ts, or runpod/jobChecksCli.ts for an endpoint): compiled when this file
 * runs from dist/, through ts-node when from source.
 */
export function checksCli(file: string = __filename, entry: string = path.join("checks", "cli")): { dir: string; argv: string[] } {
  const here = path.dirname(file);
  if (file.endsWith(".js")) {
    const dir = path.resolve(here, "..", "..");
    return { dir, argv: ["node", path.relative(dir, path.resolve(here, "..", `${entry}.js`))] };
  }
  const dir = path.resolve(here, "..");
  return { dir, argv: ["node", "-r", "ts-node/register/transpile-only", `${entry}.ts`] };
}

/** One /bin/sh command line; every word is single-quoted unless it is plainly safe. */
export function shellCommand(words: string[]): string {
  return words.map(shellQuote).join(" ");
}

export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
