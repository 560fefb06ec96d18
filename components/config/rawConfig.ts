// The config as Pulumi hands it over (full keys, text values, which are secret), turned into the schema's flat
// keys with the provider's environment fallbacks; secrets stored in plaintext, and keys stored as secrets that
// the program could not keep secret, are problems of their own.
import type { ModelManifest } from "../../models";
import type { KeyInfo } from "./keyInfo";
import { API_KEY, API_URL, JOB_API_URL } from "./providerFields";

/**
 * Keys besides the secret ones that may be stored as secrets, because the program keeps them secret all the
 * way: pod.env (every value becomes a secret env value) and registry.username; runpod:apiUrl is read by the
 * provider only, never a resource input. Any other key marked secret would reach resource inputs in plaintext.
 */
const MAY_BE_SECRET = new Set(["pod.env", "registry.username", API_URL]);
/** Why a key cannot be kept secret, where there is more to say than "it is not secret". */
const NOT_SECRET_WHY: Record<string, string> = {
  "image.buildArgs":
    "build args are written into the image's history, readable by anyone who can pull the image, so nothing in them can stay secret",
};

/** The config value as Pulumi hands it to the program: strings, with lists/numbers/booleans as JSON text. */
export interface RawStackConfig {
  /** Full key (`steadydancer-runpod:pod.gpuCount`, `runpod:apiKey`) → value text. */
  values: Readonly<Record<string, string>>;
  /** Full keys whose values are secrets. */
  secretKeys: Iterable<string>;
  /** The runtime could not say which keys are secret, so every key was listed: no key is refused for being one. */
  secretKeysGuessed?: boolean;
  /** Environment fallbacks for the provider settings. */
  env?: { RUNPOD_API_KEY?: string | undefined; RUNPOD_API_URL?: string | undefined; RUNPOD_JOB_API_URL?: string | undefined };
  /** The Pulumi project name (the namespace of the project keys); defaults to PROJECT_NAME. */
  project?: string;
  /** Directory relative paths (checks.workflow, checks.assetsDir, checks.outDir) start from; default cwd. */
  cwd?: string;
  /** The model manifest (default VRAM minimum per variant); read from docker/models/manifest.json if absent. */
  manifest?: ModelManifest;
  /** The Dockerfile whose ARGs image.buildArgs may set; default docker/Dockerfile of this checkout. */
  dockerfile?: string;
  /** `pulumi preview`: the RunPod API key may be missing (the GPU catalog pre-flight then says it was skipped). */
  preview?: boolean;
}

export type Infos = Record<string, KeyInfo | undefined>;

export interface Collected {
  input: Record<string, string>;
  labels: Record<string, string>;
  secret: Set<string>;
  problems: string[];
}

/** Turns Pulumi's full keys into the schema's flat keys, applying the env fallbacks. */
export function collect(raw: RawStackConfig, project: string, infos: Infos): Collected {
  const secretKeys = new Set(raw.secretKeys);
  const out: Collected = { input: {}, labels: {}, secret: new Set(), problems: [] };
  const prefix = `${project}:`;
  const take = (key: string, fullKey: string, value: string | undefined, fromEnv?: string) => {
    const info = infos[key];
    if (value === undefined || (value === "" && (info?.optional || fromEnv))) return;
    out.input[key] = value;
    out.labels[key] = fromEnv ? `${fromEnv} (environment)` : fullKey;
    if (info?.secret || secretKeys.has(fullKey)) out.secret.add(key);
    if (info?.secret && !fromEnv && !secretKeys.has(fullKey)) {
      out.problems.push(`${fullKey} = [secret]: is stored in plaintext. Expected ${info.expected}. Fix: ${info.fix}`);
    }
    if (info && !info.secret && secretKeys.has(fullKey) && !raw.secretKeysGuessed && !MAY_BE_SECRET.has(key)) {
      const why = NOT_SECRET_WHY[key] ?? "its value reaches resource inputs and state as plain text, so the program cannot keep it secret";
      out.problems.push(
        `${fullKey} = [secret]: is stored as a secret, but ${why}. Expected ${info.expected}. ` +
          `Fix: pulumi config set ${key} <value> (without --secret)`,
      );
    }
  };
  for (const [fullKey, value] of Object.entries(raw.values)) {
    if (fullKey.startsWith(prefix)) take(fullKey.slice(prefix.length), fullKey, value);
  }
  const env = raw.env ?? {};
  for (const [key, envName] of [
    [API_KEY, "RUNPOD_API_KEY"],
    [API_URL, "RUNPOD_API_URL"],
    [JOB_API_URL, "RUNPOD_JOB_API_URL"],
  ] as const) {
    if (raw.values[key]) take(key, key, raw.values[key]);
    else take(key, key, env[envName], envName);
  }
  return out;
}
