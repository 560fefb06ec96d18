// docker/scripts/pod-watchdog.py run for real (python3) against the RunPod v2 emulator and a stub ComfyUI /queue,
// with second-scale limits: the pod must be stopped or terminated exactly when a limit is reached, not before.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { RunPodEmulator } from "../emulators/runpod";

const WATCHDOG = path.resolve(__dirname, "../../../docker/scripts/pod-watchdog.py");

/** GET /queue as ComfyUI answers it; `busy` puts one prompt in queue_running, `down` closes the port. */
class QueueStub {
  busy = false;
  private server?: http.Server;
  port = 0;

  async up(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      if (req.url !== "/queue") return void res.writeHead(404).end();
      const running = this.busy ? [[0, "prompt-1", {}, {}, []]] : [];
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ queue_running: running, queue_pending: [] }));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

interface Run { code: number | null; out: string; exitedAt: number }

function runWatchdog(env: Record<string, string>, limitMs: number): { done: Promise<Run>; startedAt: number } {
  const startedAt = Date.now();
  const child = spawn("python3", [WATCHDOG], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<Run>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, exitedAt: Date.now() });
    });
  });
  return { done, startedAt };
}

describe("pod-watchdog.py (RunPod v2 emulator, stub ComfyUI queue)", function () {
  this.timeout(20000);
  let emu: RunPodEmulator;
  let comfy: QueueStub;
  let podId: string;

  before(function () {
    if (spawnSync("python3", ["-c", "pass"]).status !== 0) {
      if (process.env.CI) throw new Error("python3 is required to run the watchdog");
      this.skip(); // visibly pending: no python3
    }
  });

  beforeEach(async () => {
    emu = await RunPodEmulator.start({ apiKey: "pod-scoped-key-0123456789", timings: { provisionMs: 20, startMs: 20 } });
    comfy = new QueueStub();
    await comfy.up();
    const res = await fetch(`${emu.baseUrl}/pods`, {
      method: "POST",
      headers: { authorization: `Bearer ${emu.apiKey}`, "content-type": "application/json", "user-agent": "watchdog-test" },
      body: JSON.stringify({ name: "wd", image: "img@sha256:" + "a".repeat(64), gpu: { id: "NVIDIA L40S", count: 1 }, ports: ["8188/http"] }),
    });
    assert.equal(res.status, 201);
    podId = ((await res.json()) as { id: string }).id;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(emu.podById(podId)?.status, "RUNNING");
  });

  afterEach(async () => {
    await comfy.down();
    await emu.close();
  });

  function env(extra: Record<string, string>): Record<string, string> {
    return {
      RUNPOD_POD_ID: podId,
      RUNPOD_API_KEY: emu.apiKey,
      WATCHDOG_API_URL: emu.baseUrl,
      WATCHDOG_COMFYUI_URL: `http://127.0.0.1:${comfy.port}`,
      WATCHDOG_POLL_SECONDS: "0.1",
      WATCHDOG_HTTP_TIMEOUT: "2",
      ...extra,
    };
  }

  const actionCalls = () => emu.calls.filter((c) => c.method === "POST" && c.path.endsWith("/action"));

  it("stops an idle pod after IDLE_STOP_MINUTES, with the pod's own key, and never prints the key", async () => {
    const { done, startedAt } = runWatchdog(env({ IDLE_STOP_MINUTES: "0.01" }), 10000); // 0.6 s
    const run = await done;
    assert.equal(run.code, 0, run.out);
    const elapsed = run.exitedAt - startedAt;
    assert.ok(elapsed >= 600, `stopped after ${elapsed} ms, before the 0.6 s idle limit`);
    assert.equal(emu.podById(podId)?.status, "EXITED");
    assert.deepEqual(actionCalls().map((c) => [c.status, c.body]), [[200, { action: "stop" }]]);
    assert.match(run.out, /no queued or running prompt for 0\.01 min: asking RunPod to stop pod/);
    assert.doesNotMatch(run.out, /pod-scoped-key/);
  });

  it("a running prompt holds the pod: the idle clock starts when the queue empties", async () => {
    comfy.busy = true;
    const { done } = runWatchdog(env({ IDLE_STOP_MINUTES: "0.01" }), 10000);
    await new Promise((r) => setTimeout(r, 1200)); // twice the idle limit
    assert.equal(emu.podById(podId)?.status, "RUNNING", "stopped while a prompt was running");
    const freedAt = Date.now();
    comfy.busy = false;
    const run = await done;
    assert.equal(run.code, 0, run.out);
    assert.ok(run.exitedAt - freedAt >= 550, `stopped ${run.exitedAt - freedAt} ms after the queue emptied`);
    assert.equal(emu.podById(podId)?.status, "EXITED");
    assert.match(run.out, /ComfyUI queue: busy[\s\S]*ComfyUI queue: idle/);
  });

  it("no idle stop before ComfyUI first answers (models still downloading)", async () => {
    const port = comfy.port;
    await comfy.down();
    const { done } = runWatchdog(env({ IDLE_STOP_MINUTES: "0.01" }), 10000);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(emu.podById(podId)?.status, "RUNNING", "stopped before ComfyUI ever answered");
    const upAt = Date.now();
    await comfy.up(port);
    const run = await done;
    assert.ok(run.exitedAt - upAt >= 550, `stopped ${run.exitedAt - upAt} ms after ComfyUI came up`);
    assert.equal(emu.podById(podId)?.status, "EXITED");
    assert.match(run.out, /ComfyUI queue: unreachable[\s\S]*ComfyUI queue: idle/);
  });

  it("terminates a busy pod at MAX_LIFETIME_HOURS with LIFETIME_ACTION=terminate", async () => {
    comfy.busy = true;
    const { done, startedAt } = runWatchdog(env({ MAX_LIFETIME_HOURS: "0.0002", LIFETIME_ACTION: "terminate" }), 10000); // 0.72 s
    const run = await done;
    assert.equal(run.code, 0, run.out);
    assert.ok(run.exitedAt - startedAt >= 720, `acted after ${run.exitedAt - startedAt} ms`);
    assert.equal(emu.podById(podId)?.status, "TERMINATED");
    assert.deepEqual(actionCalls().map((c) => [c.status, c.body]), [[204, { action: "terminate" }]]);
    assert.match(run.out, /pod lifetime of 0\.0002 h reached: asking RunPod to terminate/);
  });

  it("retries a failing action with backoff (503, then 429 with Retry-After) until RunPod accepts it", async () => {
    emu.inject({ method: "POST", path: /\/action$/, status: 503, times: 2 });
    emu.inject({ method: "POST", path: /\/action$/, status: 429, retryAfter: 1, times: 1 });
    const { done } = runWatchdog(env({ MAX_LIFETIME_HOURS: "0.0001" }), 15000);
    const run = await done;
    assert.equal(run.code, 0, run.out);
    assert.deepEqual(actionCalls().map((c) => c.status), [503, 503, 429, 200]);
    const at = actionCalls().map((c) => c.at);
    assert.ok((at[1] ?? 0) - (at[0] ?? 0) < (at[2] ?? 0) - (at[1] ?? 0) + 50, "backoff did not grow");
    assert.ok((at[3] ?? 0) - (at[2] ?? 0) >= 950, "Retry-After was not honoured");
    assert.match(run.out, /stop failed \(attempt 1: HTTP 503[^)]*\); retrying/);
    assert.equal(emu.podById(podId)?.status, "EXITED");
  });

  it("says why when the pod-scoped key is refused, and keeps trying", async () => {
    const { done } = runWatchdog(env({ MAX_LIFETIME_HOURS: "0.0001", RUNPOD_API_KEY: "not-the-key" }), 1500);
    const run = await done;
    assert.equal(run.code, null, "the watchdog gave up instead of retrying");
    assert.match(run.out, /HTTP 401.*retrying/);
    assert.ok(actionCalls().length >= 2, `only ${actionCalls().length} attempt(s)`);
    assert.doesNotMatch(run.out, /not-the-key/);
    assert.equal(emu.podById(podId)?.status, "RUNNING");
  });

  it("refuses bad settings and a missing pod id or key with exit 2, and does nothing without limits", async () => {
    const bad = await runWatchdog({ IDLE_STOP_MINUTES: "soon", LIFETIME_ACTION: "pause", MAX_LIFETIME_HOURS: "1" }, 5000).done;
    assert.equal(bad.code, 2);
    assert.match(bad.out, /IDLE_STOP_MINUTES must be a number >= 0, got 'soon'/);
    assert.match(bad.out, /LIFETIME_ACTION must be stop or terminate, got 'pause'/);
    assert.match(bad.out, /RUNPOD_POD_ID is not set/);
    assert.match(bad.out, /RUNPOD_API_KEY is not set/);
    const none = await runWatchdog({}, 5000).done;
    assert.equal(none.code, 0);
    assert.match(none.out, /no limit set/);
  });
});
