// Building raw stack configs and reading parseStackConfig's verdicts, for the config tests.
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { PROJECT_NAME, parseStackConfig, type RawStackConfig, type StackConfig } from "../../components/config";

export const P = `${PROJECT_NAME}:`;
export const IMAGE = "ghcr.io/org/comfyui-steadydancer:0.1.0";
export const FAKE_API_KEY = "rpa_FAKEKEY_do_not_leak_0123456789";
export const ROOT = path.resolve(__dirname, "../../..");

/** A raw config with the given project keys (short names), plus an API key from the environment. */
export function raw(values: Record<string, string>, opts: Partial<RawStackConfig> = {}): RawStackConfig {
  const full = Object.fromEntries(Object.entries(values).map(([k, v]) => [k.includes(":") ? k : P + k, v]));
  return { values: full, secretKeys: [], env: { RUNPOD_API_KEY: FAKE_API_KEY }, cwd: ROOT, ...opts };
}

export function parseOk(r: RawStackConfig): StackConfig {
  const result = parseStackConfig(r);
  if (!result.ok) assert.fail(`expected a valid config, got:\n${result.problems.join("\n")}`);
  return result.config;
}

export function problemsOf(r: RawStackConfig): string[] {
  const result = parseStackConfig(r);
  if (result.ok) assert.fail("expected problems, the config was accepted");
  return result.problems;
}

/** The one problem about `label`; fails when there is none. */
export function problemFor(problems: string[], label: string): string {
  const found = problems.filter((p) => p.startsWith(`${label} `));
  assert.ok(found.length > 0, `no problem names ${label}:\n${problems.join("\n")}`);
  return found.join("\n");
}

/** The problem about `key` names the key and the value as written, says `reason`, the expected form and a fix. */
export function assertKeyProblem(problems: string[], key: string, value: string, reason: RegExp): void {
  const problem = problemFor(problems, `${P}${key}`);
  const shown = value.startsWith("[") ? value : JSON.stringify(value);
  assert.ok(problem.startsWith(`${P}${key} = ${shown}: `), problem);
  assert.match(problem, reason);
  assert.match(problem, /Expected .+\. Fix: (pulumi config|edit Pulumi\.<stack>\.yaml)/);
}
