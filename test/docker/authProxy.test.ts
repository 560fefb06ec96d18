// docker/scripts/auth-proxy.py run for real (Python with aiohttp) in front of the ComfyUI emulator: what the
// world reaches on the pod's port. The checks CLI goes through it with the token; nothing gets through without.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import WebSocket from "ws";
import { ComfyUIEmulator } from "../emulators/comfyui";
import { runCli, scratchDir, verdictOf, writeDanceAssets } from "../checks/helpers";

const ROOT = path.resolve(__dirname, "../../..");
const PROXY = path.join(ROOT, "docker", "scripts", "auth-proxy.py");
const TOKEN = `tok${randomBytes(24).toString("hex")}`;
/** The aiohttp the tests pin (.ci/run installs it); the image gets ComfyUI's own. */
const AIOHTTP_PIN = "aiohttp==3.14.3";

/** A Python that imports aiohttp: AUTH_PROXY_PYTHON, the .venv-test that .ci/run makes, or python3. */
function proxyPython(): string | undefined {
  const candidates = [process.env.AUTH_PROXY_PYTHON, path.join(ROOT, ".venv-test", "bin", "python"), "python3"];
  return candidates.find((c) => c && spawnSync(c, ["-c", "import aiohttp"], { stdio: "ignore" }).status === 0);
}

