// loadStackConfig: the live stack config read from the Pulumi runtime, validated, and the unused keys warned of.
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "./parse";
import type { StackConfig } from "./schema";
import { TARGETS, readsKey } from "./targets";

/** Pulumi exports isConfigSecret at runtime but marks it internal in its typings. */
function secretKeysOf(values: Record<string, string>): { secretKeys: string[]; secretKeysGuessed: boolean } {
  const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };
  // Without the function, treat every key as secret: values stay hidden and no plaintext warning is raised.
  const isSecret = runtime.isConfigSecret;
  if (!isSecret) return { secretKeys: Object.keys(values), secretKeysGuessed: true };
  return { secretKeys: Object.keys(values).filter((key) => isSecret(key)), secretKeysGuessed: false };
}

/** Reads and validates the live stack config; throws one error listing every problem. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const values = pulumi.runtime.allConfig();
  const result = parseStackConfig({
    values,
    ...secretKeysOf(values),
    env: { RUNPOD_API_KEY: env.RUNPOD_API_KEY, RUNPOD_API_URL: env.RUNPOD_API_URL, RUNPOD_JOB_API_URL: env.RUNPOD_JOB_API_URL },
    project: pulumi.getProject(),
    preview: pulumi.runtime.isDryRun(),
  });
  if (!result.ok) {
    const count = result.problems.length === 1 ? "1 problem" : `${result.problems.length} problems`;
    throw new pulumi.RunError(
      `The stack configuration has ${count}; nothing was created:\n${result.problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  const { target, ignoredKeys: ignored } = result.config;
  if (ignored.length > 0) {
    const reader = TARGETS.find((t) => t !== target && readsKey(t, ignored[0] ?? ""));
    void pulumi.log.warn(
      `target ${target} does not use ${ignored.join(", ")}; they are kept but have no effect ` +
        `(pulumi config rm <key> to drop them${reader ? `, or pulumi config set target ${reader}` : ""})`,
    );
  }
  for (const warning of result.config.warnings) void pulumi.log.warn(warning);
  return result.config;
}
