// start.sh's sshd and watchdog steps, run for real: a stub GPU and ComfyUI as in startScript.slow.test.ts, the real
// ssh-keygen (host keys under a temporary prefix), a stub sshd on PATH, and the real pod-watchdog.py.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const SCRIPTS = path.resolve(__dirname, "../../../docker/scripts");
const START = path.join(SCRIPTS, "start.sh");

const STUB_MAIN = `import os, signal, sys, time
here = os.path.dirname(os.path.abspath(__file__))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
open(os.path.join(here, "up"), "w").write(str(os.getpid()))
while True:
    time.sleep(0.02)
`;
// Enough torch for the GPU probe of start.sh, including a later one that runs a kernel and reads the arch list.
const FAKE_TORCH = `__version__ = "2.5.1+cu124"
class version:
    cuda = "12.4"
class _Tensor:
    def __mul__(self, other):
        return self
    def sum(self):
        return self
    def item(self):
        return 16.0
def ones(n, device=None):
    return _Tensor()
class cuda:
    @staticmethod
    def init():
        return None
    @staticmethod
    def device_count():
        return 1
    @staticmethod
    def get_device_capability(index=0):
        return (8, 9)
    @staticmethod
    def get_arch_list():
        return ["sm_80", "sm_86", "sm_89", "sm_90"]
`;

// Stands in for an authenticating front (auth-proxy.py) where start.sh starts one: waits for SIGTERM.
const STUB_FRONT = `import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(0.02)
`;

interface Outcome { code: number | null; out: string }