interface Front {
  url: string;
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

function startFront(python: string, upstream: string, env: NodeJS.ProcessEnv): Promise<Front> {
  return new Promise((resolve, reject) => {
    const proc = spawn(python, ["-u", PROXY, "--listen", "127.0.0.1", "--port", "0", "--upstream", upstream], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const timer = setTimeout(() => reject(new Error(`the front did not start:\n${output}`)), 15000);
    const stop = () =>
      new Promise<void>((done) => {
        if (proc.exitCode !== null) return done();
        proc.once("close", () => done());
        proc.kill("SIGTERM");
      });
    const onData = (d: Buffer) => {
      output += d.toString();
      const port = /listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${port}`, proc, output: () => output, stop });
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`the front exited with ${code}:\n${output}`));
    });
  });
}

function wsStatus(url: string, headers: Record<string, string> = {}): Promise<number | "open"> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws") + "/ws?clientId=t1", { headers });
    ws.on("open", () => {
      ws.close();
      resolve("open");
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("error", reject);
  });
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("auth-proxy.py (the authenticating front) in front of the ComfyUI emulator", function () {
  this.timeout(60000);
  let python: string | undefined;
  let emu: ComfyUIEmulator;
  let front: Front;
  const bearer = { Authorization: `Bearer ${TOKEN}` };

  before(async function () {
    python = proxyPython();
    if (!python) {
      const why = `no Python with aiohttp (pip install ${AIOHTTP_PIN}, or set AUTH_PROXY_PYTHON; .ci/run makes .venv-test)`;
      if (process.env.CI) throw new Error(why);
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    emu = await ComfyUIEmulator.start();
    front = await startFront(python, emu.url, { COMFYUI_AUTH_TOKEN: TOKEN });
  });

  after(async () => {
    if (front) {
      await front.stop();
      assert.ok(!front.output().includes(TOKEN), `the front printed its token:\n${front.output()}`);
    }
    if (emu) await emu.close();
  });

  it("answers 401 without the token or with a wrong one, on HTTP and the websocket, and ComfyUI never sees the request", async () => {
    const before = emu.requests.length;
    const attempts: Record<string, string>[] = [{}, { Authorization: "Bearer wrong-token-0123456789" }, { Authorization: `Basic ${TOKEN}` }, { Cookie: `comfyui_auth=${TOKEN}` }];
    for (const headers of attempts) {
      const res = await fetch(`${front.url}/api/system_stats`, { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
      assert.doesNotMatch(await res.text(), /comfyui_version|system/);
    }
    assert.equal(await wsStatus(front.url), 401);
    assert.equal(await wsStatus(front.url, { Authorization: "Bearer nope-nope-nope-nope" }), 401);
    assert.equal(emu.requests.length, before, "no refused request reached ComfyUI");
  });

  it("forwards a request with the bearer token as ComfyUI answers it, keeping Host and dropping the token", async () => {
    const direct: unknown = await (await fetch(`${emu.url}/api/system_stats`)).json();
    // fetch() may not set Host; node:http may, as RunPod's proxy does.
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get(`${front.url}/api/system_stats`, { headers: { ...bearer, Host: "pod-8188.proxy.runpod.net" } }, (r) => {
        let body = "";
        r.on("data", (d: Buffer) => (body += d.toString()));
        r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on("error", reject);
    });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), direct);
    const seen = emu.requests[emu.requests.length - 1];
    assert.equal(seen?.headers.host, "pod-8188.proxy.runpod.net", "ComfyUI compares Host with Origin: it must be the client's");
    assert.equal(seen?.headers.authorization, undefined, "the token is not passed on to ComfyUI");
    assert.equal(await wsStatus(front.url, bearer), "open");
  });

  it("carries the checks CLI through health and a generation (HTTP, websocket, upload, video download) with COMFYUI_AUTH_HEADER", async () => {
    const env = { COMFYUI_AUTH_HEADER: `Authorization: Bearer ${TOKEN}` };
    const health = await runCli(["health", "--url", front.url, "--timeout", "20"], env);
    assert.equal(health.code, 0, health.stderr);
    const out = scratchDir("auth-proxy");
    const assets = scratchDir("auth-proxy-assets");
    writeDanceAssets(assets);
    const generate = await runCli(["generate", "--url", front.url, "--workflow", "steadydancer", "--assets", assets, "--out", out, "--timeout", "40"], env);
    assert.equal(generate.code, 0, generate.stderr);
    const verdict = verdictOf(generate);
    assert.ok(verdict.ok && verdict.check === "generate", generate.stdout);
    // ComfyUI ships example.png in its input folder; the two uploads join it.
    assert.deepEqual(emu.inputFiles().sort(), ["example.png", "steadydancer_drive.mp4", "steadydancer_ref.png"], "both uploads went through");
    fs.rmSync(assets, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
    assert.ok(!(health.stderr + generate.stderr + generate.stdout).includes(TOKEN), "the CLI printed the token");

    const refused = await runCli(["health", "--url", front.url, "--timeout", "2"], {});
    assert.equal(refused.code, 1, "without the header the check fails");
  });

  it("signs a browser in: a sign-in page, the token posted once, then an HttpOnly, Secure, SameSite cookie that is not the token", async () => {
    const page = await fetch(`${front.url}/`, { headers: { Accept: "text/html" } });
    assert.equal(page.status, 401);
    const html = await page.text();
    assert.match(html, /<form method="post" action="\/__auth\/login">/);
    assert.doesNotMatch(html, new RegExp(TOKEN));

    const post = (token: string) =>
      fetch(`${front.url}/__auth/login`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token, next: "/api/system_stats" }).toString(),
        redirect: "manual",
      });
    const wrong = await post("not-the-token-0123456789");
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get("set-cookie"), null);

    const ok = await post(TOKEN);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), "/api/system_stats");
    const cookie = ok.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^comfyui_auth=[0-9a-f]{64};/);
    for (const flag of [/HttpOnly/i, /Secure/i, /SameSite=Lax/i, /Path=\//]) assert.match(cookie, flag);
    assert.ok(!cookie.includes(TOKEN), "the cookie holds a derived value, not the token");

    const session = cookie.split(";")[0] ?? "";
    const withCookie = await fetch(`${front.url}/api/system_stats`, { headers: { Cookie: `${session}; other=1` } });
    assert.equal(withCookie.status, 200);
    assert.equal(emu.requests[emu.requests.length - 1]?.headers.cookie, "other=1", "the session cookie is not passed on");
    assert.equal(await wsStatus(front.url, { Cookie: session }), "open", "the browser's websocket carries the cookie");

    const offsite = await fetch(`${front.url}/__auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: TOKEN, next: "//evil.example/" }).toString(),
      redirect: "manual",
    });
    assert.equal(offsite.headers.get("location"), "/", "never redirects off this host after signing in");
  });

  it("answers 502 while ComfyUI is not listening yet", async () => {
    const down = await startFront(python ?? "python3", `http://127.0.0.1:${await closedPort()}`, { COMFYUI_AUTH_TOKEN: TOKEN });
    try {
      const res = await fetch(`${down.url}/api/system_stats`, { headers: bearer });
      assert.equal(res.status, 502);
      assert.equal((await fetch(`${down.url}/api/system_stats`)).status, 401, "401 before 502: nothing is told to strangers");
    } finally {
      await down.stop();
    }
  });

  it("refuses to start without a token of 16+ characters, and forwards unchecked only with COMFYUI_AUTH=off", async () => {
    for (const env of [{}, { COMFYUI_AUTH_TOKEN: "short" }, { COMFYUI_AUTH: "maybe", COMFYUI_AUTH_TOKEN: TOKEN }]) {
      const run = spawnSync(python ?? "python3", [PROXY, "--port", "0", "--upstream", emu.url], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8", timeout: 15000 });
      assert.equal(run.status, 2, JSON.stringify(env) + run.stdout + run.stderr);
      assert.match(run.stdout + run.stderr, /COMFYUI_AUTH_TOKEN is unset or shorter|COMFYUI_AUTH must be token or off/);
    }
    const open = await startFront(python ?? "python3", emu.url, { COMFYUI_AUTH: "off" });
    try {
      assert.match(open.output(), /WARNING: COMFYUI_AUTH=off/);
      assert.equal((await fetch(`${open.url}/api/system_stats`)).status, 200);
      const own = await fetch(`${open.url}/api/system_stats`, { headers: { Authorization: "Bearer users-own-proxy" } });
      assert.equal(own.status, 200);
      assert.equal(emu.requests[emu.requests.length - 1]?.headers.authorization, "Bearer users-own-proxy", "off: headers pass untouched");
    } finally {
      await open.stop();
    }
  });
});
