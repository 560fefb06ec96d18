// The checks' command line:
//   checks/cli.ts <health|vram|generate> --url <base> [--timeout <s>] [--min-vram-gb <n>] [--workflow <name|file>]
//                 [--frames <n>] [--width <n>] [--height <n>] [--assets <dir>] [--out <dir>]
// Exit 0 pass, 1 failed check, 2 bad usage. Progress goes to stderr; the last stdout line is the verdict
// (one JSON object, see result.ts). COMFYUI_AUTH_HEADER ('Name: value') is sent on every request.
import { z } from "zod";
import { parseCheckArgv } from "./argv";
import { AUTH_HEADER_ENV, EXIT_FAILED, EXIT_PASS, EXIT_USAGE } from "./cliArgs";
import { normaliseBaseUrl, parseAuthHeader, type AuthHeader } from "./comfyClient";
import { DEFAULT_MIN_VRAM_GB, DEFAULT_TIMEOUT_SECONDS } from "./common";
import { PAST_DEADLINE_MS, failedGenerate, runGenerateCheck } from "./generate";
import { failedHealth, runHealthCheck } from "./health";
import { Progress } from "./progress";
import { CHECK_NAMES, checkResultSchema, type CheckName, type CheckResult } from "./result";
import { failedVram, runVramCheck } from "./vram";
import { UsageError, loadWorkflow, type LoadedWorkflow } from "./workflows";

/** Slack the watchdog leaves after everything a check may legitimately do past its deadline. */
const WATCHDOG_SLACK_MS = 15_000;

/**
 * How long after --timeout the watchdog ends a check that did not return. generate may still be stopping its
 * job, or collecting the results of a job that ended just before the deadline, which has its own budget.
 */
export function watchdogGraceMs(check: CheckName): number {
  return WATCHDOG_SLACK_MS + (check === "generate" ? PAST_DEADLINE_MS : 0);
}

const USAGE = `usage: checks/cli.ts <health|vram|generate> --url <ComfyUI base URL> [options]

  health     GET /api/system_stats until ComfyUI answers (rides out a booting pod)
  vram       the GPU's VRAM against --min-vram-gb
  generate   run a workflow and validate the MP4 it writes

options:
  --url <base>          ComfyUI's base URL, e.g. https://<host>/ or http://127.0.0.1:8188 (required)
  --timeout <s>         the whole check's deadline (health ${DEFAULT_TIMEOUT_SECONDS.health}, vram ${DEFAULT_TIMEOUT_SECONDS.vram}, generate ${DEFAULT_TIMEOUT_SECONDS.generate})
  --min-vram-gb <n>     vram: the minimum (default ${DEFAULT_MIN_VRAM_GB})
  --workflow <w>        generate: smoke (default), steadydancer, or an API-format workflow file
  --frames/--width/--height <n>  generate: what the video must be (built-in workflows know theirs)
  --assets <dir>        generate: input files to upload (default <workflow dir>/assets)
  --out <dir>           generate: where to save the video (default checks-output/)

env: COMFYUI_AUTH_HEADER='Name: value' is sent on every request (never printed).
exit: 0 pass, 1 failed check, 2 bad usage. The last stdout line is the JSON verdict.`;

const positive = (flag: string) =>
  z.string().transform((raw, ctx) => {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value) || value <= 0) {
      ctx.addIssue({ code: "custom", message: `${flag} must be a positive number, got "${raw}"` });
      return z.NEVER;
    }
    return value;
  });
const positiveInt = (flag: string) =>
  positive(flag).refine((v) => Number.isInteger(v), { message: `${flag} must be a whole number` });

const flagsSchema = z.object({
  url: z.string({ error: "--url is required" }),
  timeout: positive("--timeout").optional(),
  "min-vram-gb": positive("--min-vram-gb").optional(),
  workflow: z.string().min(1).optional(),
  frames: positiveInt("--frames").optional(),
  width: positiveInt("--width").optional(),
  height: positiveInt("--height").optional(),
  assets: z.string().min(1).optional(),
  out: z.string().min(1).optional(),
});

const FLAGS_BY_CHECK: Record<CheckName, string[]> = {
  health: ["url", "timeout"],
  vram: ["url", "timeout", "min-vram-gb"],
  generate: ["url", "timeout", "workflow", "frames", "width", "height", "assets", "out"],
};

export interface CliInvocation {
  check: CheckName;
  url: string;
  timeoutSeconds: number;
  minVramGb: number;
  workflow: LoadedWorkflow | null;
  outDir: string;
  auth?: AuthHeader;
  ignoredFlags: string[];
}

