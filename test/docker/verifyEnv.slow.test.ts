// docker/scripts/verify-env.py run for real with python3 against stub packages (fake torch, flash_attn,
// mmcv, ...) written to a temp dir that is first on PYTHONPATH, so no GPU or real torch is needed.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { z } from "zod";

const ROOT = path.resolve(__dirname, "../../..");
const SCRIPT = path.join(ROOT, "docker", "scripts", "verify-env.py");
const FLASH_ATTN_WHEEL =
  "https://github.com/Dao-AILab/flash-attention/releases/download/v2.7.4.post1/" +
  "flash_attn-2.7.4.post1+cu12torch2.5cxx11abiFALSE-cp310-cp310-linux_x86_64.whl";

/** Module path (dots) -> file body; `null` removes a module from the default set. */
type Stubs = Record<string, string | null>;

const moduleVersion = (v: string) => `__version__ = ${JSON.stringify(v)}\n`;

/** A healthy image: every piece present at the pinned versions, CUDA available when STUB_CUDA=1. */
const HEALTHY: Stubs = {
  torch: 'from . import version, cuda\n__version__ = "2.5.1+cu124"\n',
  "torch.version": 'cuda = "12.4"\n',
  "torch.cuda": [
    "import os",
    "def is_available():",
    '    return os.environ.get("STUB_CUDA") == "1"',
    "def device_count():",
    "    return 1 if is_available() else 0",
    "def get_device_name(index=0):",
    '    return "NVIDIA L40S"',
    "",
  ].join("\n"),
  numpy: moduleVersion("1.26.4"),
  flash_attn: moduleVersion("2.7.4.post1"),
  xformers: moduleVersion("0.0.29.post1"),
  onnxruntime: moduleVersion("1.20.1") + 'def get_available_providers():\n    return ["CUDAExecutionProvider", "CPUExecutionProvider"]\n',
  mmcv: moduleVersion("2.1.0"),
  "mmcv._ext": "# the compiled ops\n",
  "mmcv.ops": "from mmcv import _ext\n",
  mmengine: moduleVersion("0.10.7"),
  mmdet: moduleVersion("3.3.0"),
  mmpose: moduleVersion("1.3.2"),
  moviepy: moduleVersion("2.2.1"),
  comfyui_manager: "",
  "comfyui_manager.prestartup_script": 'manager_files_path = folder_paths.get_system_user_directory("manager")\n',
};

/** ComfyUI-WanAnimatePreprocess's DWPose alignment module, as far as verify-env.py cares: what it imports. */
const POSE_ALIGN = 'import moviepy\nprint("@@device:cpu")\n';

/** Modules that have submodules become packages (dir/__init__.py), the rest single files. */
function writeStubs(dir: string, stubs: Stubs): void {
  const names = Object.keys(stubs).filter((n) => stubs[n] !== null);
  const packages = new Set(names.flatMap((n) => n.split(".").slice(0, -1).map((_, i, p) => p.slice(0, i + 1).join("."))));
  for (const name of names) {
    const parts = name.split(".");
    const isPackage = packages.has(name);
    const file = isPackage ? path.join(dir, ...parts, "__init__.py") : path.join(dir, ...parts) + ".py";
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, stubs[name] ?? "");
  }
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

const jsonReport = z.object({
  mode: z.enum(["build", "runtime"]),
  ok: z.boolean(),
  checks: z.array(
    z.object({
      name: z.string(),
      status: z.enum(["ok", "missing", "wrong", "skipped"]),
      required: z.boolean(),
      detail: z.string(),
      fix: z.string(),
    }),
  ),
});

