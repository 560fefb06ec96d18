// The engine the real-engine suite runs under: the binaries `npm run engine:build` puts in .engine/, the
// environment the Automation API gives the CLI (file backend, project-local PULUMI_HOME, no plugin
// downloads), and helpers to read what the engine reported and stored.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EngineEvent, OpType } from "@pulumi/pulumi/automation";

export const REPO = path.resolve(__dirname, "../../..");
export const ENGINE_DIR = process.env.ENGINE_DIR ?? path.join(REPO, ".engine");
const BIN = path.join(ENGINE_DIR, "bin");

/** Why the suite cannot run here, or undefined when it can. */
export function engineMissing(): string | undefined {
  if (process.env.STEADYDANCER_ENGINE_SUITE !== "1") {
    return "the real-engine suite runs only through `npm run test:engine` (it takes minutes)";
  }
  const cli = path.join(BIN, "pulumi");
  if (!fs.existsSync(cli)) return `${cli} is missing: run \`npm run engine:build\` first`;
  for (const plugin of ["pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
    if (!fs.existsSync(path.join(BIN, plugin))) return `${path.join(BIN, plugin)} is missing: run \`npm run engine:build\``;
  }
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    return "openssl is not installed (it makes the certificate of the stand-in for RunPod's https proxy)";
  }
  return undefined;
}

/** The resource plugins installed in the suite's PULUMI_HOME (directory names such as resource-random-v4.21.2). */
export function installedPlugins(): string[] {
  const dir = path.join(ENGINE_DIR, "home", "plugins");
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => !name.endsWith(".lock")) : [];
}

export function cliVersion(): string {
  return execFileSync(path.join(BIN, "pulumi"), ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } }).trim();
}

/**
 * The CLI's environment. https_proxy reaches only the checks' HTTP client (RunPod's pod proxy, played by
 * PodProxy); loopback (the RunPod emulator, the engine's own gRPC) is never proxied.
 */
export function engineEnv(backendDir: string, podProxyUrl: string, podProxyCaFile: string): Record<string, string> {
  return {
    PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}`,
    PULUMI_HOME: path.join(ENGINE_DIR, "home"),
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: "real-engine-suite",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    // The program was type-checked by `npm run build`; the engine's ts-node only transpiles it.
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    NODE_EXTRA_CA_CERTS: podProxyCaFile,
    https_proxy: podProxyUrl,
    HTTPS_PROXY: podProxyUrl,
    no_proxy: "127.0.0.1,localhost",
    NO_PROXY: "127.0.0.1,localhost",
    RUNPOD_PROVIDER_QUIET: "1",
  };
}

export interface StepEvent {
  op: OpType;
  type: string;
  urn: string;
}

/** Collects the resource steps an operation reported (preview or update), in order. */
export class StepLog {
  readonly steps: StepEvent[] = [];
  readonly diagnostics: string[] = [];

  readonly onEvent = (event: EngineEvent): void => {
    const meta = event.resourcePreEvent?.metadata;
    if (meta) this.steps.push({ op: meta.op, type: meta.type, urn: meta.urn });
    if (event.diagnosticEvent) this.diagnostics.push(event.diagnosticEvent.message);
  };

  ops(type: string): OpType[] {
    return this.steps.filter((s) => s.type === type).map((s) => s.op);
  }
}

/** Every file of the file backend (state, its backups and history), as text. */
export function backendFiles(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push({ file: path.relative(dir, full), text: fs.readFileSync(full, "utf8") });
    }
  };
  walk(dir);
  return out;
}

/** The plaintext secrets (by name) found in text. */
export function leakedSecrets(text: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets)
    .filter(([, value]) => text.includes(value))
    .map(([name]) => name);
}