/** A zombie counts as gone: where nothing reaps orphans (no init in a container), it lingers after its kill. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

describe("start.sh: sshd and the pod watchdog", function () {
  this.timeout(30000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let userKey: string;

  before(function () {
    const missing = ["python3", "ssh-keygen"].filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
    if (missing.length) {
      if (process.env.CI) throw new Error(`${missing.join(", ")} required for the start.sh sshd/watchdog tests`);
      this.skip(); // visibly pending: python3 or ssh-keygen (openssh-client) missing
    }
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "userkey-"));
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "user@laptop", "-f", path.join(keyDir, "id")]);
    userKey = fs.readFileSync(path.join(keyDir, "id.pub"), "utf8").trim();
    fs.rmSync(keyDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "start-ssh-"));
    const bin = path.join(dir, "bin");
    const venvBin = path.join(dir, "venv", "bin");
    const mods = path.join(dir, "mods", "torch");
    const comfy = path.join(dir, "ComfyUI");
    for (const d of [bin, venvBin, mods, path.join(comfy, "models"), path.join(dir, "keys", "etc", "ssh")]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(comfy, "main.py"), STUB_MAIN);
    fs.writeFileSync(path.join(dir, "auth-proxy.py"), STUB_FRONT);
    fs.writeFileSync(path.join(mods, "__init__.py"), FAKE_TORCH);
    fs.writeFileSync(path.join(venvBin, "python"), `#!/bin/bash\nexport PYTHONPATH="${path.join(dir, "mods")}"\nexec python3 "$@"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "nvidia-smi"), "#!/bin/bash\necho '0, NVIDIA L40S, 46068, 550.54.15'\n", { mode: 0o755 });
    // sshd daemonizes and returns at once; the stub records how it was called and whether its run dir exists.
    fs.writeFileSync(
      path.join(bin, "sshd"),
      `#!/bin/bash\n[[ -d "${path.join(dir, "run-sshd")}" ]] || { echo "Missing privilege separation directory" >&2; exit 255; }\necho "called $*" >>"${path.join(dir, "sshd-calls")}"\nexit "\${STUB_SSHD_EXIT:-0}"\n`,
      { mode: 0o755 },
    );
    const ssh = path.join(dir, "root-ssh");
    env = {
      PATH: `${bin}:/usr/bin:/bin`,
      HOME: dir,
      VENV_DIR: path.join(dir, "venv"),
      COMFYUI_DIR: comfy,
      STEADYDANCER_HOME: path.join(dir, "steadydancer"),
      WORKSPACE_DIR: path.join(dir, "workspace"),
      COMFYUI_PID_FILE: path.join(dir, "comfyui.pid"),
      SKIP_MODEL_DOWNLOAD: "1",
      SSH_AUTHORIZED_KEYS: path.join(ssh, "authorized_keys"),
      SSH_KEYGEN_PREFIX: path.join(dir, "keys"),
      SSHD_RUN_DIR: path.join(dir, "run-sshd"),
      WATCHDOG_SCRIPT: path.join(SCRIPTS, "pod-watchdog.py"),
      AUTH_PROXY: path.join(dir, "auth-proxy.py"),
      COMFYUI_AUTH_TOKEN: "front-token-for-the-stub-0123456789",
    };
  });
  const strays: number[] = [];
  afterEach(() => {
    for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs start.sh until the stub ComfyUI is up (plus `settleMs`), then stops it with SIGTERM like a pod stop. */
  function start(extra: NodeJS.ProcessEnv = {}, settleMs = 0): Promise<Outcome> {
    const upFile = path.join(dir, "ComfyUI", "up");
    fs.rmSync(upFile, { force: true });
    return new Promise((resolve, reject) => {
      const child = spawn(START, [], { env: { ...env, ...extra }, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      let upAt = 0;
      const poll = setInterval(() => {
        if (!upAt && fs.existsSync(upFile)) upAt = Date.now();
        if (upAt && Date.now() - upAt >= settleMs) {
          clearInterval(poll);
          child.kill("SIGTERM");
        }
      }, 20);
      const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`start.sh hung:\n${out}`)); }, 25000);
      // A background child that outlives start.sh keeps the pipes open: "exit" then a short grace, not "close".
      const finish = (code: number | null) => {
        clearInterval(poll);
        clearTimeout(timer);
        for (const m of out.matchAll(/watchdog: started \(PID (\d+);/g)) strays.push(Number(m[1]));
        resolve({ code, out });
      };
      child.on("exit", (code) => setTimeout(() => finish(code), 1000).unref());
      child.on("close", (code) => finish(code));
    });
  }

  const hostKeys = () => fs.readdirSync(path.join(dir, "keys", "etc", "ssh")).filter((f) => f.endsWith("_key.pub")).sort();
  const sshdCalls = () => (fs.existsSync(path.join(dir, "sshd-calls")) ? fs.readFileSync(path.join(dir, "sshd-calls"), "utf8").trim().split("\n") : []);

  it("with PUBLIC_KEY: writes authorized_keys (no duplicates, 0600), makes host keys once, starts sshd, then ComfyUI", async () => {
    const rpKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 account@runpod";
    fs.mkdirSync(path.join(dir, "root-ssh"));
    fs.writeFileSync(path.join(dir, "root-ssh", "authorized_keys"), `${rpKey}\n`);
    const first = await start({ PUBLIC_KEY: `${userKey}\n${rpKey}\r\n` });
    assert.equal(first.code, 0, first.out);
    const authorized = fs.readFileSync(env.SSH_AUTHORIZED_KEYS ?? "", "utf8");
    assert.deepEqual(authorized.split("\n").filter(Boolean), [rpKey, userKey]);
    assert.equal(fs.statSync(env.SSH_AUTHORIZED_KEYS ?? "").mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, "root-ssh")).mode & 0o777, 0o700);
    const made = hostKeys();
    assert.ok(made.includes("ssh_host_ed25519_key.pub"), `host keys: ${made.join(", ")}`);
    const fingerprint = fs.readFileSync(path.join(dir, "keys", "etc", "ssh", "ssh_host_ed25519_key.pub"), "utf8");
    assert.equal(sshdCalls().length, 1);
    assert.match(first.out, /sshd: listening on port 22 for root with 2 key\(s\) from PUBLIC_KEY; host keys:.*\(ED25519\) SHA256:/);
    assert.ok(first.out.indexOf("sshd: listening") < first.out.indexOf("starting ComfyUI"), "sshd after ComfyUI");

    const second = await start({ PUBLIC_KEY: userKey });
    assert.equal(second.code, 0, second.out);
    assert.deepEqual(hostKeys(), made);
    assert.equal(fs.readFileSync(path.join(dir, "keys", "etc", "ssh", "ssh_host_ed25519_key.pub"), "utf8"), fingerprint, "host key changed on restart");
    assert.deepEqual(fs.readFileSync(env.SSH_AUTHORIZED_KEYS ?? "", "utf8").split("\n").filter(Boolean), [rpKey, userKey]);
    assert.equal(sshdCalls().length, 2);
  });

  it("without PUBLIC_KEY starts no sshd and says how to get one; a failing sshd does not stop ComfyUI", async () => {
    const none = await start({});
    assert.equal(none.code, 0, none.out);
    assert.deepEqual(sshdCalls(), []);
    assert.deepEqual(hostKeys(), []);
    assert.match(none.out, /sshd: not started: PUBLIC_KEY is empty \(set pod\.publicKey/);

    const failing = await start({ PUBLIC_KEY: userKey, STUB_SSHD_EXIT: "1" });
    assert.equal(failing.code, 0, failing.out);
    assert.match(failing.out, /sshd: failed to start/);
    assert.match(failing.out, /starting ComfyUI/);
  });

  it("with a limit set runs the watchdog beside ComfyUI, pointed at ComfyUI itself, and stops it on exit", async () => {
    const o = await start(
      {
        IDLE_STOP_MINUTES: "30",
        RUNPOD_POD_ID: "pod123",
        RUNPOD_API_KEY: "pod-key-secret",
        COMFYUI_INTERNAL_PORT: "8190",
        WATCHDOG_POLL_SECONDS: "0.1",
      },
      600,
    );
    assert.equal(o.code, 0, o.out);
    const pid = Number(/watchdog: started \(PID (\d+);/.exec(o.out)?.[1]);
    assert.ok(pid > 0, o.out);
    assert.match(o.out, /watchdog: watching pod pod123: idle 30 min \(queue at http:\/\/127\.0\.0\.1:8190\); then stop/);
    assert.match(o.out, /ComfyUI queue: unreachable/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(alive(pid), false, "the watchdog outlived start.sh");
    assert.doesNotMatch(o.out, /pod-key-secret/);
  });

  it("refuses to start ComfyUI when the watchdog cannot run as configured; no limit, no watchdog", async () => {
    const bad = await start({ MAX_LIFETIME_HOURS: "2", LIFETIME_ACTION: "pause", RUNPOD_POD_ID: "pod123", RUNPOD_API_KEY: "k" });
    assert.equal(bad.code, 2, bad.out);
    assert.match(bad.out, /ERROR: the pod watchdog cannot run: watchdog: ERROR: LIFETIME_ACTION must be stop or terminate, got 'pause'/);
    assert.doesNotMatch(bad.out, /starting ComfyUI/);

    const noPod = await start({ IDLE_STOP_MINUTES: "10" });
    assert.equal(noPod.code, 2, noPod.out);
    assert.match(noPod.out, /RUNPOD_POD_ID is not set/);

    const off = await start({ IDLE_STOP_MINUTES: "0", MAX_LIFETIME_HOURS: "0" });
    assert.equal(off.code, 0, off.out);
    assert.doesNotMatch(off.out, /watchdog/);
  });
});
