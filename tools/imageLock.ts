// `npm run image:lock [-- --check]`: resolves the image's whole Python set in one `uv pip compile` call and writes
// docker/requirements/lock.txt, which the Dockerfile installs with --no-deps --require-hashes. The inputs are our
// own copies of what ComfyUI and every custom node declare at their pinned refs (GitHub is out of reach where the
// suite runs; the image build compares them with the fetched files), the pinned torch stack and the DWPose set,
// under docker/requirements/constraints.txt and with docker/requirements/excludes.txt left out.
// `--check` resolves into a temporary file and exits 1 when the resolve fails or differs from the committed lock.
// Needs `uv` (UV=/path/to/uv, or on PATH) and PyPI. Candidates are limited to files uploaded before EXCLUDE_NEWER,
// so the same inputs resolve to the same lock until that date is moved on purpose.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const REQUIREMENTS_DIR = path.join("docker", "requirements");
/** Requirement files resolved together, in the order they are given to the resolver. */
export const LOCK_INPUTS = [
  "torch.txt",
  "comfyui.txt",
  "comfyui-manager.txt",
  "wanvideowrapper.txt",
  "videohelpersuite.txt",
  "kjnodes.txt",
  "wananimatepreprocess.txt",
  "controlnet-aux.txt",
  "pose-mmpose.txt",
  "opencv.txt",
  "worker.txt",
] as const;
export const LOCK_CONSTRAINTS = "constraints.txt";
export const LOCK_EXCLUDES = "excludes.txt";
export const LOCK_FILE = "lock.txt";
/** The image's interpreter (Ubuntu 22.04's python3.10, glibc 2.35) and the index. */
export const PYTHON_VERSION = "3.10";
export const PYTHON_PLATFORM = "x86_64-manylinux_2_35";
export const INDEX_URL = "https://pypi.org/simple";
/** Upload cut-off: move it forward (and re-run `npm run image:lock`) to take newer releases. */
export const EXCLUDE_NEWER = "2026-12-01T00:00:00Z";
export const LOCK_COMMAND = "npm run image:lock";

export interface ResolveOptions {
  /** Repository root (the folder holding docker/). */
  root: string;
  /** Where the resolved set is written. */
  outFile: string;
  /** The uv executable. */
  uv?: string;
  /** Extra constraints file (tests use it to force a conflict). */
  extraConstraints?: string;
  timeoutMs?: number;
}

export interface ResolveResult {
  ok: boolean;
  /** uv's stderr: the conflict explanation when the resolve fails. */
  stderr: string;
  durationMs: number;
}

export function uvExecutable(): string {
  return process.env.UV ?? "uv";
}

/** Whether `uv --version` runs; the version line, or null. */
export function uvVersion(uv = uvExecutable()): string | null {
  const r = spawnSync(uv, ["--version"], { encoding: "utf8", timeout: 10000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function compileArgs(outFile: string, extraConstraints?: string): string[] {
  const rel = (f: string) => path.posix.join("docker", "requirements", f);
  return [
    "pip", "compile", "--quiet",
    "--python-version", PYTHON_VERSION,
    "--python-platform", PYTHON_PLATFORM,
    "--index-url", INDEX_URL,
    "--exclude-newer", EXCLUDE_NEWER,
    "--generate-hashes",
    "--custom-compile-command", LOCK_COMMAND,
    "--constraint", rel(LOCK_CONSTRAINTS),
    ...(extraConstraints ? ["--constraint", extraConstraints] : []),
    "--excludes", rel(LOCK_EXCLUDES),
    ...LOCK_INPUTS.map(rel),
    "--output-file", outFile,
  ];
}

export function resolveLock(opts: ResolveOptions): ResolveResult {
  const started = Date.now();
  const r = spawnSync(opts.uv ?? uvExecutable(), compileArgs(opts.outFile, opts.extraConstraints), {
    cwd: opts.root,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 300000,
    // A fresh resolve every time: no lock to prefer versions from, no user config to change the outcome.
    env: { ...process.env, UV_NO_CONFIG: "1" },
  });
  const stderr = (r.stderr ?? "") + (r.error ? `\n${r.error.message}` : "");
  return { ok: r.status === 0 && fs.existsSync(opts.outFile), stderr: stderr.trim(), durationMs: Date.now() - started };
}

/** `name==version` lines of a lock, in order. */
export function pinnedPackages(lock: string): string[] {
  return lock.split("\n").map((l) => /^([A-Za-z0-9][A-Za-z0-9._-]*==[^\s\\;]+)/.exec(l)?.[1]).filter((p): p is string => !!p);
}

/** Lines that differ between two locks' pins, for a readable message ("- old", "+ new"). */
export function pinDifferences(committed: string, resolved: string): string[] {
  const a = new Set(pinnedPackages(committed));
  const b = new Set(pinnedPackages(resolved));
  return [...[...a].filter((p) => !b.has(p)).map((p) => `- ${p}`), ...[...b].filter((p) => !a.has(p)).map((p) => `+ ${p}`)];
}

function main(argv: string[]): number {
  const root = path.resolve(__dirname, "..").replace(/[/\\]dist$/, "");
  const check = argv.includes("--check");
  const lockPath = path.join(root, REQUIREMENTS_DIR, LOCK_FILE);
  const version = uvVersion();
  if (!version) {
    console.error(`image:lock: cannot run '${uvExecutable()}': install uv (pip install uv) or set UV=/path/to/uv`);
    return 2;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "image-lock-"));
  const out = check ? path.join(tmp, LOCK_FILE) : lockPath;
  console.error(`image:lock: resolving ${LOCK_INPUTS.length} requirement files with ${version} ...`);
  const r = resolveLock({ root, outFile: out });
  try {
    if (!r.ok) {
      console.error(`image:lock: the image's requirements do not resolve:\n${r.stderr}`);
      return 1;
    }
    const pins = pinnedPackages(fs.readFileSync(out, "utf8")).length;
    if (!check) {
      console.error(`image:lock: wrote ${path.relative(root, lockPath)} (${pins} packages, ${(r.durationMs / 1000).toFixed(1)} s)`);
      return 0;
    }
    const committed = fs.existsSync(lockPath) ? fs.readFileSync(lockPath, "utf8") : "";
    const resolved = fs.readFileSync(out, "utf8");
    if (committed === resolved) {
      console.error(`image:lock: ${path.relative(root, lockPath)} matches a fresh resolve (${pins} packages)`);
      return 0;
    }
    const diff = pinDifferences(committed, resolved);
    console.error(`image:lock: ${path.relative(root, lockPath)} differs from a fresh resolve${diff.length ? `:\n${diff.join("\n")}` : " (hashes or annotations)"}\nrun ${LOCK_COMMAND} and commit the lock`);
    return 1;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
