// Runs the program the way `pulumi up` / `pulumi preview` start it, but under mocks: the SDK's own
// language-host entry (@pulumi/pulumi/cmd/run, run()) with PULUMI_NODEJS_TYPESCRIPT=true, so index.ts is
// compiled by ts-node with exactly the options Pulumi passes (tsconfig's compilerOptions, ts-node's default
// `files: false`, type checking on unless tsconfig says noCheck). Meant to be started as a child process
// (ts-node registers itself process-wide); prints one JSON line on stdout and exits 0 on success, 1 on failure.
//
// Input: argv[2] the project directory; env PROGRAM_CONFIG = JSON {values, secrets} for setAllConfig.
import { Module } from "node:module";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockRecorder, settled } from "./pulumiMocks";

interface ChildResult {
  ok: boolean;
  error?: string;
  outputs?: string[];
  created?: { type: string; name: string }[];
  ms: number;
  /** CPU time of this process (user + system), the cost on an idle machine. */
  cpuMs?: number;
}

/**
 * Requiring cmd/run/run.js also requires cmd/run/index.js, whose top level parses process.argv and exits
 * without --monitor. Only its one constant is used by run.js, so a stand-in module takes its place.
 */
function loadPulumiRun(): (argv: Record<string, unknown>, ...hooks: ((e?: unknown) => unknown)[]) => Promise<Record<string, unknown>> {
  const entry = require.resolve("@pulumi/pulumi/cmd/run/index.js");
  const stub = new Module(entry);
  stub.filename = entry;
  stub.loaded = true;
  stub.exports = { nodeJSProcessExitedAfterLoggingUserActionableMessage: 32 };
  require.cache[entry] = stub;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require("@pulumi/pulumi/cmd/run/run") as { run?: unknown };
  if (typeof loaded.run !== "function") throw new Error("@pulumi/pulumi/cmd/run/run no longer exports run()");
  return loaded.run as ReturnType<typeof loadPulumiRun>;
}

async function main(): Promise<ChildResult> {
  const started = Date.now();
  const projectDir = path.resolve(process.argv[2] ?? ".");
  const config = JSON.parse(process.env.PROGRAM_CONFIG ?? "{}") as { values?: Record<string, string>; secrets?: string[] };
  // What the nodejs language host sets for a `runtime.options.typescript: true` project (Pulumi.yaml).
  process.env.PULUMI_NODEJS_TYPESCRIPT = "true";
  delete process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
  delete process.env.PULUMI_NODEJS_TSCONFIG_PATH;

  const recorder = new MockRecorder();
  await pulumi.runtime.setMocks(recorder, "steadydancer-runpod", "dev", false);
  pulumi.runtime.setAllConfig(config.values ?? {}, config.secrets ?? []);
  const run = loadPulumiRun();
  let failure: unknown;
  // run() reports program errors through its own process handlers as well as by rejecting.
  const outputs = await run({ _: ["."], pwd: projectDir }, () => undefined, (err) => (failure ??= err), () => false).catch(
    (err: unknown) => {
      failure ??= err;
      return undefined;
    },
  );
  // Registrations whose inputs wait on other outputs may still be in flight when the outputs resolve.
  await settled().catch((err: unknown) => (failure ??= err));
  const created = recorder.created.map((r) => ({ type: r.type, name: r.name }));
  if (failure !== undefined || !outputs) {
    const error = failure instanceof Error ? failure.message : String(failure);
    return { ok: false, error, created, ms: Date.now() - started };
  }
  const cpu = process.cpuUsage();
  return { ok: true, outputs: Object.keys(outputs).sort(), created, ms: Date.now() - started, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(result.ok ? 0 : 1);
  },
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err), ms: 0 })}\n`);
    process.exit(1);
  },
);
