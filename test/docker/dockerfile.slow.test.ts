// docker/Dockerfile, docker/.dockerignore and docker/docker-compose.yml, checked without a Docker engine:
// linted by dockerfile-utils (zero findings), then the image rules of issue 3 checked over the instructions
// parsed by dockerfile-ast. Every rule is also run against a deliberately broken copy, so each is shown to
// fail when its rule is broken. The self-test and model-baking RUNs are executed for real in bash with
// stub programs, and every RUN must be valid bash.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DockerfileParser, type Instruction, Arg, Env, Label, ModifiableInstruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { inBuildContext as inContext } from "../../components/dockerContext";
import { LOCK_INPUTS, pinnedPackages } from "../../tools/imageLock";

/** Lock inputs that are ours, not copies of a pin's requirement file (the build fetches no upstream file for them). */
const OWN_LOCK_INPUTS: readonly string[] = ["torch.txt", "pose-mmpose.txt", "opencv.txt", "worker.txt"];

const ROOT = path.resolve(__dirname, "../../..");
const DOCKER_DIR = path.join(ROOT, "docker");
const DOCKERFILE = readFileSync(path.join(DOCKER_DIR, "Dockerfile"), "utf8");
const DOCKERIGNORE = readFileSync(path.join(DOCKER_DIR, ".dockerignore"), "utf8");
const COMPOSE = readFileSync(path.join(DOCKER_DIR, "docker-compose.yml"), "utf8");

const DEVEL_IMAGE = "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04";
const RUNTIME_IMAGE = "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04";
const CONSTRAINTS = "/opt/requirements/constraints.txt";
const LOCK = "/opt/requirements/lock.txt";
const REQUIREMENTS_DIR = path.join(DOCKER_DIR, "requirements");
const readRequirements = (name: string): string => readFileSync(path.join(REQUIREMENTS_DIR, name), "utf8");
const FLASH_ATTN_WHEEL =
  "https://github.com/Dao-AILab/flash-attention/releases/download/v2.7.4.post1/" +
  "flash_attn-2.7.4.post1+cu12torch2.5cxx11abiFALSE-cp310-cp310-linux_x86_64.whl";
const NODE_PINS = [
  "WANVIDEOWRAPPER_REF",
  "VHS_REF",
  "KJNODES_REF",
  "WANANIMATEPREPROCESS_REF",
  "CONTROLNET_AUX_REF",
] as const;
// ComfyUI itself, on loopback behind the authenticating front (start.sh): the healthcheck needs no token.
const HEALTH_URL = "http://127.0.0.1:8189/api/system_stats";

// ---- A small model of the parsed Dockerfile -----------------------------------------------------------

interface Flag {
  name: string;
  value: string;
  options: Map<string, string>;
}

interface Step {
  keyword: string;
  /** 1-based line of the instruction. */
  line: number;
  /** Arguments without flags, continuation lines joined. */
  text: string;
  flags: Flag[];
  /** ARG / ENV / LABEL name=value pairs (value null for an ARG without default). */
  props: { name: string; value: string | null }[];
}

interface Stage {
  name: string | null;
  base: string;
  steps: Step[];
  /** ARG and ENV values visible in the stage: global ARG defaults only when re-declared, as Docker does. */
  vars: Map<string, string>;
}

interface Parsed {
  text: string;
  globals: Map<string, string | null>;
  stages: Stage[];
}

function unquote(v: string): string {
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0] ? v.slice(1, -1) : v;
}

function expand(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)/g, (whole, a?: string, b?: string) => {
    const value = vars.get(a ?? b ?? "");
    return value ?? whole;
  });
}

function toStep(ins: Instruction): Step {
  const flags =
    ins instanceof ModifiableInstruction
      ? ins.getFlags().map((f) => ({
          name: f.getName(),
          value: f.getValue() ?? "",
          options: new Map(f.getOptions().map((o) => [o.getName(), o.getValue() ?? ""])),
        }))
      : [];
  let props: Step["props"] = [];
  if (ins instanceof Arg) {
    const p = ins.getProperty();
    props = p ? [{ name: p.getName(), value: p.getValue() === null ? null : unquote(p.getValue() ?? "") }] : [];
  } else if (ins instanceof Env || ins instanceof Label) {
    props = ins.getProperties().map((p) => ({ name: p.getName(), value: unquote(p.getValue() ?? "") }));
  }
  return {
    keyword: ins.getKeyword(),
    line: ins.getRange().start.line + 1,
    text: ins.getArgumentsContent() ?? "",
    flags,
    props,
  };
}

function parse(text: string): Parsed {
  const df = DockerfileParser.parse(text);
  const globals = new Map<string, string | null>();
  const stages: Stage[] = [];
  for (const ins of df.getInstructions()) {
    const step = toStep(ins);
    if (step.keyword === "FROM") {
      const [base = "", as, name] = step.text.split(/\s+/);
      stages.push({ name: as?.toUpperCase() === "AS" ? (name ?? null) : null, base, steps: [], vars: new Map() });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      for (const p of step.props) globals.set(p.name, p.value);
      continue;
    }
    stage.steps.push(step);
    if (step.keyword === "ARG") {
      for (const p of step.props) {
        const value = p.value ?? globals.get(p.name) ?? null;
        if (value !== null) stage.vars.set(p.name, expand(value, stage.vars));
      }
    } else if (step.keyword === "ENV") {
      for (const p of step.props) stage.vars.set(p.name, expand(p.value ?? "", stage.vars));
    }
  }
  return { text, globals, stages };
}

const finalStage = (p: Parsed): Stage | undefined => p.stages[p.stages.length - 1];
const stageNamed = (p: Parsed, name: string): Stage | undefined => p.stages.find((s) => s.name === name);
const runs = (s: Stage): Step[] => s.steps.filter((x) => x.keyword === "RUN");
const flag = (step: Step, name: string): Flag[] => step.flags.filter((f) => f.name === name);
const mounts = (step: Step): Map<string, string>[] => flag(step, "mount").map((f) => f.options);
const copyFrom = (step: Step): string | null => flag(step, "from")[0]?.value ?? null;

