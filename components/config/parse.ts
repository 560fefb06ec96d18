// parseStackConfig: the raw config validated in one pass, every problem a line naming the key, its value
// (masked), what was wrong, the expected form and the fix.
import { redactCredentials } from "../credentials";
import { credentialItemValues } from "./envItems";
import { stackFields } from "./fields";
import { PROJECT_NAME } from "./keyInfo";
import { closestKey, shown } from "./problems";
import { collect, type Infos, type RawStackConfig } from "./rawConfig";
import { stackConfigSchema, type SchemaContext, type StackConfig } from "./schema";

export type ParseResult = { ok: true; config: StackConfig } | { ok: false; problems: string[] };

/** Validates the raw stack config. Pure: no Pulumi runtime needed (secrets become pulumi.secret Outputs). */
export function parseStackConfig(raw: RawStackConfig): ParseResult {
  const project = raw.project ?? PROJECT_NAME;
  const fields = stackFields(project);
  const infos: Infos = Object.fromEntries(Object.entries(fields).map(([key, f]) => [key, f.info]));
  const collected = collect(raw, project, infos);
  const { input, labels, secret } = collected;
  const given = raw.manifest;
  const context: SchemaContext = {
    cwd: raw.cwd ?? process.cwd(),
    ...(given ? { manifest: () => given } : {}),
    ...(raw.dockerfile === undefined ? {} : { dockerfile: raw.dockerfile }),
    ...(raw.preview ? { preview: true } : {}),
  };
  const result = stackConfigSchema(project, { ...context, secretKeys: secret, givenKeys: new Set(Object.keys(input)) }).safeParse(input);
  if (result.success && collected.problems.length === 0) return { ok: true, config: result.data };

  const line = (key: string, message: string, fix: string | undefined) => {
    const label = labels[key] ?? (key.includes(":") ? key : `${project}:${key}`);
    const value = input[key];
    const head =
      value === undefined ? `${label} is not set` : `${label} = ${secret.has(key) ? "[secret]" : shown(value)}`;
    const expected = infos[key] ? ` Expected ${infos[key].expected}.` : "";
    return `${head}: ${message}.${expected} Fix: ${fix ?? infos[key]?.fix ?? `pulumi config rm ${key}`}`;
  };
  const known = Object.keys(fields);
  const problems = [...collected.problems];
  for (const iss of result.success ? [] : result.error.issues) {
    if (iss.code === "unrecognized_keys") {
      for (const key of iss.keys) {
        const guess = closestKey(key, known);
        const hint = guess ? ` (did you mean ${guess}?)` : "";
        const fix = `pulumi config rm ${key}${guess ? `, then ${infos[guess]?.fix}` : ""}`;
        problems.push(line(key, `unknown key${hint}`, fix));
      }
      continue;
    }
    const key = String(iss.path[0] ?? "");
    const params: unknown = iss.code === "custom" ? iss.params : undefined;
    const fix = params && typeof params === "object" && "fix" in params ? params.fix : undefined;
    problems.push(line(key, iss.message, typeof fix === "string" ? fix : undefined));
  }
  const hidden = [
    ...[...secret].map((k) => input[k] ?? ""),
    ...Object.values(input).flatMap(credentialItemValues),
  ];
  return { ok: false, problems: problems.map((p) => redactCredentials(p, hidden)) };
}