/** Parses argv and the environment; throws UsageError with a message for the user. */
export function parseInvocation(argv: string[], env: NodeJS.ProcessEnv = process.env): CliInvocation {
  const { check, values, given } = parseCheckArgv(argv, CHECK_NAMES, flagsSchema);
  let url: string;
  try {
    url = normaliseBaseUrl(values.url);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  let auth: AuthHeader | undefined;
  const rawAuth = env[AUTH_HEADER_ENV];
  if (rawAuth !== undefined && rawAuth.trim() !== "") {
    try {
      auth = parseAuthHeader(rawAuth);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
  const ignoredFlags = given.filter((name) => !FLAGS_BY_CHECK[check].includes(name)).map((n) => `--${n}`);
  const workflow =
    check === "generate"
      ? loadWorkflow({
          workflow: values.workflow ?? "smoke",
          expect: { frames: values.frames, width: values.width, height: values.height },
          ...(values.assets ? { assetsDir: values.assets } : {}),
        })
      : null;
  return {
    check,
    url,
    timeoutSeconds: values.timeout ?? DEFAULT_TIMEOUT_SECONDS[check],
    minVramGb: values["min-vram-gb"] ?? DEFAULT_MIN_VRAM_GB,
    workflow,
    outDir: values.out ?? "checks-output",
    ...(auth ? { auth } : {}),
    ignoredFlags,
  };
}

function runCheck(invocation: CliInvocation, progress: Progress, signal: AbortSignal): Promise<CheckResult> {
  const common = {
    url: invocation.url,
    timeoutSeconds: invocation.timeoutSeconds,
    progress,
    signal,
    ...(invocation.auth ? { auth: invocation.auth } : {}),
  };
  switch (invocation.check) {
    case "health":
      return runHealthCheck(common);
    case "vram":
      return runVramCheck({ ...common, minVramGb: invocation.minVramGb });
    case "generate":
      if (!invocation.workflow) throw new Error("generate needs a workflow");
      return runGenerateCheck({ ...common, workflow: invocation.workflow, outDir: invocation.outDir });
  }
}

function failureVerdict(invocation: CliInvocation, durationMs: number, message: string): CheckResult {
  switch (invocation.check) {
    case "health":
      return failedHealth(invocation.url, durationMs, message);
    case "vram":
      return failedVram(invocation.url, invocation.minVramGb, durationMs, message);
    case "generate":
      return failedGenerate(invocation.url, invocation.workflow?.name ?? "smoke", durationMs, message);
  }
}

function printVerdict(result: CheckResult, then: () => void): void {
  // The verdict is our contract with DeploymentChecks: make sure it parses before printing it.
  const checked = checkResultSchema.parse(result);
  process.stdout.write(`${JSON.stringify(checked)}\n`, then);
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_PASS;
  }
  let invocation: CliInvocation;
  try {
    invocation = parseInvocation(argv);
  } catch (error) {
    const message = error instanceof UsageError ? error.message : String(error);
    process.stderr.write(`error: ${message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const startedAt = Date.now();
  const progress = new Progress(startedAt);
  if (invocation.ignoredFlags.length) progress.info(`note: ${invocation.ignoredFlags.join(", ")} not used by the ${invocation.check} check`);

  const cancel = new AbortController();
  const onSignal = (name: string) => () => {
    progress.info(`${name} received: stopping the check`);
    cancel.abort();
  };
  process.once("SIGINT", onSignal("SIGINT"));
  process.once("SIGTERM", onSignal("SIGTERM"));

  // Last resort: whatever hangs, the process ends with a verdict.
  const graceMs = watchdogGraceMs(invocation.check);
  const watchdog = setTimeout(() => {
    const message =
      `The ${invocation.check} check did not return within its ${invocation.timeoutSeconds} s deadline (+${graceMs / 1000} s grace) and was stopped; ` +
      "ComfyUI or the network hung. Retry, and look at the pod's logs.";
    printVerdict(failureVerdict(invocation, Date.now() - startedAt, message), () => process.exit(EXIT_FAILED));
  }, invocation.timeoutSeconds * 1000 + graceMs);
  // Deliberately not unref'd: if the check ever awaited something that can no longer happen, the
  // event loop would otherwise empty and node would exit 0 without a verdict.

  let result: CheckResult;
  try {
    result = await runCheck(invocation, progress, cancel.signal);
  } catch (error) {
    // A bug, not a verdict about ComfyUI; still end with a verdict line so callers can parse it.
    progress.info(`internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    result = failureVerdict(invocation, Date.now() - startedAt, `The ${invocation.check} check crashed: ${error instanceof Error ? error.message : String(error)}`);
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
