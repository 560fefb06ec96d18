// The checks over a Serverless endpoint's job API:
//   runpod/jobChecksCli.ts <health|generate> --endpoint-url <jobApiUrl> [--timeout <s>] [--workflow <smoke|steadydancer|file>]
//                          [--assets <dir>] [--out <dir>] [--seed <n>]
// The API key comes only from RUNPOD_API_KEY. Same conventions as checks/cli.ts: progress on stderr, the JSON
// verdict (checks/result.ts endpointHealth / endpointGenerate) on the last stdout line, exit 0 pass, 1 failed, 2 usage.
import { z } from "zod";
import {
  EXIT_FAILED,
  EXIT_PASS,
  EXIT_USAGE,
  Progress,
  UsageError,
  checkResultSchema,
  loadWorkflow,
  parseCheckArgv,
  type CheckResult,
  type LoadedWorkflow,
} from "../checks";
import { failedEndpointGenerate, runEndpointGenerateCheck } from "./endpointGenerateCheck";
import { failedEndpointHealth, runEndpointHealthCheck } from "./endpointHealthCheck";
import { JobClient } from "./jobClient";

export const ENDPOINT_CHECKS = ["health", "generate"] as const;
export type EndpointCheck = (typeof ENDPOINT_CHECKS)[number];
export const DEFAULT_ENDPOINT_TIMEOUT_SECONDS: Record<EndpointCheck, number> = { health: 900, generate: 1800 };
/** Past --timeout: the cancel, and the download and MP4 check of a job that ended just in time. */
const GRACE_MS = { health: 15_000, generate: 150_000 } as const;

const USAGE = `usage: runpod/jobChecksCli.ts <health|generate> --endpoint-url <job API URL> [options]

  health     GET /health until the endpoint answers; reports its workers and jobs
  generate   run a workflow as a job (/run, /status), then validate the MP4 the worker returns

options:
  --endpoint-url <url>  the endpoint's job API, https://api.runpod.ai/v2/<endpointId> (the stack's jobApiUrl; required)
  --timeout <s>         the whole check's deadline (health ${DEFAULT_ENDPOINT_TIMEOUT_SECONDS.health}, generate ${DEFAULT_ENDPOINT_TIMEOUT_SECONDS.generate}); generate cancels its job then
  --workflow <w>        generate: smoke (default), steadydancer, or an API-format workflow file
  --assets <dir>        generate: the workflow's input files (default <workflow dir>/assets), sent as base64
  --out <dir>           generate: where to save the video (default checks-output/)
  --seed <n>            generate: replaces every seed/noise_seed input of the workflow

env: RUNPOD_API_KEY (required; never printed).
exit: 0 pass, 1 failed check, 2 bad usage. The last stdout line is the JSON verdict.`;

const flagsSchema = z.object({
  "endpoint-url": z.string({ error: "--endpoint-url is required" }),
  timeout: z.coerce.number({ error: "--timeout must be a number" }).positive("--timeout must be positive").optional(),
  workflow: z.string().min(1).optional(),
  assets: z.string().min(1).optional(),
  out: z.string().min(1).optional(),
  seed: z.coerce.number({ error: "--seed must be a number" }).int("--seed must be a whole number").nonnegative("--seed must be 0 or more").optional(),
});
const GENERATE_ONLY = ["workflow", "assets", "out", "seed"];

export interface EndpointInvocation {
  check: EndpointCheck;
  endpointUrl: string;
  apiKey: string;
  timeoutSeconds: number;
  workflow: LoadedWorkflow | null;
  outDir: string;
  seed?: number;
  ignoredFlags: string[];
}

