// The command line of a checks CLI (checks/cli.ts, runpod/jobChecksCli.ts): one positional naming the check, then
// --flags that all take a value, validated by the CLI's zod schema. Every mistake is a UsageError (exit 2).
import { parseArgs } from "node:util";
import type { z } from "zod";
import { UsageError } from "./workflows";

export interface ParsedCheckArgv<N extends string, V> {
  check: N;
  values: V;
  /** The flags given, by name without the dashes. */
  given: string[];
}

export function parseCheckArgv<N extends string, S extends z.ZodObject>(
  argv: string[],
  checks: readonly N[],
  flags: S,
): ParsedCheckArgv<N, z.output<S>> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(Object.keys(flags.shape).map((name) => [name, { type: "string" as const }])),
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? (error.message.split("\n")[0] ?? "bad arguments") : "bad arguments");
  }
  const [checkArg, ...extra] = parsed.positionals;
  if (!checkArg) throw new UsageError(`name a check: ${checks.join(", ")}`);
  if (!(checks as readonly string[]).includes(checkArg)) {
    throw new UsageError(`unknown check "${checkArg}"; expected one of ${checks.join(", ")}`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument(s): ${extra.join(" ")}`);
  const values = flags.safeParse(parsed.values);
  if (!values.success) throw new UsageError(values.error.issues.map((i) => i.message).join("; "));
  return { check: checkArg as N, values: values.data, given: Object.keys(parsed.values) };
}