/** Shell commands of a RUN (split at && || ; |), with the stage's ARG/ENV values filled in and quotes dropped. */
function commands(stage: Stage, step: Step): string[] {
  return step.text
    .split(/&&|\|\||;|\|/)
    .map((c) => expand(c, stage.vars).replace(/["']/g, "").trim())
    .filter(Boolean);
}

const isPipInstall = (cmd: string): boolean => /\bpip3?\s+(install|wheel)\b/.test(cmd);
const usesConstraints = (cmd: string): boolean =>
  new RegExp(`(^|\\s)(-c|--constraint)[ =]${CONSTRAINTS.replace(/\./g, "\\.")}(\\s|$)`).test(cmd);
/** Pins of a requirement file's `name==version` lines (the lock, constraints.txt). */
function pinsOf(text: string): Map<string, string> {
  return new Map(pinnedPackages(text).map((p) => p.split("==") as [string, string]));
}

/** Context paths (relative to docker/) the Dockerfile reads: COPY sources without --from, bind mounts. */
function contextSources(p: Parsed): string[] {
  const sources: string[] = [];
  for (const stage of p.stages) {
    for (const step of stage.steps) {
      if (step.keyword === "COPY" && copyFrom(step) === null) sources.push(...step.text.split(/\s+/).slice(0, -1));
      for (const m of mounts(step)) if (m.get("type") === "bind" && !m.has("from")) sources.push(m.get("source") ?? "");
    }
  }
  return sources.map((s) => s.replace(/^\.\//, ""));
}

// ---- The rules ----------------------------------------------------------------------------------------

type Rule = (p: Parsed) => string[];

const RULES: Record<string, Rule> = {
  lint(p) {
    return validate(p.text).map((d) => `line ${d.range.start.line + 1}: ${typeof d.message === "string" ? d.message : d.message.value}`);
  },

  "pinned BuildKit frontend"(p) {
    return /^# syntax=docker\/dockerfile:1\.\d+\n/.test(p.text) ? [] : ["first line must be `# syntax=docker/dockerfile:1.N`"];
  },

  "stage bases"(p) {
    const problems: string[] = [];
    const builder = stageNamed(p, "builder");
    if (builder?.base !== DEVEL_IMAGE) problems.push(`stage builder must be FROM ${DEVEL_IMAGE}, is ${builder?.base}`);
    const last = finalStage(p);
    if (last?.base !== RUNTIME_IMAGE) problems.push(`the final stage must be FROM ${RUNTIME_IMAGE}, is ${last?.base}`);
    const names = new Set(p.stages.map((s) => s.name));
    for (const s of p.stages) {
      if (names.has(s.base) || s.base === "scratch") continue;
      if (s.base.includes("$") || !/^[\w./-]+:[\w.-]+$/.test(s.base) || s.base.endsWith(":latest")) {
        problems.push(`stage ${s.name} base ${s.base} is not an exact image tag`);
      }
    }
    for (const step of last?.steps ?? []) {
      if (step.keyword === "COPY" && copyFrom(step) === "builder") problems.push(`final stage copies from the builder (line ${step.line})`);
    }
    return problems;
  },

  "runtime packages: a C compiler and Python headers for Triton, no CUDA compiler"(p) {
    const last = finalStage(p);
    const installs = last ? runs(last).flatMap((r) => commands(last, r)).filter((c) => /apt-get\s+install/.test(c)) : [];
    const words = new Set(installs.join(" ").split(/\s+/));
    const problems = ["python3.10", "python3.10-dev", "gcc", "libc6-dev", "ffmpeg", "libgl1", "libglib2.0-0", "git", "aria2", "jq", "curl", "ca-certificates", "tini"]
      .filter((pkg) => !words.has(pkg))
      .map((pkg) => `final stage does not install ${pkg}`);
    for (const w of words) {
      if (w === "python3.10-dev" || w === "libc6-dev") continue;
      if (/^(build-essential|g\+\+|clang|cuda-nvcc.*|cuda-toolkit.*|cuda-compiler.*|.*-dev)$/.test(w)) problems.push(`final stage installs ${w}`);
    }
    return problems;
  },

  "global ARGs used in a stage are declared in it"(p) {
    const problems: string[] = [];
    for (const s of p.stages) {
      const declared = new Set(s.steps.filter((x) => x.keyword === "ARG").flatMap((x) => x.props.map((q) => q.name)));
      for (const step of s.steps.filter((x) => x.keyword !== "ARG")) {
        for (const m of step.text.matchAll(/\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)/g)) {
          const name = m[1] ?? m[2] ?? "";
          if (p.globals.has(name) && !declared.has(name)) {
            problems.push(`stage ${s.name} uses \${${name}} (line ${step.line}) without \`ARG ${name}\`: it would be empty`);
          }
        }
      }
    }
    return problems;
  },

  "the venv is the committed lock: hashes required, nothing resolved"(p) {
    const problems: string[] = [];
    const venvStage = p.stages.find((s) => s.steps.some((x) => x.keyword === "RUN" && /venv \/opt\/venv\b/.test(x.text)));
    if (!venvStage) return ["no stage creates /opt/venv"];
    const copiesRequirements = venvStage.steps.some((x) => x.keyword === "COPY" && copyFrom(x) === null && x.text === "requirements/ /opt/requirements/");
    if (!copiesRequirements) problems.push(`stage ${venvStage.name} does not COPY requirements/ /opt/requirements/`);
    const cmds = runs(venvStage).flatMap((r) => commands(venvStage, r)).filter(isPipInstall);
    const lockAt = cmds.findIndex((c) => c.includes(`-r ${LOCK}`));
    if (lockAt < 0) problems.push(`stage ${venvStage.name} does not pip install -r ${LOCK}`);
    else {
      const cmd = cmds[lockAt] ?? "";
      for (const opt of ["--no-deps", "--require-hashes"]) if (!cmd.split(/\s+/).includes(opt)) problems.push(`the lock is installed without ${opt}: ${cmd}`);
    }
    // After the pinned pip/setuptools/wheel, every install into the venv takes nothing but what it names.
    for (const c of cmds.filter((c) => !/pip==/.test(c))) {
      if (!/\s--no-deps(\s|$)/.test(c)) problems.push(`pip install in ${venvStage.name} without --no-deps (it would resolve): ${c.slice(0, 120)}`);
    }
    for (const s of p.stages) {
      for (const c of runs(s).flatMap((r) => commands(s, r)).filter(isPipInstall)) {
        if (/--(extra-)?index-url/.test(c)) problems.push(`stage ${s.name} installs from another index than the lock's PyPI: ${c.slice(0, 120)}`);
      }
    }
    const lock = pinsOf(readRequirements("lock.txt"));
    for (const [name, version] of [["torch", "2.5.1"], ["torchvision", "0.20.1"], ["torchaudio", "2.5.1"], ["xformers", "0.0.29.post1"], ["mmengine", "0.10.7"], ["mmdet", "3.3.0"], ["mmpose", "1.3.2"]]) {
      if (lock.get(name ?? "") !== version) problems.push(`the lock pins ${name} ${lock.get(name ?? "") ?? "not at all"}, expected ${version}`);
    }
    if (!/^1\./.test(lock.get("numpy") ?? "")) problems.push(`the lock pins numpy ${lock.get("numpy")}, expected 1.x`);
    if (p.globals.get("TORCH_VERSION") !== lock.get("torch")) problems.push(`ARG TORCH_VERSION ${p.globals.get("TORCH_VERSION")} is not the lock's torch ${lock.get("torch")}`);
    const constraints = pinsOf(readRequirements("constraints.txt"));
    if (p.globals.get("SETUPTOOLS_VERSION") !== constraints.get("setuptools")) {
      problems.push(`ARG SETUPTOOLS_VERSION ${p.globals.get("SETUPTOOLS_VERSION")} is not constraints.txt's setuptools ${constraints.get("setuptools")}`);
    }
    return problems;
  },

  "one OpenCV distribution in the lock"(p) {
    void p;
    const opencv = [...pinsOf(readRequirements("lock.txt")).keys()].filter((n) => /^opencv/.test(n));
    return opencv.length === 1 && opencv[0] === "opencv-contrib-python" ? [] : [`the lock holds ${opencv.join(", ") || "no OpenCV"}, expected opencv-contrib-python alone`];
  },

  "the pins' requirement files are compared with the lock's inputs, and pip check fails the build"(p) {
    const problems: string[] = [];
    const sources = p.stages.find((s) => runs(s).some((r) => r.text.includes("fetch_node")));
    if (!sources) return ["no stage fetches the custom nodes"];
    const collected = runs(sources).flatMap((r) => [...r.text.matchAll(/collect (\S+\.txt) (\S+)/g)].map((m) => m[1] ?? ""));
    const upstreamInputs = LOCK_INPUTS.filter((f) => !OWN_LOCK_INPUTS.includes(f));
    for (const f of upstreamInputs) if (!collected.includes(f)) problems.push(`the sources stage does not collect the upstream file for ${f}`);
    for (const f of collected) if (!existsSync(path.join(REQUIREMENTS_DIR, f))) problems.push(`${f} is collected but docker/requirements/${f} does not exist`);
    const venvStage = p.stages.find((s) => runs(s).some((r) => r.text.includes(`-r ${LOCK}`)));
    if (!venvStage) return [...problems, "no stage installs the lock"];
    const order = venvStage.steps.map((x) => x.text);
    const compareAt = order.findIndex((t) => /compare-requirements\.sh \/tmp\/upstream \/opt\/requirements/.test(t));
    const lockAt = order.findIndex((t) => t.includes(`-r ${LOCK}`));
    if (compareAt < 0) problems.push("compare-requirements.sh does not run in the venv stage");
    else if (compareAt > lockAt) problems.push("the requirement files are compared after the lock is installed");
    const checkAt = order.findIndex((t) => /pip-check\.sh \/opt\/requirements\/excludes\.txt/.test(t));
    const lastInstall = Math.max(...order.map((t, i) => (/\bpip3?\s+install\b/.test(t) ? i : -1)));
    if (checkAt < 0) problems.push("pip-check.sh does not run in the venv stage");
    else if (checkAt < lastInstall) problems.push("pip check runs before the last pip install");
    if (/pip check[^\n]*\|\|\s*true/.test(p.text) || /pip-check\.sh[^\n]*\|\|/.test(p.text)) problems.push("a pip check failure is hidden");
    return problems;
  },

  "runtime pip installs keep the constraints"(p) {
    const problems: string[] = [];
    const last = finalStage(p);
    if (last?.vars.get("PIP_CONSTRAINT") !== CONSTRAINTS) problems.push("final image does not set PIP_CONSTRAINT for runtime installs");
    if (!last?.steps.some((x) => x.keyword === "COPY" && x.text === "/opt/requirements /opt/requirements")) problems.push("final image lacks /opt/requirements");
    const builder = stageNamed(p, "builder");
    const torch = builder ? runs(builder).flatMap((r) => commands(builder, r)).filter((c) => isPipInstall(c) && /(^|\s)torch==/.test(c)) : [];
    for (const c of torch) if (!usesConstraints(c)) problems.push(`the builder installs torch without -c ${CONSTRAINTS}: ${c}`);
    return problems;
  },

  "flash-attn from its exact wheel only"(p) {
    const problems: string[] = [];
    if (p.globals.get("ENABLE_FLASH_ATTN") !== "true") problems.push("ARG ENABLE_FLASH_ATTN must default to true");
    const all = p.stages.flatMap((s) => runs(s).map((r) => ({ s, r, cmds: commands(s, r) })));
    const wheel = all.find((x) => x.cmds.some((c) => isPipInstall(c) && c.includes(FLASH_ATTN_WHEEL)));
    if (!wheel) problems.push(`no pip install of ${FLASH_ATTN_WHEEL}`);
    else if (!wheel.r.text.includes("ENABLE_FLASH_ATTN")) problems.push("the flash-attn install is not conditional on ENABLE_FLASH_ATTN");
    for (const { cmds } of all) {
      for (const c of cmds.filter(isPipInstall)) {
        if (/(^|\s)flash[-_]attn(\s|$|[=<>~!])/.test(c)) problems.push(`flash-attn installed by name (falls back to a source build): ${c}`);
      }
    }
    return problems;
  },

  "mmcv compiled in the builder, only the wheel copied"(p) {
    const problems: string[] = [];
    if (p.globals.get("ENABLE_MMPOSE") !== "true") problems.push("ARG ENABLE_MMPOSE must default to true");
    const builder = stageNamed(p, "builder");
    if (!builder) return [...problems, "no builder stage"];
    const arch = builder.vars.get("TORCH_CUDA_ARCH_LIST") ?? "";
    for (const cc of ["8.0", "8.6", "8.9", "9.0"]) if (!arch.split(/[;\s]/).includes(cc)) problems.push(`TORCH_CUDA_ARCH_LIST lacks ${cc}`);
    const jobs = Number(builder.vars.get("MAX_JOBS"));
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 16) problems.push(`MAX_JOBS must be a bounded number, is ${builder.vars.get("MAX_JOBS")}`);
    const build = runs(builder).find((r) => /pip\s+wheel\b/.test(r.text) && r.text.includes("mmcv==2.1.0"));
    if (!build) return [...problems, "the builder does not `pip wheel mmcv==2.1.0`"];
    const wheelCmd = commands(builder, build).find((c) => /pip\s+wheel\b/.test(c)) ?? "";
    for (const env of ["FORCE_CUDA=1", "MMCV_WITH_OPS=1", "TORCH_CUDA_ARCH_LIST=", "MAX_JOBS="]) {
      if (!wheelCmd.includes(env)) problems.push(`mmcv is built without ${env}`);
    }
    for (const opt of ["--no-build-isolation", "-w /wheels", "--require-hashes"]) if (!wheelCmd.includes(opt)) problems.push(`pip wheel mmcv lacks ${opt}`);
    const text = build.text;
    const guard = text.indexOf("ENABLE_MMPOSE");
    if (guard < 0 || text.indexOf("mkdir -p /wheels") < 0 || text.indexOf("mkdir -p /wheels") > guard) {
      problems.push("the builder must create an empty /wheels before skipping when ENABLE_MMPOSE is not true");
    }
    for (const s of p.stages) {
      for (const step of s.steps.filter((x) => x.keyword === "COPY" && copyFrom(x) === "builder")) {
        const srcs = step.text.split(/\s+/).slice(0, -1);
        if (!srcs.every((src) => /^\/wheels\/?$/.test(src))) problems.push(`stage ${s.name} copies more than /wheels from the builder: ${srcs.join(" ")}`);
      }
    }
    const venvCmds = p.stages.filter((s) => s !== builder).flatMap((s) => runs(s).flatMap((r) => commands(s, r)));
    const chumpy = venvCmds.findIndex((c) => /chumpy/.test(c) && c.includes("--no-build-isolation"));
    const lock = venvCmds.findIndex((c) => c.includes(`-r ${LOCK}`));
    if (chumpy < 0) problems.push("chumpy is not installed with --no-build-isolation");
    else if (lock >= 0 && chumpy > lock) problems.push("chumpy must be installed before the lock (it builds with the venv's setuptools)");
    if (!venvCmds.some((c) => /\/mmcv-2\.1\.0-\*?.*\.whl/.test(c))) problems.push("the mmcv wheel from the builder is not installed");
    return problems;
  },

  "ComfyUI and every node pinned by ARG and fetched by that pin"(p) {
    const problems: string[] = [];
    const comfy = p.globals.get("COMFYUI_VERSION") ?? "";
    if (!/^v\d+\.\d+\.\d+$/.test(comfy)) problems.push(`COMFYUI_VERSION must be a release tag like v0.8.1, is "${comfy}"`);
    const allCmds = p.stages.flatMap((s) => runs(s).map((r) => ({ run: r, cmds: commands(s, r) })));
    if (!allCmds.some(({ cmds }) => cmds.some((c) => c.includes(`refs/tags/${comfy}`) && /fetch\b.*--depth 1/.test(c)))) {
      problems.push("ComfyUI is not fetched at refs/tags/${COMFYUI_VERSION}");
    }
    for (const name of NODE_PINS) {
      const sha = p.globals.get(name) ?? "";
      if (!/^[0-9a-f]{40}$/.test(sha)) {
        problems.push(`${name} must default to a 40-hex commit, is "${sha}"`);
        continue;
      }
      const user = allCmds.find(({ cmds }) => cmds.some((c) => c.split(/\s+/).includes(sha)));
      if (!user) problems.push(`${name} (${sha}) is declared but never used to fetch a node`);
      else if (!/fetch\b[^&;]*--depth 1[^&;]*"\$\{ref\}"/.test(user.run.text) || !user.run.text.includes("FETCH_HEAD")) {
        problems.push(`${name} is not fetched by commit (git fetch --depth 1 origin <sha> + checkout FETCH_HEAD)`);
      }
    }
    if (/\bgit\s+clone\b/.test(p.text)) problems.push("`git clone` ignores the pins: fetch by commit instead");
    return problems;
  },

  "the Hugging Face token only as a BuildKit secret"(p) {
    const problems: string[] = [];
    const declared = [
      ...[...p.globals.keys()].map((n) => ({ n, where: "global ARG" })),
      ...p.stages.flatMap((s) => s.steps.filter((x) => x.keyword === "ARG" || x.keyword === "ENV").flatMap((x) => x.props.map((q) => ({ n: q.name, where: `${x.keyword} line ${x.line}` })))),
    ];
    for (const { n, where } of declared) if (/TOKEN|SECRET|PASSWORD|KEY/i.test(n)) problems.push(`${where}: ${n} would put a secret into the image history`);
    for (const s of p.stages) {
      for (const step of s.steps) {
        const mentions = /HF_TOKEN|\/run\/secrets/.test(step.text);
        if (!mentions) continue;
        const secret = mounts(step).some((m) => m.get("type") === "secret" && m.get("id") === "hf_token");
        if (step.keyword !== "RUN" || !secret) problems.push(`line ${step.line} (${step.keyword}) uses the token without --mount=type=secret,id=hf_token`);
      }
    }
    return problems;
  },

  "pip and apt cache mounts"(p) {
    const problems: string[] = [];
    for (const s of p.stages) {
      for (const r of runs(s)) {
        const targets = mounts(r).filter((m) => m.get("type") === "cache");
        const has = (target: string, locked = false) =>
          targets.some((m) => m.get("target") === target && (!locked || m.get("sharing") === "locked"));
        if (commands(s, r).some(isPipInstall) && !has("/root/.cache/pip")) problems.push(`line ${r.line}: pip without a /root/.cache/pip cache mount`);
        if (/apt-get\s+install/.test(r.text)) {
          if (!has("/var/cache/apt", true)) problems.push(`line ${r.line}: apt without a locked /var/cache/apt cache mount`);
          if (!has("/var/lib/apt", true)) problems.push(`line ${r.line}: apt without a locked /var/lib/apt cache mount`);
          if (!r.text.includes("rm -f /etc/apt/apt.conf.d/docker-clean")) problems.push(`line ${r.line}: apt cache mount but docker-clean still deletes the cache`);
        }
      }
    }
    return problems;
  },

  "scripts, workflows and manifest are copied last"(p) {
    const last = finalStage(p);
    if (!last) return ["no final stage"];
    const problems: string[] = [];
    const wanted: [RegExp, string][] = [
      [/^models\/manifest\.json$/, "/opt/steadydancer/models/manifest.json"],
      [/^workflows\/?$/, "/opt/steadydancer/workflows/"],
      [/^scripts\/start\.sh$/, "/opt/steadydancer/scripts/"],
      [/^scripts\/download-models\.sh$/, "/opt/steadydancer/scripts/"],
      [/^scripts\/verify-env\.py$/, "/opt/steadydancer/scripts/"],
      [/^scripts\/auth-proxy\.py$/, "/opt/steadydancer/scripts/"],
      [/^scripts\/pod-watchdog\.py$/, "/opt/steadydancer/scripts/"],
    ];
    const copies = last.steps.map((x, i) => ({ x, i })).filter(({ x }) => x.keyword === "COPY" && copyFrom(x) === null);
    const heavy = last.steps.map((x, i) => ({ x, i })).filter(({ x }) => x.keyword === "RUN" || (x.keyword === "COPY" && copyFrom(x) !== null));
    const lastHeavy = Math.max(...heavy.map(({ i }) => i));
    for (const [src, dest] of wanted) {
      const c = copies.find(({ x }) => {
        const parts = x.text.split(/\s+/);
        return parts.slice(0, -1).some((s) => src.test(s)) && parts[parts.length - 1] === dest;
      });
      if (!c) problems.push(`final stage does not COPY ${src.source} to ${dest}`);
      else if (c.i < lastHeavy) problems.push(`COPY ${c.x.text} (line ${c.x.line}) comes before a heavy step (line ${last.steps[lastHeavy]?.line})`);
    }
    return problems;
  },

  "the serverless worker is copied and imported by a self-test"(p) {
    const last = finalStage(p);
    if (!last) return ["no final stage"];
    const copy = last.steps.findIndex((x) => x.keyword === "COPY" && copyFrom(x) === null && /^worker\/?\s+\/opt\/steadydancer\/worker\/$/.test(x.text));
    if (copy < 0) return ["the final stage does not COPY worker/ to /opt/steadydancer/worker/ (start.sh runs python -m worker from /opt/steadydancer)"];
    const test = last.steps.findIndex((x, i) => i > copy && x.keyword === "RUN" && x.text.includes("from worker.handler import handler"));
    return test < 0 ? ["no RUN after the worker's COPY imports worker.handler (the build's self-test of the worker)"] : [];
  },

  "openssh-server for start.sh's sshd: keys only, no host keys baked in"(p) {
    const last = finalStage(p);
    if (!last) return ["no final stage"];
    const cmds = runs(last).flatMap((r) => commands(last, r));
    const problems: string[] = [];
    const install = cmds.findIndex((c) => /apt-get\s+install\b.*\bopenssh-server\b/.test(c));
    if (install < 0) return ["the final stage does not install openssh-server (start.sh starts sshd when PUBLIC_KEY is set)"];
    const removes = cmds.findIndex((c, i) => i > install && /rm -f .*\/etc\/ssh\/ssh_host_\*_key\b/.test(c));
    if (removes < 0) problems.push("the host keys openssh-server made at build time stay in the image: every pod would share them");
    const config = cmds.find((c) => c.includes("/etc/ssh/sshd_config.d/")) ?? "";
    for (const line of ["PasswordAuthentication no", "PermitRootLogin prohibit-password"]) {
      if (!config.includes(line)) problems.push(`sshd_config.d lacks '${line}'`);
    }
    return problems;
  },

  "healthcheck on /api/system_stats"(p) {
    const hc = finalStage(p)?.steps.filter((x) => x.keyword === "HEALTHCHECK") ?? [];
    if (hc.length !== 1) return [`expected one HEALTHCHECK in the final stage, found ${hc.length}`];
    const step = hc[0];
    if (!step) return [];
    const problems: string[] = [];
    const cmd = step.text.replace(/^CMD\s+/, "");
    const argv = cmd.startsWith("[") ? (JSON.parse(cmd) as string[]) : cmd.split(/\s+/);
    if (argv[0] !== "curl" || !argv.includes("-fsS") || !argv.includes(HEALTH_URL)) problems.push(`HEALTHCHECK must curl -fsS ${HEALTH_URL}, is ${cmd}`);
    const durations = new Map(step.flags.map((f) => [f.name, f.value]));
    for (const f of ["interval", "timeout", "start-period", "start-interval"]) if (!durations.has(f)) problems.push(`HEALTHCHECK lacks --${f}`);
    const start = /^(\d+)(m|h)$/.exec(durations.get("start-period") ?? "");
    const minutes = start ? Number(start[1]) * (start[2] === "h" ? 60 : 1) : 0;
    if (minutes < 10) problems.push(`--start-period ${durations.get("start-period")} is too short for a model download`);
    return problems;
  },

  "EXPOSE 8188"(p) {
    const exposed = finalStage(p)?.steps.filter((x) => x.keyword === "EXPOSE").flatMap((x) => x.text.split(/\s+/)) ?? [];
    return exposed.some((e) => e === "8188" || e === "8188/tcp") ? [] : [`EXPOSE 8188 missing (found ${exposed.join(" ")})`];
  },

  "OCI labels and the pins as labels"(p) {
    const labels = finalStage(p)?.steps.filter((x) => x.keyword === "LABEL").flatMap((x) => x.props) ?? [];
    const keys = new Set(labels.map((l) => l.name));
    const problems = ["title", "description", "source", "licenses", "version"]
      .map((k) => `org.opencontainers.image.${k}`)
      .filter((k) => !keys.has(k))
      .map((k) => `label ${k} missing`);
    for (const pin of ["COMFYUI_VERSION", ...NODE_PINS]) {
      if (!labels.some((l) => l.value?.includes(`\${${pin}}`))) problems.push(`no label records ${pin}`);
    }
    return problems;
  },

  "build-time self-test fails on import errors"(p) {
    const test = finalStage(p) && runs(finalStage(p) as Stage).find((r) => r.text.includes("--quick-test-for-ci"));
    if (!test) return ["no RUN with main.py --quick-test-for-ci in the final stage"];
    const problems: string[] = [];
    if (!/main\.py --quick-test-for-ci --cpu/.test(test.text)) problems.push("the self-test must run `main.py --quick-test-for-ci --cpu`");
    if (!/grep -q "IMPORT FAILED"[^;]*;\s*then[^;]*;[^;]*;\s*exit 1/.test(test.text)) problems.push("the self-test does not fail when the log contains IMPORT FAILED");
    if (!/verify-env\.py --build/.test(test.text)) problems.push("the self-test does not run verify-env.py --build");
    return problems;
  },

  "entrypoint, command and environment"(p) {
    const last = finalStage(p);
    if (!last) return ["no final stage"];
    const problems: string[] = [];
    const one = (kw: string) => last.steps.find((x) => x.keyword === kw)?.text ?? "";
    if (one("ENTRYPOINT").replace(/\s/g, "") !== '["/usr/bin/tini","--"]') problems.push(`ENTRYPOINT must be tini, is ${one("ENTRYPOINT")}`);
    if (one("CMD").replace(/\s/g, "") !== '["/opt/steadydancer/scripts/start.sh"]') problems.push(`CMD must be start.sh, is ${one("CMD")}`);
    const env = last.vars;
    if (!env.get("PATH")?.startsWith("/opt/venv/bin:")) problems.push("PATH does not start with /opt/venv/bin");
    const expected: Record<string, string> = {
      COMFYUI_DIR: "/opt/ComfyUI",
      MODEL_MANIFEST: "/opt/steadydancer/models/manifest.json",
      PYTHONUNBUFFERED: "1",
      STEADYDANCER_VARIANT: "fp8",
    };
    for (const [k, v] of Object.entries(expected)) if (env.get(k) !== v) problems.push(`ENV ${k} should be ${v}, is ${env.get(k)}`);
    for (const dir of ["/opt/venv", "/opt/ComfyUI"]) {
      const copied = last.steps.some((x) => x.keyword === "COPY" && copyFrom(x) !== null && x.text === `${dir} ${dir}`);
      if (!copied) problems.push(`${dir} is not copied into the final stage at the same path`);
    }
    return problems;
  },

  "optional baked models in their own small stage"(p) {
    const problems: string[] = [];
    if (p.globals.get("BAKE_STEADYDANCER") !== "false") problems.push("ARG BAKE_STEADYDANCER must default to false");
    if (p.globals.get("STEADYDANCER_VARIANT") !== "fp8") problems.push("ARG STEADYDANCER_VARIANT must default to fp8");
    const models = p.stages.find((s) => runs(s).some((r) => r.text.includes("download-models.sh")));
    if (!models) return [...problems, "no stage runs download-models.sh"];
    if (models.base.startsWith("nvidia/cuda")) problems.push(`the model stage should be a small image, is ${models.base}`);
    if (models === finalStage(p)) problems.push("download-models.sh must not run in the final stage");
    const copy = finalStage(p)?.steps.find((x) => x.keyword === "COPY" && copyFrom(x) === models.name);
    if (copy?.text !== "/models/ /opt/ComfyUI/models/") problems.push(`final stage must COPY --from=${models.name} /models/ /opt/ComfyUI/models/`);
    return problems;
  },
};

const PARSED = parse(DOCKERFILE);

/** A copy of the Dockerfile with one exact substring replaced; fails loudly when the substring is absent. */
function broken(find: string | RegExp, replace: string): Parsed {
  const text = DOCKERFILE.replace(find, replace);
  assert.notEqual(text, DOCKERFILE, `mutation ${String(find)} did not apply`);
  return parse(text);
}

// ---- Running RUN instructions for real ----------------------------------------------------------------

function runBash(cmd: string, opts: { cwd: string; env: Record<string, string> }) {
  return spawnSync("bash", ["-o", "pipefail", "-c", cmd], { encoding: "utf8", timeout: 15_000, cwd: opts.cwd, env: opts.env });
}

function writeExecutable(file: string, body: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, body);
  chmodSync(file, 0o755);
}

// ---- .dockerignore, as Docker reads it --------------------------------------------------------------

// The matcher is components/dockerContext.ts, Docker's rules: the files it admits are those the builder gets.

// ---- docker-compose.yml: nested blocks by indentation (enough for this file; no YAML parser) --------------

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** The lines nested under `keys` (e.g. ["services", "comfyui", "deploy"]); throws when a key is missing. */
function block(text: string, keys: string[]): string {
  let lines = text.split("\n");
  let parent = -1;
  for (const key of keys) {
    const content = lines.filter((l) => l.trim() && !l.trim().startsWith("#"));
    const level = Math.min(...content.map(indentOf).filter((n) => n > parent));
    const at = lines.findIndex((l) => indentOf(l) === level && l.trimStart().startsWith(`${key}:`));
    if (at < 0) throw new Error(`compose: no ${keys.join(".")}`);
    const end = lines.findIndex((l, i) => i > at && l.trim() !== "" && !l.trim().startsWith("#") && indentOf(l) <= level);
    lines = [lines[at] ?? "", ...lines.slice(at + 1, end < 0 ? undefined : end)];
    parent = level;
  }
  return lines.join("\n");
}

function composeProblems(text: string): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  const tryBlock = (keys: string[]): string => {
    try {
      return block(text, keys);
    } catch (e) {
      problems.push((e as Error).message);
      return "";
    }
  };
  const svc = ["services", "comfyui"];
  const build = tryBlock([...svc, "build"]);
  expect(/^\s+context: \.$/m.test(build), "build.context must be . (the docker/ folder)");
  const args = tryBlock([...svc, "build", "args"]);
  for (const a of ["ENABLE_FLASH_ATTN", "ENABLE_MMPOSE", "BAKE_STEADYDANCER", "STEADYDANCER_VARIANT"]) expect(args.includes(`${a}:`), `build arg ${a} missing`);
  expect(/^\s+- hf_token$/m.test(tryBlock([...svc, "build", "secrets"])), "the build does not get the hf_token secret");
  expect(/^\s+environment: HF_TOKEN$/m.test(tryBlock(["secrets", "hf_token"])), "secret hf_token must come from the HF_TOKEN environment variable");
  const devices = tryBlock([...svc, "deploy", "resources", "reservations", "devices"]);
  expect(/driver: nvidia/.test(devices), "GPU reservation needs driver: nvidia");
  expect(/count: (1|all)\b/.test(devices), "GPU reservation needs count 1 or all");
  expect(/capabilities: \[gpu\]/.test(devices), "GPU reservation needs capabilities: [gpu]");
  expect(/^\s+- "?8188:8188"?$/m.test(tryBlock([...svc, "ports"])), "port 8188 is not published");
  const volumes = tryBlock([...svc, "volumes"]);
  expect(/^\s+- \S+:\/workspace$/m.test(volumes), "no volume at /workspace (where start.sh keeps models)");
  expect(/^\s+- \S+:\/opt\/ComfyUI\/output$/m.test(volumes), "no volume for /opt/ComfyUI/output");
  const env = tryBlock([...svc, "environment"]);
  expect(/^\s+- HF_TOKEN$/m.test(env), "HF_TOKEN must be passed from the host without a value or default");
  expect(/^\s+- COMFYUI_AUTH_TOKEN$/m.test(env), "COMFYUI_AUTH_TOKEN must be passed from the host without a value or default");
  expect(/^\s+- STEADYDANCER_VARIANT=/m.test(env), "STEADYDANCER_VARIANT is not set");
  expect(!/HF_TOKEN[=:]\s*\S/.test(text.replace(/environment: HF_TOKEN/, "")), "HF_TOKEN must never be given a value in the compose file");
  const health = tryBlock([...svc, "healthcheck"]);
  expect(health.includes(HEALTH_URL) && /"curl", "-fsS"/.test(health), "healthcheck must curl -fsS /api/system_stats");
  for (const k of ["interval", "timeout", "start_period", "start_interval"]) expect(new RegExp(`^\\s+${k}: \\S+`, "m").test(health), `healthcheck lacks ${k}`);
  const service = tryBlock(svc);
  expect(/^\s+shm_size: \S+/m.test(service), "shm_size missing");
  expect(/^\s+restart: unless-stopped$/m.test(service), "restart must be unless-stopped");
  return problems;
}

// ---- Tests --------------------------------------------------------------------------------------------

describe("docker/Dockerfile", function () {
  describe("holds every image rule", function () {
    for (const [name, rule] of Object.entries(RULES)) {
      it(name, function () {
        assert.deepEqual(rule(PARSED), []);
      });
    }
  });

  describe("each rule fails when the Dockerfile breaks it", function () {
    const cases: [string, () => Parsed, RegExp][] = [
      ["lint", () => broken("EXPOSE 8188", "EXPOSE 8188\nHEALTHCHECK --interva=5s CMD true"), /Unknown flag: interva/],
      ["stage bases", () => broken(`FROM ${RUNTIME_IMAGE} AS final`, `FROM ${DEVEL_IMAGE} AS final`), /final stage must be FROM/],
      ["stage bases", () => broken("FROM debian:12.11-slim AS models", "FROM debian:latest AS models"), /not an exact image tag/],
      ["runtime packages: a C compiler and Python headers for Triton, no CUDA compiler", () => broken("curl ca-certificates tini", "curl ca-certificates tini build-essential"), /installs build-essential/],
      ["runtime packages: a C compiler and Python headers for Triton, no CUDA compiler", () => broken("python3.10 python3.10-dev gcc libc6-dev ffmpeg", "python3.10 ffmpeg"), /does not install gcc/],
      ["global ARGs used in a stage are declared in it", () => broken(/(AS venv\n)ARG PIP_VERSION\n/, "$1"), /uses \$\{PIP_VERSION\}.*without `ARG PIP_VERSION`/],
      ["the venv is the committed lock: hashes required, nothing resolved", () => broken("ARG TORCH_VERSION=2.5.1", "ARG TORCH_VERSION=2.6.0"), /TORCH_VERSION 2\.6\.0 is not the lock's torch 2\.5\.1/],
      ["the venv is the committed lock: hashes required, nothing resolved", () => broken("pip install --no-deps --require-hashes -r /opt/requirements/lock.txt", "pip install --no-deps -r /opt/requirements/lock.txt"), /installed without --require-hashes/],
      ["the venv is the committed lock: hashes required, nothing resolved", () => broken('pip install --no-deps \\\n        "https://github.com/Dao-AILab', 'pip install \\\n        "https://github.com/Dao-AILab'), /without --no-deps \(it would resolve\)/],
      ["the pins' requirement files are compared with the lock's inputs, and pip check fails the build", () => broken(" \\\n && collect kjnodes.txt custom_nodes/ComfyUI-KJNodes/requirements.txt", ""), /does not collect the upstream file for kjnodes\.txt/],
      ["the pins' requirement files are compared with the lock's inputs, and pip check fails the build", () => broken("bash /tmp/pip-check.sh /opt/requirements/excludes.txt", "(bash /tmp/pip-check.sh /opt/requirements/excludes.txt || true)"), /hidden/],
      ["the pins' requirement files are compared with the lock's inputs, and pip check fails the build", () => broken(/RUN --mount=type=bind,source=scripts\/compare-requirements\.sh[^\n]*\n[^\n]*\n[^\n]*\n/, ""), /compare-requirements\.sh does not run/],
      ["runtime pip installs keep the constraints", () => broken("PIP_CONSTRAINT=/opt/requirements/constraints.txt", "PIP_CONSTRAINT=/opt/constraints.txt"), /does not set PIP_CONSTRAINT/],
      ["flash-attn from its exact wheel only", () => broken(FLASH_ATTN_WHEEL, "flash-attn==2.7.4.post1"), /no pip install of|installed by name/],
      ["mmcv compiled in the builder, only the wheel copied", () => broken("FORCE_CUDA=1 ", ""), /without FORCE_CUDA=1/],
      ["mmcv compiled in the builder, only the wheel copied", () => broken("COPY --from=builder /wheels/ /tmp/wheels/", "COPY --from=builder /opt/build-venv /tmp/wheels/"), /copies more than \/wheels/],
      ["ComfyUI and every node pinned by ARG and fetched by that pin", () => broken(/ARG WANVIDEOWRAPPER_REF=\w+/, "ARG WANVIDEOWRAPPER_REF=main"), /WANVIDEOWRAPPER_REF must default to a 40-hex commit/],
      ["ComfyUI and every node pinned by ARG and fetched by that pin", () => broken(/ && fetch_node ComfyUI-KJNodes [^\n]*\n/, "\n"), /KJNODES_REF .* never used/],
      ["the Hugging Face token only as a BuildKit secret", () => broken("ARG HF_ENDPOINT=", "ARG HF_TOKEN=\nARG HF_ENDPOINT="), /ARG line \d+: HF_TOKEN would put a secret/],
      ["the Hugging Face token only as a BuildKit secret", () => broken("--mount=type=secret,id=hf_token,required=false", "--mount=type=cache,target=/root/.cache/hf"), /uses the token without --mount=type=secret/],
      ["pip and apt cache mounts", () => broken(/(ARG ENABLE_FLASH_ATTN\nRUN) --mount=type=cache,target=\/root\/.cache\/pip \\\n/, "$1 "), /pip without a \/root\/.cache\/pip cache mount/],
      ["pip and apt cache mounts", () => broken(/id=apt-lib-jammy,target=\/var\/lib\/apt,sharing=locked/, "id=apt-lib-jammy,target=/var/lib/apt"), /apt without a locked \/var\/lib\/apt/],
      ["scripts, workflows and manifest are copied last", () => broken(/(COPY workflows\/ \/opt\/steadydancer\/workflows\/\n)/, "$1RUN ls /opt\n"), /comes before a heavy step/],
      ["openssh-server for start.sh's sshd: keys only, no host keys baked in", () => broken(/ && rm -f \/etc\/ssh\/ssh_host_[^\n]*\n/, "\n"), /stay in the image/],
      ["openssh-server for start.sh's sshd: keys only, no host keys baked in", () => broken(" openssh-server", " ssh"), /does not install openssh-server/],
      ["scripts, workflows and manifest are copied last", () => broken("COPY --chmod=0755 scripts/pod-watchdog.py", "COPY --chmod=0755 scripts/watchdog.py"), /does not COPY .*pod-watchdog/],
      ["the serverless worker is copied and imported by a self-test", () => broken("from worker.handler import handler; ", ""), /imports worker\.handler/],
      ["the serverless worker is copied and imported by a self-test", () => broken("COPY worker/ ", "COPY scripts/ "), /does not COPY worker\//],
      ["healthcheck on /api/system_stats", () => broken(HEALTH_URL, "http://127.0.0.1:8188/system_stats"), /must curl -fsS/],
      ["healthcheck on /api/system_stats", () => broken("--start-period=45m", "--start-period=60s"), /too short/],
      ["EXPOSE 8188", () => broken("EXPOSE 8188", "EXPOSE 8080"), /EXPOSE 8188 missing/],
      ["OCI labels and the pins as labels", () => broken(/\s+org\.opencontainers\.image\.licenses="[^"]*" \\/, ""), /licenses missing/],
      ["OCI labels and the pins as labels", () => broken(/\s+io\.steadydancer\.kjnodes="\$\{KJNODES_REF\}" \\/, ""), /no label records KJNODES_REF/],
      ["build-time self-test fails on import errors", () => broken(/if grep -q "IMPORT FAILED"[^\n]*\n[^\n]*\n/, ""), /does not fail when the log contains IMPORT FAILED/],
      ["entrypoint, command and environment", () => broken('ENTRYPOINT ["/usr/bin/tini", "--"]', 'ENTRYPOINT ["/bin/sh", "-c"]'), /ENTRYPOINT must be tini/],
      ["optional baked models in their own small stage", () => broken("ARG BAKE_STEADYDANCER=false", "ARG BAKE_STEADYDANCER=true"), /default to false/],
    ];
    for (const [name, mutate, expected] of cases) {
      it(`${name}: ${expected.source.slice(0, 60)}`, function () {
        const rule = RULES[name];
        assert.ok(rule, `no rule ${name}`);
        const problems = rule(mutate());
        assert.ok(problems.some((m) => expected.test(m)), `expected a problem matching ${String(expected)}, got: ${JSON.stringify(problems)}`);
      });
    }
  });

  it("every RUN is valid bash", function () {
    for (const s of PARSED.stages) {
      for (const r of runs(s)) {
        const check = spawnSync("bash", ["-n", "-c", r.text], { encoding: "utf8" });
        assert.equal(check.status, 0, `line ${r.line}: ${check.stderr}`);
      }
    }
  });

  it("every RUN is shellcheck-clean (bash, with the SHELL's pipefail)", function () {
    if (spawnSync("shellcheck", ["--version"]).status !== 0) this.skip(); // shellcheck not installed (.ci/run installs it)
    for (const s of PARSED.stages) {
      for (const r of runs(s)) {
        // SC2154: ARGs arrive as environment variables. SC1091: sourced files (venv activate) exist only in the image.
        const check = spawnSync("shellcheck", ["-s", "bash", "-e", "SC2154,SC1091", "-"], {
          input: `#!/bin/bash\nset -o pipefail\n${r.text}\n`,
          encoding: "utf8",
        });
        assert.equal(check.status, 0, `line ${r.line} (stage ${s.name}):\n${check.stdout}`);
      }
    }
  });

  describe("the self-test RUN, executed with a stub python", function () {
    const CLEAN_LOG = [
      "Total VRAM 0 MB, total RAM 64000 MB",
      "",
      "Import times for custom nodes:",
      "   0.0 seconds: /opt/ComfyUI/custom_nodes/websocket_image_save.py",
      "   0.4 seconds: /opt/ComfyUI/custom_nodes/ComfyUI-KJNodes",
      "   2.1 seconds: /opt/ComfyUI/custom_nodes/ComfyUI-WanVideoWrapper",
      "",
    ].join("\n");
    let tmp = "";
    let command = "";
    before(function () {
      tmp = mkdtempSync(path.join(os.tmpdir(), "selftest-"));
      const last = finalStage(PARSED);
      const test = last && runs(last).find((r) => r.text.includes("--quick-test-for-ci"));
      assert.ok(test, "no self-test RUN");
      command = test.text.split("/tmp/").join(`${tmp}/tmp/`).split("/opt/ComfyUI").join(`${tmp}/ComfyUI`);
      writeExecutable(
        path.join(tmp, "bin", "python"),
        [
          "#!/bin/bash",
          'echo "$*" >> "$STUB_CALLS"',
          'case "$*" in',
          '  *verify-env.py*) echo "verify-env stub"; exit "${STUB_VERIFY_RC:-0}";;',
          '  *main.py*) cat "$STUB_LOG"; exit "${STUB_QUICK_RC:-0}";;',
          "esac",
          "exit 99",
          "",
        ].join("\n"),
      );
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    function selfTest(log: string, env: Record<string, string> = {}) {
      mkdirSync(path.join(tmp, "tmp"), { recursive: true });
      mkdirSync(path.join(tmp, "ComfyUI", "user"), { recursive: true });
      writeFileSync(path.join(tmp, "log.txt"), log);
      writeFileSync(path.join(tmp, "calls.txt"), "");
      const r = runBash(command, {
        cwd: path.join(tmp, "ComfyUI"),
        env: {
          PATH: `${path.join(tmp, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
          STUB_LOG: path.join(tmp, "log.txt"),
          STUB_CALLS: path.join(tmp, "calls.txt"),
          ...env,
        },
      });
      return { ...r, calls: readFileSync(path.join(tmp, "calls.txt"), "utf8") };
    }

    it("passes when every node imports, and cleans up what the test run left", function () {
      const r = selfTest(CLEAN_LOG);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.calls, /verify-env\.py --build\n.*main\.py --quick-test-for-ci --cpu/);
      assert.equal(existsSync(path.join(tmp, "ComfyUI", "user")), false, "the test run's user/ folder stays in the image");
    });

    it("fails the build and names the node when ComfyUI logs IMPORT FAILED (ComfyUI itself exits 0)", function () {
      const log = CLEAN_LOG.replace(
        "   2.1 seconds: /opt/ComfyUI/custom_nodes/ComfyUI-WanVideoWrapper",
        "   0.1 seconds (IMPORT FAILED): /opt/ComfyUI/custom_nodes/ComfyUI-WanVideoWrapper",
      );
      const r = selfTest(log);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /IMPORT FAILED\): \/opt\/ComfyUI\/custom_nodes\/ComfyUI-WanVideoWrapper/);
    });

    it("fails when the wrapper loaded but its optional SteadyDancer module did not", function () {
      const r = selfTest(CLEAN_LOG + "WanVideoWrapper WARNING: SteadyDancer nodes not available: No module named 'x'\n");
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /could not load its SteadyDancer nodes/);
    });

    it("fails when ComfyUI exits non-zero or never reaches the import summary", function () {
      const crashed = selfTest("Traceback (most recent call last):\nModuleNotFoundError: No module named 'aiohttp'\n", { STUB_QUICK_RC: "1" });
      assert.notEqual(crashed.status, 0);
      assert.match(crashed.stdout, /No module named 'aiohttp'/, "the log must be shown");
      const silent = selfTest("Total VRAM 0 MB\n");
      assert.notEqual(silent.status, 0);
      assert.match(silent.stderr, /did not reach the custom node import summary/);
    });

    it("fails before starting ComfyUI when verify-env.py --build fails", function () {
      const r = selfTest(CLEAN_LOG, { STUB_VERIFY_RC: "1" });
      assert.notEqual(r.status, 0);
      assert.doesNotMatch(r.calls, /main\.py/);
    });
  });

  describe("the sources RUN, executed with a stub git", function () {
    const PINS = {
      COMFYUI_VERSION: "v0.8.1",
      WANVIDEOWRAPPER_REF: "a".repeat(40),
      VHS_REF: "b".repeat(40),
      KJNODES_REF: "c".repeat(40),
      WANANIMATEPREPROCESS_REF: "d".repeat(40),
      WANANIMATEPREPROCESS_PR_REF: "refs/pull/21/head",
      CONTROLNET_AUX_REF: "e".repeat(40),
    };
    let tmp = "";
    let command = "";
    before(function () {
      tmp = mkdtempSync(path.join(os.tmpdir(), "sources-"));
      const stage = PARSED.stages.find((s) => runs(s).some((r) => r.text.includes("fetch_node")));
      const run = stage && runs(stage).find((r) => r.text.includes("fetch_node"));
      assert.ok(run, "no RUN fetches the nodes");
      command = run.text.split("/opt/ComfyUI").join(`${tmp}/root/ComfyUI`).split("/upstream").join(`${tmp}/root/upstream`);
      // A git that "fetches" a ref into .fetched, checks out a tree with requirement files, and reports the head:
      // a sha fetch gives that sha, a pull request ref gives STUB_PR_HEAD, a tag some commit.
      writeExecutable(path.join(tmp, "bin", "git"), [
        "#!/bin/bash",
        'echo "git $*" >> "$STUB_LOG"',
        'dir=""; if [ "$1" = "-C" ]; then dir=$2; shift 2; fi',
        'case "$1" in',
        '  init) mkdir -p "${3:-$2}" ;;',
        '  fetch) ref=${*: -1}; if [ "$ref" = "${STUB_UNFETCHABLE:-}" ]; then exit 128; fi; echo "$ref" > "$dir/.fetched" ;;',
        '  checkout) f=$(cat "$dir/.fetched"); case "$f" in refs/pull/*) echo "$STUB_PR_HEAD" ;; refs/tags/*) echo tagsha ;; *) echo "$f" ;; esac > "$dir/.head"',
        '    [ "${STUB_NO_REQ:-}" = "$(basename "$dir")" ] || echo "req-of-$(basename "$dir")" > "$dir/requirements.txt"',
        '    if [ "$(basename "$dir")" = ComfyUI ]; then echo comfyui_manager==4.0.5 > "$dir/manager_requirements.txt"; fi ;;',
        '  rev-parse) cat "$dir/.head" ;;',
        "esac",
        "",
      ].join("\n"));
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    function fetchSources(env: Record<string, string> = {}) {
      rmSync(path.join(tmp, "root"), { recursive: true, force: true });
      mkdirSync(path.join(tmp, "root"));
      writeFileSync(path.join(tmp, "log.txt"), "");
      const r = runBash(command, {
        cwd: tmp,
        env: { PATH: `${path.join(tmp, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, STUB_LOG: path.join(tmp, "log.txt"), STUB_PR_HEAD: PINS.WANANIMATEPREPROCESS_REF, ...PINS, ...env },
      });
      return { ...r, log: readFileSync(path.join(tmp, "log.txt"), "utf8") };
    }

    it("fetches each pin and collects every requirement file the lock was resolved from", function () {
      const r = fetchSources();
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.log, /fetch -q --depth 1 origin refs\/tags\/v0\.8\.1/);
      for (const sha of [PINS.WANVIDEOWRAPPER_REF, PINS.KJNODES_REF, PINS.WANANIMATEPREPROCESS_REF]) assert.match(r.log, new RegExp(`fetch -q --depth 1 origin ${sha}`));
      const upstream = readdirSync(path.join(tmp, "root", "upstream")).sort();
      assert.deepEqual(upstream, LOCK_INPUTS.filter((f) => !OWN_LOCK_INPUTS.includes(f)).sort());
      assert.equal(readFileSync(path.join(tmp, "root", "upstream", "kjnodes.txt"), "utf8"), "req-of-ComfyUI-KJNodes\n");
    });

    it("falls back to the pull request ref for WanAnimatePreprocess, and refuses a head that moved", function () {
      const fallback = fetchSources({ STUB_UNFETCHABLE: PINS.WANANIMATEPREPROCESS_REF });
      assert.equal(fallback.status, 0, fallback.stderr);
      assert.match(fallback.log, /ComfyUI-WanAnimatePreprocess fetch -q --depth 1 origin refs\/pull\/21\/head/);
      const moved = fetchSources({ STUB_UNFETCHABLE: PINS.WANANIMATEPREPROCESS_REF, STUB_PR_HEAD: "f".repeat(40) });
      assert.notEqual(moved.status, 0);
      assert.match(moved.stderr, new RegExp(`ComfyUI-WanAnimatePreprocess is at f{40}, not the pinned ${PINS.WANANIMATEPREPROCESS_REF}`));
      const unfetchable = fetchSources({ STUB_UNFETCHABLE: PINS.KJNODES_REF });
      assert.notEqual(unfetchable.status, 0, "a node without a fallback ref must stop the build");
    });

    it("stops when a node has no requirements file at its pin", function () {
      const r = fetchSources({ STUB_NO_REQ: "ComfyUI-VideoHelperSuite" });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /custom_nodes\/ComfyUI-VideoHelperSuite\/requirements\.txt does not exist at its pin \(needed for videohelpersuite\.txt\)/);
    });
  });

  describe("the model-baking RUN, executed with a stub download script", function () {
    const FAKE_TOKEN = "hf_FAKE_token_do_not_leak_123";
    let tmp = "";
    let command = "";
    before(function () {
      tmp = mkdtempSync(path.join(os.tmpdir(), "bake-"));
      const stage = PARSED.stages.find((s) => runs(s).some((r) => r.text.includes("download-models.sh")));
      const run = stage && runs(stage).find((r) => r.text.includes("download-models.sh"));
      assert.ok(run, "no RUN calls download-models.sh");
      command = run.text
        .split("/opt/steadydancer/").join("@OPT@")
        .split("/run/secrets/").join(`${tmp}/secrets/`)
        .split("/models").join(`${tmp}/models`)
        .split("@OPT@").join(`${tmp}/opt/`);
      writeExecutable(
        path.join(tmp, "opt", "scripts", "download-models.sh"),
        [
          "#!/bin/bash",
          "set -eu",
          'printf "MODELS_DIR=%s\\nMODEL_MANIFEST=%s\\nSTEADYDANCER_VARIANT=%s\\nHF_TOKEN=%s\\nHF_ENDPOINT=%s\\n" \\',
          '  "$MODELS_DIR" "$MODEL_MANIFEST" "$STEADYDANCER_VARIANT" "${HF_TOKEN:-}" "${HF_ENDPOINT:-}" > "$STUB_SEEN"',
          'mkdir -p "$MODELS_DIR/vae/wanvideo" && echo weights > "$MODELS_DIR/vae/wanvideo/Wan2_1_VAE_bf16.safetensors"',
          // The real script records the variant it installed (the fallback's, when fp8 could not be had).
          'printf "%s\\n" "${STUB_INSTALLED:-$STEADYDANCER_VARIANT}" > "$MODELS_DIR/.steadydancer-variant"',
          'exit "${STUB_DL_RC:-0}"',
          "",
        ].join("\n"),
      );
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    function bake(args: Record<string, string>, token: string | null) {
      rmSync(path.join(tmp, "models"), { recursive: true, force: true });
      rmSync(path.join(tmp, "secrets"), { recursive: true, force: true });
      rmSync(path.join(tmp, "seen.txt"), { force: true });
      if (token !== null) {
        mkdirSync(path.join(tmp, "secrets"));
        writeFileSync(path.join(tmp, "secrets", "hf_token"), token);
      }
      const r = runBash(command, {
        cwd: tmp,
        // BuildKit hands a RUN its stage's ARGs as environment variables.
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", STUB_SEEN: path.join(tmp, "seen.txt"), HF_ENDPOINT: "https://huggingface.co", ...args },
      });
      const seen = existsSync(path.join(tmp, "seen.txt")) ? readFileSync(path.join(tmp, "seen.txt"), "utf8") : null;
      return { ...r, seen };
    }

    it("without BAKE_STEADYDANCER=true leaves an empty /models and downloads nothing", function () {
      const r = bake({ BAKE_STEADYDANCER: "false", STEADYDANCER_VARIANT: "fp8" }, FAKE_TOKEN);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.seen, null, "download-models.sh ran");
      assert.deepEqual(readdirSync(path.join(tmp, "models")), []);
    });

    it("when baking, runs the download script with the variant and the token from the secret, then writes the marker", function () {
      const r = bake({ BAKE_STEADYDANCER: "true", STEADYDANCER_VARIANT: "fp16" }, FAKE_TOKEN);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.seen);
      assert.match(r.seen, new RegExp(`^MODELS_DIR=${tmp}/models$`, "m"));
      assert.match(r.seen, new RegExp(`^MODEL_MANIFEST=${tmp}/opt/models/manifest\\.json$`, "m"));
      assert.match(r.seen, /^STEADYDANCER_VARIANT=fp16$/m);
      assert.match(r.seen, new RegExp(`^HF_TOKEN=${FAKE_TOKEN}$`, "m"));
      assert.match(r.seen, /^HF_ENDPOINT=https:\/\/huggingface\.co$/m);
      assert.equal(readFileSync(path.join(tmp, "models", ".steadydancer-baked"), "utf8").trim(), "fp16");
      assert.ok(!`${r.stdout}${r.stderr}`.includes(FAKE_TOKEN), "the token was printed");
    });

    it("marks the image with the variant actually installed after an fp8 → fp16 fallback", function () {
      const r = bake({ BAKE_STEADYDANCER: "true", STEADYDANCER_VARIANT: "fp8", STUB_INSTALLED: "fp16" }, null);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(path.join(tmp, "models", ".steadydancer-baked"), "utf8").trim(), "fp16");
    });

    it("bakes public files without a token (the secret is optional)", function () {
      const r = bake({ BAKE_STEADYDANCER: "true", STEADYDANCER_VARIANT: "fp8" }, null);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.seen ?? "", /^HF_TOKEN=$/m);
    });

    it("fails the build, without a marker, when the download fails", function () {
      const r = bake({ BAKE_STEADYDANCER: "true", STEADYDANCER_VARIANT: "fp8", STUB_DL_RC: "3" }, FAKE_TOKEN);
      assert.notEqual(r.status, 0);
      assert.equal(existsSync(path.join(tmp, "models", ".steadydancer-baked")), false);
    });
  });
});

describe("docker/.dockerignore", function () {
  it("sends every file the Dockerfile copies or bind-mounts", function () {
    const needed = contextSources(PARSED).flatMap((src) =>
      src.endsWith("/") || statSync(path.join(DOCKER_DIR, src)).isDirectory()
        ? readdirSync(path.join(DOCKER_DIR, src)).filter((f) => /\.(json|txt|py)$/.test(f)).map((f) => `${src.replace(/\/?$/, "/")}${f}`)
        : [src],
    );
    for (const f of ["scripts/verify-env.py", "workflows/smoke.json", "requirements/lock.txt", "scripts/pip-check.sh", "scripts/compare-requirements.sh", "worker/handler.py"]) {
      assert.ok(needed.includes(f), `${f} is not among the context sources: ${needed.join(" ")}`);
    }
    for (const file of needed) assert.ok(inContext(DOCKERIGNORE, file), `${file} is excluded from the build context`);
  });

  it("keeps outputs, caches, .git, notes and the compose file out of the context", function () {
    for (const file of [
      "output/steadydancer/dance_00001.mp4",
      ".git/config",
      "workflows/README.md",
      "README.md",
      "docker-compose.yml",
      "scripts/__pycache__/verify-env.cpython-310.pyc",
      "worker/__pycache__/handler.cpython-310.pyc",
      "node_modules/x/index.js",
      "models/diffusion_models/big.safetensors",
    ]) {
      assert.equal(inContext(DOCKERIGNORE, file), false, `${file} would be sent to the builder`);
    }
  });

  it("the matcher follows Docker's rules (parent directories match, last pattern wins)", function () {
    assert.equal(inContext("output\n", "output/a/b.mp4"), false);
    assert.equal(inContext("*\n!scripts/a.sh\n", "scripts/a.sh"), true);
    assert.equal(inContext("*\n!scripts/a.sh\n", "scripts/b.sh"), false);
    assert.equal(inContext("**/*.pyc\n", "a/b/c.pyc"), false);
  });
});

describe("docker/docker-compose.yml", function () {
  it("builds docker/ with the args and the HF token secret, reserves a GPU, publishes 8188, keeps models and outputs", function () {
    assert.deepEqual(composeProblems(COMPOSE), []);
  });

  it("uses the same healthcheck URL as the Dockerfile", function () {
    assert.ok(DOCKERFILE.includes(HEALTH_URL) && COMPOSE.includes(HEALTH_URL));
  });

  it("reports a broken compose file", function () {
    const cases: [string, string, RegExp][] = [
      ["      - HF_TOKEN\n", "      - HF_TOKEN=hf_abc\n", /HF_TOKEN must be passed from the host/],
      ["              capabilities: [gpu]\n", "", /capabilities: \[gpu\]/],
      ["      - workspace:/workspace\n", "", /no volume at \/workspace/],
      ["    restart: unless-stopped\n", "    restart: always\n", /unless-stopped/],
      ["        - hf_token\n", "", /hf_token secret/],
    ];
    for (const [find, replace, expected] of cases) {
      assert.ok(COMPOSE.includes(find), `mutation target ${JSON.stringify(find)} missing`);
      const problems = composeProblems(COMPOSE.replace(find, replace));
      assert.ok(problems.some((m) => expected.test(m)), `expected ${String(expected)}, got ${JSON.stringify(problems)}`);
    }
  });
});