export function parseEndpointInvocation(argv: string[], env: NodeJS.ProcessEnv = process.env): EndpointInvocation {
  const { check, values, given } = parseCheckArgv(argv, ENDPOINT_CHECKS, flagsSchema);
  const endpointUrl = values["endpoint-url"].trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?\/v2\/[A-Za-z0-9_-]+$/.test(endpointUrl)) {
    throw new UsageError(`--endpoint-url must be an endpoint's job API, https://api.runpod.ai/v2/<endpointId>; got "${endpointUrl}"`);
  }
  const apiKey = env.RUNPOD_API_KEY?.trim();
  if (!apiKey) throw new UsageError("RUNPOD_API_KEY is not set: export RUNPOD_API_KEY=<a RunPod API key that may use this endpoint>");
  const ignoredFlags = check === "health" ? given.filter((n) => GENERATE_ONLY.includes(n)).map((n) => `--${n}`) : [];
  const workflow =
    check === "generate" ? loadWorkflow({ workflow: values.workflow ?? "smoke", ...(values.assets ? { assetsDir: values.assets } : {}) }) : null;
  return {
    check,
    endpointUrl,
    apiKey,
    timeoutSeconds: values.timeout ?? DEFAULT_ENDPOINT_TIMEOUT_SECONDS[check],
    workflow,
    outDir: values.out ?? "checks-output",
    ...(values.seed !== undefined ? { seed: values.seed } : {}),
    ignoredFlags,
  };
}

function failure(invocation: EndpointInvocation, durationMs: number, message: string): CheckResult {
  return invocation.check === "health"
    ? failedEndpointHealth(invocation.endpointUrl, durationMs, message)
    : failedEndpointGenerate(invocation.endpointUrl, invocation.workflow?.name ?? "smoke", durationMs, message);
}

function printVerdict(result: CheckResult, then: () => void): void {
  const checked = checkResultSchema.parse(result);
  process.stdout.write(`${JSON.stringify(checked)}\n`, then);
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_PASS;
  }
  let invocation: EndpointInvocation;
  try {
    invocation = parseEndpointInvocation(argv);
  } catch (error) {
    process.stderr.write(`error: ${error instanceof UsageError ? error.message : String(error)}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const startedAt = Date.now();
  const progress = new Progress(startedAt);
  if (invocation.ignoredFlags.length) progress.info(`note: ${invocation.ignoredFlags.join(", ")} not used by the health check`);
  const cancel = new AbortController();
  const onSignal = (name: string) => (): void => {
    progress.info(`${name} received: stopping the check`);
    cancel.abort();
  };
  process.once("SIGINT", onSignal("SIGINT"));
  process.once("SIGTERM", onSignal("SIGTERM"));
  const graceMs = GRACE_MS[invocation.check];
  const watchdog = setTimeout(() => {
    const message = `The endpoint ${invocation.check} check did not return within its ${invocation.timeoutSeconds} s deadline (+${graceMs / 1000} s grace) and was stopped; RunPod's job API or the network hung.`;
    printVerdict(failure(invocation, Date.now() - startedAt, message), () => process.exit(EXIT_FAILED));
  }, invocation.timeoutSeconds * 1000 + graceMs);

  const client = new JobClient({ apiKey: invocation.apiKey, endpointUrl: invocation.endpointUrl });
  const common = { client, timeoutSeconds: invocation.timeoutSeconds, progress, signal: cancel.signal };
  let result: CheckResult;
  try {
    result =
      invocation.check === "health"
        ? await runEndpointHealthCheck(common)
        : await runEndpointGenerateCheck({
            ...common,
            workflow: invocation.workflow ?? loadWorkflow({ workflow: "smoke" }),
            outDir: invocation.outDir,
            ...(invocation.seed !== undefined ? { seed: invocation.seed } : {}),
          });
  } catch (error) {
    progress.info(`internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    result = failure(invocation, Date.now() - startedAt, `The endpoint ${invocation.check} check crashed: ${error instanceof Error ? error.message : String(error)}`);
  }
  clearTimeout(watchdog);
  await new Promise<void>((resolve) => printVerdict(result, resolve));
  return result.ok ? EXIT_PASS : EXIT_FAILED;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exit(EXIT_FAILED);
    },
  );
}
