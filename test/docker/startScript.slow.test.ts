// docker/scripts/start.sh run for real with a stub nvidia-smi, a stub venv whose python is the real python3 over
// fake torch / flash_attn / xformers modules, and a stub ComfyUI main.py that records its argv and waits for a signal.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MODEL_VARIANTS, type ModelVariant } from "../../models";
import { ModelServer } from "../emulators/modelServer";

const SCRIPTS = path.resolve(__dirname, "../../../docker/scripts");
const START = path.join(SCRIPTS, "start.sh");

interface Gpu { name: string; mib: number }
interface Fixture {
  gpu?: Gpu | "none" | "absent";
  /** no-cuda: init fails; missing: no torch in the venv; blackwell: init passes, the first kernel fails. */
  torch?: "ok" | "no-cuda" | "missing" | "blackwell";
  /** Where the stub comfyui_manager package's prestartup_script.py reads config.ini; absent: not installed. */
  manager?: "system-user" | "legacy" | "unknown";
  flash?: boolean;
  xformers?: boolean;
  /** Exit status of the stub ComfyUI when it gets SIGTERM. */
  exitOnTerm?: number;
}
interface Recorded { argv: string[]; cwd: string; alloc: string | null; pid: number; token?: string | null; bucketSecret?: string | null }
interface FrontRecord { argv: string[]; token: string | null; auth: string | null }

const FRONT_TOKEN = "front-token-for-the-stub-0123456789";
// Stands in for auth-proxy.py: records how it was started, waits for SIGTERM; STUB_FRONT_DIES_MS ends it early.
const STUB_FRONT = `import json, os, signal, sys, time
here = os.path.dirname(os.path.abspath(__file__))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open(os.path.join(here, "front.json.tmp"), "w") as f:
    json.dump({"argv": sys.argv[1:], "token": os.environ.get("COMFYUI_AUTH_TOKEN"), "auth": os.environ.get("COMFYUI_AUTH")}, f)
os.rename(os.path.join(here, "front.json.tmp"), os.path.join(here, "front.json"))  # the test polls for it: never half-written
dies = float(os.environ.get("STUB_FRONT_DIES_MS", "0")) / 1000
start = time.time()
while not dies or time.time() - start < dies:
    time.sleep(0.02)
sys.exit(3)
`;
interface Outcome { code: number | null; stdout: string; stderr: string; record: Recorded | null; terminated: boolean }

// Stands in for docker/worker (python -m worker): records how it was started, waits for SIGTERM;
// STUB_WORKER_EXITS_MS ends it early with status 1 (as the worker does when ComfyUI never answers).
const STUB_WORKER = `import json, os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
records = os.environ["STUB_RECORDS"]
with open(os.path.join(records, "worker.json.tmp"), "w") as f:
    json.dump({"argv": sys.argv, "cwd": os.getcwd(), "comfyUrl": os.environ.get("COMFYUI_URL"),
               "bucketSecret": os.environ.get("BUCKET_SECRET_ACCESS_KEY")}, f)
os.rename(os.path.join(records, "worker.json.tmp"), os.path.join(records, "worker.json"))
exits = float(os.environ.get("STUB_WORKER_EXITS_MS", "0")) / 1000
start = time.time()
while not exits or time.time() - start < exits:
    time.sleep(0.02)
sys.exit(1)
`;
interface WorkerRecord { argv: string[]; cwd: string; comfyUrl: string | null; bucketSecret: string | null }

const STUB_MAIN = `import json, os, signal, sys, time
here = os.path.dirname(os.path.abspath(__file__))
def on_term(signum, frame):
    open(os.path.join(here, "terminated"), "w").write(str(signum))
    sys.exit(int(os.environ.get("STUB_EXIT_ON_TERM", "0")))
signal.signal(signal.SIGTERM, on_term)
record = {"argv": sys.argv[1:], "cwd": os.getcwd(), "alloc": os.environ.get("PYTORCH_CUDA_ALLOC_CONF"), "pid": os.getpid(),
          "token": os.environ.get("COMFYUI_AUTH_TOKEN"), "bucketSecret": os.environ.get("BUCKET_SECRET_ACCESS_KEY")}
with open(os.path.join(here, "record.json.tmp"), "w") as f:
    json.dump(record, f)
os.rename(os.path.join(here, "record.json.tmp"), os.path.join(here, "record.json"))
while True:
    time.sleep(0.02)
`;