describe("verify-env.py (stub packages, real python3)", function () {
  let work = "";
  /** The interpreter itself, not a version-manager shim in front of it: each run then starts faster. */
  let python = "";

  before(function () {
    const probe = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
    python = probe.status === 0 ? probe.stdout.trim() : "";
    work = mkdtempSync(path.join(os.tmpdir(), "verify-env-"));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  beforeEach(function () {
    if (!python) this.skip(); // no python3 on this machine: the script cannot be run
  });

  let counter = 0;
  function run(args: string[], opts: { stubs?: Stubs; env?: Record<string, string>; poseAlign?: string | null } = {}): Run {
    const dir = path.join(work, `site-${counter++}`);
    writeStubs(dir, { ...HEALTHY, ...(opts.stubs ?? {}) });
    const comfy = path.join(dir, "ComfyUI");
    const steadydancer = path.join(comfy, "custom_nodes", "ComfyUI-WanAnimatePreprocess", "steadydancer");
    mkdirSync(steadydancer, { recursive: true });
    if (opts.poseAlign !== null) writeFileSync(path.join(steadydancer, "pose_align.py"), opts.poseAlign ?? POSE_ALIGN);
    const cc = path.join(dir, "cc-ok");
    writeFileSync(cc, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const r = spawnSync(python, [SCRIPT, ...args], {
      encoding: "utf8",
      timeout: 15_000,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        PYTHONPATH: dir,
        PYTHONNOUSERSITE: "1",
        PYTHONDONTWRITEBYTECODE: "1",
        ENABLE_FLASH_ATTN: "true",
        ENABLE_MMPOSE: "true",
        STUB_CUDA: "1",
        COMFYUI_DIR: comfy,
        CC: cc,
        ...(opts.env ?? {}),
      },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** The report line for one piece, e.g. "ok       torch       required  2.5.1+cu124 (CUDA build 12.4)". */
  function line(out: string, name: string): string {
    const found = out.split("\n").find((l) => l.split(/\s+/)[1] === name);
    assert.ok(found, `no line for ${name} in:\n${out}`);
    return found;
  }

  it("passes at build and at runtime when every piece is present, one line per piece", function () {
    for (const mode of ["--build", "--runtime"]) {
      const r = run([mode]);
      assert.equal(r.status, 0, `${mode}: ${r.stdout}${r.stderr}`);
      assert.match(line(r.stdout, "torch"), /^ok\s+torch\s+required\s+2\.5\.1\+cu124 \(CUDA build 12\.4\)/);
      assert.match(line(r.stdout, "numpy"), /^ok\s+numpy\s+required\s+1\.26\.4/);
      assert.match(line(r.stdout, "flash_attn"), /^ok\s+flash_attn\s+required\s+2\.7\.4\.post1/);
      assert.match(line(r.stdout, "xformers"), /^ok\s+xformers\s+optional/);
      assert.match(line(r.stdout, "mmcv.ops"), /^ok\s+mmcv\.ops\s+required/);
      for (const mm of ["mmengine", "mmdet", "mmpose"]) assert.match(line(r.stdout, mm), /^ok\s/);
      assert.equal(r.stderr, "");
    }
    assert.match(line(run(["--runtime"]).stdout, "cuda"), /^ok\s+cuda\s+required\s+1 device\(s\): NVIDIA L40S/);
  });

  it("fails naming flash_attn and its exact wheel when it is missing while ENABLE_FLASH_ATTN=true", function () {
    const r = run(["--build"], { stubs: { flash_attn: null } });
    assert.equal(r.status, 1);
    assert.match(line(r.stdout, "flash_attn"), /^missing\s+flash_attn\s+required/);
    assert.match(r.stderr, /REQUIRED flash_attn is missing/);
    assert.ok(r.stderr.includes(FLASH_ATTN_WHEEL), r.stderr);
    assert.match(r.stderr, /never plain `pip install flash-attn`/);

    const off = run(["--build"], { stubs: { flash_attn: null }, env: { ENABLE_FLASH_ATTN: "false" } });
    assert.equal(off.status, 0, off.stderr);
    assert.match(line(off.stdout, "flash_attn"), /^skipped\s+flash_attn\s+optional/);
  });

  it("reports a flash_attn that is installed but cannot load (e.g. ABI mismatch) with the loader's error", function () {
    const broken = 'raise OSError("flash_attn_2_cuda.so: undefined symbol: _ZN3c105ErrorC2E")\n';
    const r = run(["--build"], { stubs: { flash_attn: broken } });
    assert.equal(r.status, 1);
    assert.match(line(r.stdout, "flash_attn"), /OSError: flash_attn_2_cuda\.so: undefined symbol/);
  });

  it("fails naming mmcv.ops when mmcv has no compiled ops (mmcv._ext) while ENABLE_MMPOSE=true", function () {
    const r = run(["--build"], { stubs: { "mmcv._ext": null, "mmcv.ops": "from mmcv import _ext\n" } });
    assert.equal(r.status, 1);
    assert.match(line(r.stdout, "mmcv"), /^ok\s+mmcv\s+required\s+2\.1\.0/);
    assert.match(line(r.stdout, "mmcv.ops"), /^missing\s+mmcv\.ops\s+required\s+compiled ops not importable/);
    assert.match(r.stderr, /REQUIRED mmcv\.ops is missing.*MMCV_WITH_OPS=1/);

    const off = run(["--build"], { stubs: { "mmcv._ext": null }, env: { ENABLE_MMPOSE: "false" } });
    assert.equal(off.status, 0, off.stderr);
  });

  it("fails on an mmpose stack at the wrong version", function () {
    const r = run(["--build"], { stubs: { mmdet: moduleVersion("3.2.0") } });
    assert.equal(r.status, 1);
    assert.match(line(r.stdout, "mmdet"), /^wrong\s+mmdet\s+required\s+3\.2\.0, expected 3\.3\.0/);
    assert.match(r.stderr, /pip install -c \/opt\/requirements\/constraints\.txt mmdet==3\.3\.0/);
  });

  it("fails when torch is not 2.5.1 or not a CUDA 12.4 build, and says how to reinstall it", function () {
    const newer = run(["--build"], { stubs: { torch: 'from . import version, cuda\n__version__ = "2.6.0+cu124"\n' } });
    assert.equal(newer.status, 1);
    assert.match(line(newer.stdout, "torch"), /^wrong\s+torch\s+required\s+2\.6\.0\+cu124 .*expected 2\.5\.1/);
    assert.match(newer.stderr, /pip install --force-reinstall --no-deps --require-hashes -r \/opt\/requirements\/lock\.txt .*torch 2\.5\.1/);

    const cu121 = run(["--build"], { stubs: { "torch.version": 'cuda = "12.1"\n' } });
    assert.equal(cu121.status, 1);
    assert.match(line(cu121.stdout, "torch"), /expected a CUDA 12\.4 build/);

    const absent = run(["--build"], { stubs: { torch: null, "torch.version": null, "torch.cuda": null } });
    assert.equal(absent.status, 1);
    assert.match(line(absent.stdout, "torch"), /^missing\s+torch\s+required\s+ModuleNotFoundError/);
  });

  it("requires a CUDA device at --runtime only", function () {
    const runtime = run(["--runtime"], { env: { STUB_CUDA: "0" } });
    assert.equal(runtime.status, 1);
    assert.match(line(runtime.stdout, "cuda"), /^missing\s+cuda\s+required\s+torch\.cuda\.is_available\(\) is False/);
    assert.match(runtime.stderr, /REQUIRED cuda is missing.*--gpus all/);

    const build = run(["--build"], { env: { STUB_CUDA: "0" } });
    assert.equal(build.status, 0, build.stderr);
    assert.match(line(build.stdout, "cuda"), /^skipped\s+cuda\s+optional.*no GPU/);

    assert.equal(run([], { env: { STUB_CUDA: "0" } }).status, 1, "runtime is the default mode");
  });

  it("fails on numpy 2 (SteadyDancer, xtcocotools and mmcv need numpy<2)", function () {
    const r = run(["--build"], { stubs: { numpy: moduleVersion("2.1.3") } });
    assert.equal(r.status, 1);
    assert.match(line(r.stdout, "numpy"), /^wrong\s+numpy\s+required\s+2\.1\.3, expected < 2/);
  });

  it("reports a CPU-only onnxruntime (pose detection would not use the GPU) without failing", function () {
    const cpuOnly = moduleVersion("1.20.1") + 'def get_available_providers():\n    return ["CPUExecutionProvider"]\n';
    const r = run(["--runtime"], { stubs: { onnxruntime: cpuOnly } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(line(r.stdout, "onnxruntime"), /^wrong\s+onnxruntime\s+optional\s+1\.20\.1 \(CPUExecutionProvider\): no CUDAExecutionProvider/);
    assert.match(line(run(["--runtime"]).stdout, "onnxruntime"), /^ok\s+onnxruntime\s+optional\s+1\.20\.1 \(CUDAExecutionProvider, CPUExecutionProvider\)/);
  });

  it("prints one JSON object with --json, with the same verdict as the exit status", function () {
    const good = run(["--build", "--json"]);
    assert.equal(good.status, 0);
    const report = jsonReport.parse(JSON.parse(good.stdout));
    assert.equal(report.mode, "build");
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ["python", "torch", "cuda", "numpy", "flash_attn", "xformers", "onnxruntime", "mmcv", "mmcv.ops", "mmengine", "mmdet", "mmpose",
        "dwpose_align", "c_compiler", "comfyui_manager"],
    );

    const bad = run(["--runtime", "--json"], { stubs: { flash_attn: null } });
    assert.equal(bad.status, 1);
    const badReport = jsonReport.parse(JSON.parse(bad.stdout));
    assert.equal(badReport.ok, false);
    const flash = badReport.checks.find((c) => c.name === "flash_attn");
    assert.equal(flash?.status, "missing");
    assert.ok(flash?.fix.includes(FLASH_ATTN_WHEEL));
  });

  it("imports the DWPose alignment module with ENABLE_MMPOSE=true and fails naming what it lacks", function () {
    const ok = run(["--build"]);
    assert.match(line(ok.stdout, "dwpose_align"), /^ok\s+dwpose_align\s+required\s+.*steadydancer\/pose_align\.py imports/);
    assert.doesNotMatch(ok.stdout, /@@device/, "the module's own print leaks into the report");

    const noMoviepy = run(["--build"], { stubs: { moviepy: null } });
    assert.equal(noMoviepy.status, 1);
    assert.match(line(noMoviepy.stdout, "dwpose_align"), /^missing\s+dwpose_align\s+required\s+pose_align does not import \(ModuleNotFoundError: No module named 'moviepy'\)/);

    const absent = run(["--build"], { poseAlign: null });
    assert.equal(absent.status, 1);
    assert.match(line(absent.stdout, "dwpose_align"), /no .*steadydancer\/pose_align\.py/);

    const off = run(["--build"], { stubs: { moviepy: null }, env: { ENABLE_MMPOSE: "false" } });
    assert.equal(off.status, 0, off.stderr);
    assert.match(line(off.stdout, "dwpose_align"), /^skipped\s+dwpose_align\s+optional/);
  });

  it("requires a C compiler that builds against Python.h (Triton's run-time builds)", function () {
    const none = run(["--build"], { env: { CC: path.join(work, "no-such-cc") } });
    assert.equal(none.status, 1);
    assert.match(line(none.stdout, "c_compiler"), /^missing\s+c_compiler\s+required\s+.*no-such-cc cannot run/);
    assert.match(none.stderr, /REQUIRED c_compiler is missing.*apt-get install gcc libc6-dev python3\.10-dev/);

    const noHeaders = path.join(work, "cc-no-python-h");
    writeFileSync(noHeaders, "#!/bin/sh\necho 'probe.c:1:10: fatal error: Python.h: No such file or directory' >&2\nexit 1\n", { mode: 0o755 });
    const r = run(["--build"], { env: { CC: noHeaders } });
    assert.equal(r.status, 1);
    assert.match(line(r.stdout, "c_compiler"), /^wrong\s+c_compiler\s+required\s+.*cannot compile against Python\.h \(probe\.c:1:10: fatal error: Python\.h/);
  });

  it("compiles against Python.h with this machine's gcc, when it has one and the headers", function () {
    const gcc = spawnSync("sh", ["-c", "command -v gcc"], { encoding: "utf8" }).stdout.trim();
    const headers = spawnSync(python, ["-c", "import os, sysconfig; print(os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"], { encoding: "utf8" }).stdout.trim();
    if (!gcc || headers !== "True") this.skip(); // no gcc or no Python.h here: the stub runs above cover the verdicts
    const r = run(["--build"], { env: { CC: gcc } });
    assert.match(line(r.stdout, "c_compiler"), /^ok\s+c_compiler\s+required\s+.*compiles against .*Python\.h/);
  });

  it("names where the installed ComfyUI-Manager reads config.ini, and fails when it cannot tell", function () {
    assert.match(line(run(["--build"]).stdout, "comfyui_manager"), /^ok\s+comfyui_manager\s+required\s+reads user\/__manager\/config\.ini/);
    const legacy = run(["--build"], { stubs: { "comfyui_manager.prestartup_script": "path = os.path.join(folder_paths.get_user_directory(), 'default', 'ComfyUI-Manager')\n" } });
    assert.match(line(legacy.stdout, "comfyui_manager"), /reads user\/default\/ComfyUI-Manager\/config\.ini/);
    const moved = run(["--build"], { stubs: { "comfyui_manager.prestartup_script": "path = somewhere_else()\n" } });
    assert.equal(moved.status, 1);
    assert.match(line(moved.stdout, "comfyui_manager"), /^wrong\s+comfyui_manager\s+required\s+.*unknown place/);
    const absent = run(["--build"], { stubs: { comfyui_manager: null, "comfyui_manager.prestartup_script": null } });
    assert.equal(absent.status, 0, absent.stderr);
    assert.match(line(absent.stdout, "comfyui_manager"), /^skipped\s+comfyui_manager\s+optional\s+not installed/);
  });

  it("rejects --build together with --runtime as a usage error (exit 2)", function () {
    const r = run(["--build", "--runtime"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not allowed with argument/);
  });
});