const ARCHES = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"];
const FAKE_TORCH = (mode: "ok" | "no-cuda" | "blackwell"): string => `__version__ = "2.5.1+cu124"
class version:
    cuda = "12.4"
class _Tensor:
    def __mul__(self, other):
        ${mode === "blackwell" ? 'raise RuntimeError("CUDA error: no kernel image is available for execution on the device")' : "return self"}
    def sum(self):
        return self
    def item(self):
        return 16.0
def ones(n, device=None):
    return _Tensor()
class cuda:
    @staticmethod
    def init():
        ${mode === "no-cuda" ? 'raise RuntimeError("Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver")' : "return None"}
    @staticmethod
    def device_count():
        return 1
    @staticmethod
    def get_device_capability(index=0):
        return ${mode === "blackwell" ? "(12, 0)" : "(8, 9)"}
    @staticmethod
    def get_arch_list():
        return ${JSON.stringify(ARCHES)}
`;

const MANAGER_PRESTARTUP = {
  "system-user": 'manager_files_path = folder_paths.get_system_user_directory("manager")\n',
  legacy: "manager_files_path = os.path.join(folder_paths.get_user_directory(), 'default', 'ComfyUI-Manager')\n",
  unknown: "manager_files_path = somewhere()\n",
};

describe("start.sh (stub GPU tools, stub ComfyUI)", function () {
  this.timeout(20000);
  let dir: string;
  let comfy: string;

  before(function () {
    if (spawnSync("python3", ["-c", "pass"]).status !== 0) {
      if (process.env.CI) throw new Error("python3 is required to run the stub ComfyUI");
      this.skip(); // visibly pending: no python3 to run the stubs
    }
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "start-test-"));
    comfy = path.join(dir, "ComfyUI");
    fs.mkdirSync(path.join(comfy, "models"), { recursive: true });
    fs.writeFileSync(path.join(comfy, "main.py"), STUB_MAIN);
    fs.writeFileSync(path.join(dir, "auth-proxy.py"), STUB_FRONT);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function prepare(f: Fixture): NodeJS.ProcessEnv {
    const bin = path.join(dir, "bin");
    const venvBin = path.join(dir, "venv", "bin");
    const mods = path.join(dir, "mods");
    for (const d of [bin, venvBin, mods]) {
      fs.rmSync(d, { recursive: true, force: true });
      fs.mkdirSync(d, { recursive: true });
    }
    fs.rmSync(path.join(comfy, "record.json"), { force: true });
    fs.rmSync(path.join(comfy, "terminated"), { force: true });
    fs.writeFileSync(path.join(venvBin, "python"), `#!/bin/bash\nexport PYTHONPATH="${mods}"\nexec python3 "$@"\n`, { mode: 0o755 });
    const gpu = f.gpu ?? { name: "NVIDIA GeForce RTX 4090", mib: 24564 };
    if (gpu === "none") {
      fs.writeFileSync(path.join(bin, "nvidia-smi"), "#!/bin/bash\necho 'No devices were found'\nexit 6\n", { mode: 0o755 });
    } else if (gpu !== "absent") {
      fs.writeFileSync(path.join(bin, "nvidia-smi"),
        `#!/bin/bash\nif [[ "$*" == *--query-gpu=index,name,memory.total,driver_version*--format=csv,noheader,nounits* ]]; then echo '0, ${gpu.name}, ${gpu.mib}, 550.54.15'; exit 0; fi\nexit 2\n`,
        { mode: 0o755 });
    }
    const torch = f.torch ?? "ok";
    if (torch !== "missing") {
      fs.mkdirSync(path.join(mods, "torch"));
      fs.writeFileSync(path.join(mods, "torch", "__init__.py"), FAKE_TORCH(torch));
    }
    if (f.manager) {
      fs.mkdirSync(path.join(mods, "comfyui_manager"));
      fs.writeFileSync(path.join(mods, "comfyui_manager", "__init__.py"), "");
      fs.writeFileSync(path.join(mods, "comfyui_manager", "prestartup_script.py"), MANAGER_PRESTARTUP[f.manager]);
    }
    if (f.flash) {
      fs.mkdirSync(path.join(mods, "flash_attn"));
      fs.writeFileSync(path.join(mods, "flash_attn", "__init__.py"), '__version__ = "2.7.4.post1"\n');
    }
    if (f.xformers) {
      fs.mkdirSync(path.join(mods, "xformers"));
      fs.writeFileSync(path.join(mods, "xformers", "__init__.py"), '__version__ = "0.0.29.post1"\n');
      fs.writeFileSync(path.join(mods, "xformers", "ops.py"), "import torch\n");
    }
    return {
      PATH: `${bin}:/usr/bin:/bin`,
      HOME: dir,
      VENV_DIR: path.join(dir, "venv"),
      COMFYUI_DIR: comfy,
      STEADYDANCER_HOME: path.join(dir, "steadydancer"),
      WORKSPACE_DIR: path.join(dir, "workspace"),
      COMFYUI_PID_FILE: path.join(dir, "comfyui.pid"),
      SKIP_MODEL_DOWNLOAD: "1",
      AUTH_PROXY: path.join(dir, "auth-proxy.py"),
      COMFYUI_AUTH_TOKEN: FRONT_TOKEN,
      STUB_EXIT_ON_TERM: String(f.exitOnTerm ?? 0),
      STUB_RECORDS: dir,
    };
  }

  /**
   * Runs start.sh; once the stub ComfyUI is up, `whileUp` runs and then start.sh gets SIGTERM (a pod stop).
   * With `stopWhen`, the SIGTERM comes as soon as it returns true instead.
   */
  function start(env: NodeJS.ProcessEnv, whileUp?: (child: ChildProcess, rec: Recorded) => void, stopWhen?: () => boolean): Promise<Outcome> {
    const recordFile = path.join(comfy, "record.json");
    return new Promise((resolve, reject) => {
      const child = spawn(START, [], { env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
      const poll = setInterval(() => {
        if (stopWhen) {
          if (!stopWhen()) return;
        } else {
          if (!fs.existsSync(recordFile)) return;
          whileUp?.(child, JSON.parse(fs.readFileSync(recordFile, "utf8")) as Recorded);
        }
        clearInterval(poll);
        child.kill("SIGTERM");
      }, 20);
      const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`start.sh hung:\n${stdout}\n${stderr}`)); }, 15000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearInterval(poll);
        clearTimeout(timer);
        const record = fs.existsSync(recordFile) ? JSON.parse(fs.readFileSync(recordFile, "utf8")) as Recorded : null;
        resolve({ code, stdout, stderr, record, terminated: fs.existsSync(path.join(comfy, "terminated")) });
      });
    });
  }

  const flagsOf = (o: Outcome): string[] => o.record?.argv ?? [];

  it("without a usable GPU exits 1 with a clear message and never starts ComfyUI", async () => {
    const none = await start(prepare({ gpu: "none" }));
    assert.equal(none.code, 1, none.stdout + none.stderr);
    assert.match(none.stderr, /ERROR: no GPU visible: nvidia-smi failed: No devices were found\. The pod or container was started without a GPU/);
    assert.equal(none.record, null);

    const noCuda = await start(prepare({ torch: "no-cuda" }));
    assert.equal(noCuda.code, 1);
    assert.match(noCuda.stderr, /no GPU visible: PyTorch cannot initialise CUDA \(RuntimeError: Found no NVIDIA driver on your system.*driver 550\.54\.15\)/);
    assert.equal(noCuda.record, null);

    assert.doesNotMatch(noCuda.stderr, /not importable/);

    if (!fs.existsSync("/usr/bin/nvidia-smi") && !fs.existsSync("/bin/nvidia-smi")) {
      const absent = await start(prepare({ gpu: "absent" }));
      assert.equal(absent.code, 1);
      assert.match(absent.stderr, /no GPU visible: nvidia-smi is not available in the container/);
    }
  });

  it("says torch is not importable from the venv, with the import error, when torch is missing (not 'no GPU')", async () => {
    const o = await start(prepare({ torch: "missing", gpu: { name: "NVIDIA H200", mib: 143771 } }));
    assert.equal(o.code, 1, o.stdout + o.stderr);
    assert.match(o.stderr, /ERROR: PyTorch is not importable from \S*python3?\S* \(ModuleNotFoundError: No module named 'torch'\)\. The GPU is not the problem \(nvidia-smi sees NVIDIA H200, driver 550\.54\.15\)/);
    assert.match(o.stderr, /venv at .*\/venv is missing torch or is broken/);
    assert.doesNotMatch(o.stderr, /no GPU visible|started without a GPU/);
    assert.equal(o.record, null);
  });

  it("refuses a GPU this PyTorch has no kernels for (Blackwell), naming its compute capability and the supported families", async () => {
    const o = await start(prepare({ torch: "blackwell", gpu: { name: "NVIDIA GeForce RTX 5090", mib: 32607 } }));
    assert.equal(o.code, 1, o.stdout + o.stderr);
    assert.match(o.stderr, /the GPU \(NVIDIA GeForce RTX 5090, compute capability 12\.0\) cannot run this image's PyTorch 2\.5\.1\+cu124, which has kernels for sm_50,sm_60,sm_70,sm_75,sm_80,sm_86,sm_90 only: its first CUDA kernel failed \(RuntimeError: CUDA error: no kernel image is available/);
    assert.match(o.stderr, /Ampere, Ada Lovelace or Hopper/);
    assert.equal(o.record, null);
  });

  it("prints the GPU's compute capability and the architectures the PyTorch build has kernels for", async () => {
    const o = await start(prepare({}));
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /GPU compute capability: 8\.9 \(this PyTorch has kernels for sm_50,sm_60,sm_70,sm_75,sm_80,sm_86,sm_90\)/);
  });

  for (const [gpu, flag] of [
    [{ name: "NVIDIA RTX A4000", mib: 16376 }, "--lowvram"],
    [{ name: "NVIDIA GeForce RTX 4090", mib: 24564 }, "--normalvram"],
    [{ name: "NVIDIA L40S", mib: 46068 }, "--normalvram"],
    [{ name: "NVIDIA A100 80GB PCIe", mib: 81920 }, "--highvram"],
  ] as const) {
    it(`picks ${flag} for ${gpu.name} (${gpu.mib} MiB) and starts ComfyUI on 127.0.0.1:8189`, async () => {
      const o = await start(prepare({ gpu }));
      assert.equal(o.code, 0, o.stdout + o.stderr);
      const argv = flagsOf(o);
      assert.deepEqual(argv.slice(0, 4), ["--listen", "127.0.0.1", "--port", "8189"]);
      assert.deepEqual(argv.filter((a) => /^--(low|normal|high)vram$/.test(a)), [flag]);
      assert.match(o.stdout, new RegExp(`GPU: ${gpu.name}, ${gpu.mib} MiB, driver 550\\.54\\.15`));
      assert.match(o.stdout, new RegExp(`VRAM: ${flag} \\(`));
      assert.equal(o.record?.cwd, comfy);
    });
  }

  describe("authenticating front", () => {
    const front = (): FrontRecord | null => {
      const file = path.join(dir, "front.json");
      return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as FrontRecord) : null;
    };

    // Both processes are up (the front starts first, but its interpreter may come up later than ComfyUI's).
    const bothUp = () => front() !== null && fs.existsSync(path.join(comfy, "record.json"));

    it("puts the front on 0.0.0.0:8188 before ComfyUI on loopback; the token reaches the front's env only, never argv or logs", async () => {
      const o = await start(prepare({}), undefined, bothUp);
      assert.equal(o.code, 0, o.stdout + o.stderr);
      assert.deepEqual(front()?.argv, ["--listen", "0.0.0.0", "--port", "8188", "--upstream", "http://127.0.0.1:8189"]);
      assert.equal(front()?.token, FRONT_TOKEN);
      assert.equal(o.record?.token ?? null, null, "ComfyUI (and its custom nodes) do not get the token");
      assert.ok(!(o.stdout + o.stderr).includes(FRONT_TOKEN), "the token is printed");
      assert.match(o.stdout, /starting the front on 0\.0\.0\.0:8188 for ComfyUI on 127\.0\.0\.1:8189 \(token required\)/);
    });

    it("refuses to start without a token before any GPU or model work, unless COMFYUI_AUTH=off", async () => {
      for (const token of [undefined, "short"]) {
        const env = { ...prepare({}), COMFYUI_AUTH_TOKEN: token };
        if (token === undefined) delete env.COMFYUI_AUTH_TOKEN;
        const o = await start(env);
        assert.equal(o.code, 2);
        assert.match(o.stderr, /COMFYUI_AUTH_TOKEN is unset or shorter than 16 characters: ComfyUI is not served without authentication/);
        assert.doesNotMatch(o.stdout, /GPU:/, "stops before the GPU probe");
        assert.equal(o.record, null);
        assert.equal(front(), null);
      }
      const env: NodeJS.ProcessEnv = { ...prepare({}), COMFYUI_AUTH: "off" };
      delete env.COMFYUI_AUTH_TOKEN;
      const open = await start(env, undefined, bothUp);
      assert.equal(open.code, 0, open.stdout + open.stderr);
      assert.equal(front()?.auth, "off");
      assert.match(open.stdout, /NO authentication/);
      assert.deepEqual(flagsOf(open).slice(0, 4), ["--listen", "127.0.0.1", "--port", "8189"], "ComfyUI stays on loopback");
      const bad = await start({ ...prepare({}), COMFYUI_AUTH: "none" });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /COMFYUI_AUTH must be token or off/);
    });

    it("stops ComfyUI and exits non-zero when the front dies, so the container restarts", async () => {
      const o = await start({ ...prepare({}), STUB_FRONT_DIES_MS: "300" }, undefined, () => false);
      assert.equal(o.code, 1, o.stdout + o.stderr);
      assert.ok(o.terminated, "ComfyUI got SIGTERM");
      assert.match(o.stdout, /the front exited \(status 3\): stopping ComfyUI/);
    });

    it("stops the front too on SIGTERM", async () => {
      const o = await start(prepare({}));
      assert.equal(o.code, 0, o.stdout + o.stderr);
      assert.doesNotMatch(o.stdout, /the front exited/);
    });
  });

  describe("MODE=serverless", () => {
    const workerRecord = (): WorkerRecord | null => {
      const file = path.join(dir, "worker.json");
      return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as WorkerRecord) : null;
    };
    const bothUp = () => workerRecord() !== null && fs.existsSync(path.join(comfy, "record.json"));
    const SECRET = "bucket-secret-for-the-stub-0123";

    function serverless(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
      const env: NodeJS.ProcessEnv = { ...prepare({}), MODE: "serverless", BUCKET_SECRET_ACCESS_KEY: SECRET, ...extra };
      delete env.COMFYUI_AUTH_TOKEN;
      const home = path.join(dir, "steadydancer", "worker");
      fs.mkdirSync(home, { recursive: true });
      fs.writeFileSync(path.join(home, "__main__.py"), STUB_WORKER);
      return env;
    }

    it("runs ComfyUI on loopback and the worker beside it; no front, no token needed, no sshd or watchdog even when asked for", async () => {
      const o = await start(serverless({ PUBLIC_KEY: "ssh-ed25519 AAAA user@laptop", IDLE_STOP_MINUTES: "10" }), undefined, bothUp);
      assert.equal(o.code, 0, o.stdout + o.stderr);
      assert.deepEqual(flagsOf(o).slice(0, 4), ["--listen", "127.0.0.1", "--port", "8189"]);
      const worker = workerRecord();
      assert.deepEqual(worker?.argv.slice(1), [], "python -u -m worker, no arguments");
      assert.equal(worker?.cwd, path.join(dir, "steadydancer"));
      assert.equal(worker?.comfyUrl, "http://127.0.0.1:8189");
      assert.equal(worker?.bucketSecret, SECRET, "the worker gets the bucket keys");
      assert.equal(o.record?.bucketSecret ?? null, null, "ComfyUI and its custom nodes do not");
      assert.ok(!fs.existsSync(path.join(dir, "front.json")), "no authenticating front");
      assert.match(o.stdout, /MODE=serverless: no authenticating front, no sshd, no watchdog/);
      assert.doesNotMatch(o.stdout, /sshd:|watchdog: started/);
      assert.match(o.stdout, /starting ComfyUI: [\s\S]*starting the serverless worker \(python -m worker in .*steadydancer\) for ComfyUI on 127\.0\.0\.1:8189/);
      assert.ok(!(o.stdout + o.stderr).includes(SECRET), "the bucket secret is printed");
    });

    it("stops ComfyUI and exits non-zero when the worker ends (e.g. ComfyUI never answered it)", async () => {
      const o = await start(serverless({ STUB_WORKER_EXITS_MS: "300" }), undefined, () => false);
      assert.equal(o.code, 1, o.stdout + o.stderr);
      assert.ok(o.terminated, "ComfyUI got SIGTERM");
      assert.match(o.stdout, /the worker exited \(status 1\): stopping ComfyUI/);
    });

    it("refuses an unknown MODE, and MODE=serverless without the worker, before any GPU work", async () => {
      const unknown = await start({ ...prepare({}), MODE: "severless" });
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /MODE must be pod \(ComfyUI behind the authenticating front\) or serverless \(a RunPod queue worker\), got 'severless'/);
      assert.doesNotMatch(unknown.stdout, /GPU:/);
      assert.equal(unknown.record, null);
      const env = serverless();
      fs.rmSync(path.join(dir, "steadydancer", "worker"), { recursive: true });
      const none = await start(env);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /MODE=serverless but there is no worker at .*steadydancer\/worker/);
      assert.equal(none.record, null);
    });
  });

  it("uses flash attention when flash_attn imports, xformers when only it does, else PyTorch SDPA", async () => {
    const flash = await start(prepare({ flash: true, xformers: true }));
    assert.equal(flash.code, 0, flash.stderr);
    assert.ok(flagsOf(flash).includes("--use-flash-attention"));
    assert.ok(!flagsOf(flash).includes("--disable-xformers"));
    assert.match(flash.stdout, /attention: flash --use-flash-attention \(flash_attn 2\.7\.4\.post1 imports\)/);

    const xformers = await start(prepare({ xformers: true }));
    assert.equal(xformers.code, 0, xformers.stderr);
    assert.deepEqual(flagsOf(xformers).filter((a) => /attention|xformers/.test(a)), []);
    assert.match(xformers.stdout, /attention: xformers \(no flag\) \(xformers 0\.0\.29\.post1 imports; ComfyUI uses it by default; flash_attn does not \(ModuleNotFoundError: No module named 'flash_attn'\)\)/);

    const sdpa = await start(prepare({}));
    assert.equal(sdpa.code, 0, sdpa.stderr);
    assert.deepEqual(flagsOf(sdpa).filter((a) => /attention|xformers/.test(a)), ["--use-pytorch-cross-attention", "--disable-xformers"]);
    assert.match(sdpa.stdout, /attention: sdpa .*neither flash_attn .* nor xformers .* imports/);
  });

  it("refuses ATTENTION_MODE=flash when flash_attn does not import", async () => {
    const o = await start({ ...prepare({ xformers: true }), ATTENTION_MODE: "flash" });
    assert.equal(o.code, 1);
    assert.match(o.stderr, /ATTENTION_MODE=flash but flash_attn does not import: ModuleNotFoundError/);
    assert.equal(o.record, null);
  });

  it("sets PYTORCH_CUDA_ALLOC_CONF unless given, and appends COMFYUI_ARGS", async () => {
    const defaulted = await start({ ...prepare({}), COMFYUI_ARGS: "--preview-method auto --verbose" });
    assert.equal(defaulted.record?.alloc, "expandable_segments:True");
    assert.deepEqual(flagsOf(defaulted).slice(-3), ["--preview-method", "auto", "--verbose"]);
    const given = await start({ ...prepare({}), PYTORCH_CUDA_ALLOC_CONF: "max_split_size_mb:512" });
    assert.equal(given.record?.alloc, "max_split_size_mb:512");
  });

  it("forwards SIGTERM to ComfyUI, exits with its status, and keeps its PID in the PID file while it runs", async () => {
    const pidFile = path.join(dir, "comfyui.pid");
    let pidWhileUp = "";
    const o = await start(prepare({ exitOnTerm: 7 }), () => { pidWhileUp = fs.readFileSync(pidFile, "utf8").trim(); });
    assert.equal(pidWhileUp, String(o.record?.pid), "the PID file names the ComfyUI process");
    assert.ok(o.terminated, "the stub ComfyUI received SIGTERM");
    assert.equal(o.code, 7, o.stdout + o.stderr);
    assert.match(o.stdout, /SIGTERM received: stopping PID \d+[\s\S]*ComfyUI exited with status 7/);
    assert.ok(!fs.existsSync(pidFile), "the PID file is removed once ComfyUI is gone");
  });

  it("sets ComfyUI-Manager offline where the installed Manager reads it, keeping other settings, and enables it", async () => {
    const current = path.join(comfy, "user", "__manager", "config.ini");
    const legacy = path.join(comfy, "user", "default", "ComfyUI-Manager", "config.ini");
    fs.mkdirSync(path.dirname(current), { recursive: true });
    fs.writeFileSync(current, "[default]\nnetwork_mode = public\nsecurity_level = normal\n");
    const now = await start(prepare({ manager: "system-user" }));
    assert.equal(now.code, 0, now.stderr);
    assert.equal(fs.readFileSync(current, "utf8"), "[default]\nnetwork_mode = offline\nsecurity_level = normal\n");
    assert.ok(!fs.existsSync(path.dirname(legacy)), "no second config for a Manager that does not read it");
    assert.ok(flagsOf(now).includes("--enable-manager"));
    assert.match(now.stdout, /ComfyUI-Manager: network_mode = offline in .*user\/__manager\/config\.ini \(where the installed Manager reads it\)/);

    // A Manager that reads the old location gets its config there, and only there.
    fs.rmSync(path.join(comfy, "user"), { recursive: true });
    const old = await start(prepare({ manager: "legacy" }));
    assert.equal(old.code, 0, old.stderr);
    assert.equal(fs.readFileSync(legacy, "utf8"), "[default]\nnetwork_mode = offline\n");
    assert.ok(!fs.existsSync(path.dirname(current)));
  });

  it("links the DWPose checkpoints from the models folder to where the pose alignment loads them", async () => {
    const models = path.join(dir, "volume-models");
    fs.mkdirSync(path.join(models, "detection", "dwpose"), { recursive: true });
    fs.writeFileSync(path.join(models, "detection", "dwpose", "dw-ll_ucoco_384.pth"), "weights");
    const steadydancer = path.join(comfy, "custom_nodes", "ComfyUI-WanAnimatePreprocess", "steadydancer");
    fs.mkdirSync(steadydancer, { recursive: true });
    const o = await start({ ...prepare({}), MODELS_DIR: models });
    assert.equal(o.code, 0, o.stderr);
    const link = path.join(steadydancer, "pretrained_weights", "dwpose", "dw-ll_ucoco_384.pth");
    assert.equal(fs.readFileSync(link, "utf8"), "weights");
    assert.equal(fs.readlinkSync(link), path.join(models, "detection", "dwpose", "dw-ll_ucoco_384.pth"));
    assert.match(o.stdout, /DWPose: 1 checkpoint\(s\) from .*detection\/dwpose linked into .*steadydancer\/pretrained_weights\/dwpose/);
  });

  it("without the Manager writes no config and passes no --enable-manager; an unknown Manager stops the start", async () => {
    const none = await start(prepare({}));
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /ComfyUI-Manager: not installed, nothing to set/);
    assert.ok(!flagsOf(none).includes("--enable-manager"));
    assert.ok(!fs.existsSync(path.join(comfy, "user")));

    const unknown = await start(prepare({ manager: "unknown" }));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /ComfyUI-Manager is installed but reads its config\.ini from a place this script does not know/);
    assert.equal(unknown.record, null);
  });

  describe("models", () => {
    let server: ModelServer;
    beforeEach(async () => { server = await ModelServer.start(); });
    afterEach(async () => { await server.close(); });

    function manifestFor(files: Array<{ id: string; path: string; target: string; data: Buffer }>, fallbacks: Partial<Record<ModelVariant, ModelVariant>> = {}): string {
      const file = path.join(dir, "manifest.json");
      const variants = Object.fromEntries(MODEL_VARIANTS.map((v) => [v, { description: v, minVramGb: 24, fallback: fallbacks[v] ?? null }]));
      fs.writeFileSync(file, JSON.stringify({
        schemaVersion: 1,
        variants,
        files: files.map((f) => {
          server.host({ repo: "org/models", path: f.path, data: f.data });
          return {
            id: f.id, variants: ["*"], repo: "org/models", revision: "main", path: f.path,
            url: `https://huggingface.co/org/models/resolve/main/${f.path}`, target: f.target,
            size: f.data.length, sizeEstimate: f.data.length, sha256: createHash("sha256").update(f.data).digest("hex"),
          };
        }),
      }));
      return file;
    }

    function downloadEnv(manifest: string): NodeJS.ProcessEnv {
      const env = prepare({});
      delete env.SKIP_MODEL_DOWNLOAD;
      fs.mkdirSync(env.WORKSPACE_DIR ?? "", { recursive: true });
      return {
        ...env, MODEL_MANIFEST: manifest, DOWNLOAD_MODELS_SCRIPT: path.join(SCRIPTS, "download-models.sh"),
        HF_ENDPOINT: server.endpoint, DOWNLOAD_RETRY_WAIT: "1", DOWNLOAD_MAX_TRIES: "2", DOWNLOAD_SUMMARY_INTERVAL: "0",
      };
    }

    it("when not baked, fetches the models onto the volume and maps every model folder there for ComfyUI", async function () {
      if (spawnSync("sh", ["-c", "command -v aria2c && command -v jq"]).status !== 0) {
        if (process.env.CI) throw new Error("aria2c and jq are required in CI");
        return this.skip();
      }
      const dit = randomBytes(256 * 1024);
      const yolo = randomBytes(64 * 1024);
      const env = downloadEnv(manifestFor([
        { id: "dit", path: "SteadyDancer/dit.safetensors", target: "diffusion_models/WanVideo/SteadyDancer", data: dit },
        { id: "yolo", path: "det/yolov10m.onnx", target: "detection/onnx", data: yolo },
      ]));
      const o = await start(env);
      assert.equal(o.code, 0, o.stdout + o.stderr);
      const volume = path.join(dir, "workspace", "models");
      assert.deepEqual(fs.readFileSync(path.join(volume, "diffusion_models/WanVideo/SteadyDancer/dit.safetensors")), dit);
      assert.deepEqual(fs.readFileSync(path.join(volume, "detection/onnx/yolov10m.onnx")), yolo);
      assert.match(o.stdout, /models: fetching into .*workspace\/models[\s\S]*download-models: all 2 files of variant fp8 are present[\s\S]*starting ComfyUI/);

      const yaml = fs.readFileSync(path.join(comfy, "extra_model_paths.yaml"), "utf8");
      assert.match(yaml, new RegExp(`^steadydancer_models:\\n  base_path: "${fs.realpathSync(volume)}"$`, "m"));
      const mapped = [...yaml.matchAll(/^ {2}([a-z_]+): ([a-z_]+)$/gm)].map((m) => [m[1], m[2]]);
      for (const folder of ["diffusion_models", "text_encoders", "vae", "clip_vision", "loras", "detection", "unet", "clip", "checkpoints"]) {
        assert.ok(mapped.some(([k, v]) => k === folder && v === folder), `${folder} is not mapped:\n${yaml}`);
      }

      // Second start on the same volume: nothing is fetched again.
      const requests = server.requests.length;
      fs.rmSync(path.join(comfy, "record.json"));
      const again = await start(env);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.equal(server.requests.length, requests);
    });

    it("with the baked marker fetches nothing and writes no volume mapping, unless another variant is asked for", async () => {
      const env = downloadEnv(manifestFor([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data: randomBytes(1000) }]));
      fs.writeFileSync(path.join(comfy, "models", ".steadydancer-baked"), "fp8\n");
      const o = await start(env);
      assert.equal(o.code, 0, o.stderr);
      assert.match(o.stdout, /models: fp8 variant is baked into the image/);
      assert.equal(server.requests.length, 0);
      assert.ok(!fs.existsSync(path.join(comfy, "extra_model_paths.yaml")));

      // Asking for another variant than the baked one fetches it onto the volume.
      fs.rmSync(path.join(comfy, "record.json"));
      const other = await start({ ...env, STEADYDANCER_VARIANT: "fp16" });
      assert.equal(other.code, 0, other.stdout + other.stderr);
      assert.match(other.stdout, /models: fetching into .*workspace\/models/);
      assert.equal(fs.readFileSync(path.join(dir, "workspace", "models", ".steadydancer-variant"), "utf8"), "fp16\n");
    });

    it("takes a baked fp16 (the build fell back from fp8) as serving STEADYDANCER_VARIANT=fp8: no 33 GB download at each start", async () => {
      const env = downloadEnv(manifestFor([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data: randomBytes(1000) }],
        { fp8: "fp16" }));
      fs.writeFileSync(path.join(comfy, "models", ".steadydancer-baked"), "fp16\n");
      const o = await start({ ...env, STEADYDANCER_VARIANT: "fp8" });
      assert.equal(o.code, 0, o.stdout + o.stderr);
      assert.match(o.stdout, /models: fp16 is baked into the image \(.*\.steadydancer-baked\), the manifest's fallback of the requested fp8: the build fell back to it, nothing to fetch/);
      assert.equal(server.requests.length, 0, "not even a HEAD");
      assert.ok(!fs.existsSync(path.join(dir, "workspace", "models")), "nothing written to the volume");
      assert.ok(o.record, "ComfyUI started");

      // A baked variant that is not the requested one's fallback does not stand in for it.
      fs.rmSync(path.join(comfy, "record.json"));
      fs.writeFileSync(path.join(comfy, "models", ".steadydancer-baked"), "fp8\n");
      const other = await start({ ...env, STEADYDANCER_VARIANT: "fp16" });
      assert.equal(other.code, 0, other.stdout + other.stderr);
      assert.match(other.stdout, /models: STEADYDANCER_VARIANT=fp16 but the image has fp8 baked in, which does not stand in for it \(the manifest's fallback of fp16 is none\)/);
      assert.match(other.stdout, /models: fetching into .*workspace\/models/);
      assert.equal(fs.readFileSync(path.join(dir, "workspace", "models", ".steadydancer-variant"), "utf8"), "fp16\n");
    });

    it("stops cleanly on SIGTERM during the download, keeping the partial file for the next start", async () => {
      await server.close();
      server = await ModelServer.start({ bytesPerSecondPerConnection: 512 * 1024 });
      const env = downloadEnv(manifestFor([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data: randomBytes(2 * 1024 * 1024) }]));
      const part = path.join(dir, "workspace", "models", "diffusion_models", "dit.safetensors.part");
      const o = await start(env, undefined, () => fs.existsSync(part) && fs.statSync(part).size > 0);
      assert.equal(o.code, 143, o.stdout + o.stderr);
      assert.match(o.stdout, /SIGTERM received: stopping PID \d+/);
      assert.match(o.stderr, /download-models: ERROR: interrupted by SIGTERM; partial downloads are kept[\s\S]*model download failed \(exit 143\): ComfyUI not started/);
      assert.equal(o.record, null, "ComfyUI never started");
      assert.ok(fs.existsSync(part));
    });

    it("does not start ComfyUI when the download fails, and exits with the download's status", async () => {
      const env = downloadEnv(manifestFor([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data: randomBytes(1000) }]));
      const manifest = JSON.parse(fs.readFileSync(env.MODEL_MANIFEST ?? "", "utf8")) as { files: Array<{ path: string }> };
      const first = manifest.files[0];
      assert.ok(first);
      first.path = "gone.safetensors";
      fs.writeFileSync(env.MODEL_MANIFEST ?? "", JSON.stringify(manifest));
      const o = await start(env);
      assert.equal(o.code, 4, o.stdout + o.stderr);
      assert.match(o.stderr, /download-models: ERROR: dit: not found at[\s\S]*start: ERROR: model download failed \(exit 4\): ComfyUI not started/);
      assert.equal(o.record, null);
    });
  });
});
