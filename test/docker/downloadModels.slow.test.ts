// docker/scripts/download-models.sh run for real (aria2c, curl, jq) against the Hugging-Face-like emulator.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { MODEL_VARIANTS, parseModelManifest, type ModelVariant } from "../../models";
import { ModelServer, type RecordedRequest } from "../emulators/modelServer";

const SCRIPT = path.resolve(__dirname, "../../../docker/scripts/download-models.sh");
const TOKEN = "hf_TESTTOKEN_never_printed_0123456789";
const MB = 1024 * 1024;

interface RunResult { code: number | null; stdout: string; stderr: string }

function run(env: NodeJS.ProcessEnv, whileRunning?: (child: ChildProcess) => void, timeoutMs = 20000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(SCRIPT, [], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`timed out:\n${stdout}\n${stderr}`)); }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    whileRunning?.(child);
  });
}

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** One request without following redirects, with an optional Bearer token. */
function request(method: "HEAD" | "GET", url: string, token?: string): Promise<{ status: number; location: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => { body += d.toString(); });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location ?? "", body }));
    });
    req.on("error", reject);
    req.end();
  });
}
const headNoFollow = (url: string, token?: string) => request("HEAD", url, token);
const getText = (url: string, token?: string) => request("GET", url, token);
const have = (tool: string): boolean => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

interface FileSpec {
  id: string;
  variants?: Array<ModelVariant | "*">;
  repo?: string;
  path: string;
  target: string;
  data: Buffer;
  lfs?: boolean;
  /** Put in the manifest: its sha256 / size pinned (default: null, as before `models:pin`). */
  pin?: boolean;
  /** Not published on the server. */
  missing?: boolean;
  sizeEstimate?: number;
  /**
   * Published on the publisher's own host (download.openmmlab.com, served by the emulator at this URL path with
   * OPENMMLAB_ENDPOINT pointing at it) instead of a Hub repo; `path`'s last segment is the manifest's fileName.
   * `prefix`: the sha256Prefix in the manifest (default: the real first 8 hex digits).
   */
  direct?: { urlPath: string; prefix?: string };
}

describe("download-models.sh (real aria2c/curl against the Hub emulator)", function () {
  this.timeout(30000);
  let server: ModelServer;
  let dir: string;
  let modelsDir: string;
  let manifestPath: string;

  before(function () {
    for (const tool of ["jq", "curl", "aria2c"]) {
      if (!have(tool)) {
        if (process.env.CI) throw new Error(`${tool} is required in CI (.ci/run installs it)`);
        this.skip(); // visibly: mocha lists these tests as pending
      }
    }
  });

  beforeEach(async () => {
    server = await ModelServer.start({ token: TOKEN, gatedRepos: ["org/gated"] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dlm-test-"));
    modelsDir = path.join(dir, "models");
    manifestPath = path.join(dir, "manifest.json");
  });

  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Publishes the files and writes a manifest (validated by the TypeScript schema) listing them. */
  function setup(files: FileSpec[], fallback: ModelVariant | null = "fp16"): void {
    for (const f of files) {
      if (f.missing) continue;
      if (f.direct) server.hostDirect(f.direct.urlPath, f.data);
      else server.host({ repo: f.repo ?? "org/models", path: f.path, data: f.data, lfs: f.lfs ?? true });
    }
    const variants = Object.fromEntries(MODEL_VARIANTS.map((v) => [v, {
      description: v, minVramGb: 24, fallback: v === "fp8" ? fallback : null,
    }]));
    const manifest = {
      schemaVersion: 1,
      variants,
      files: [
        ...files.filter((f) => f.direct).map((f) => ({
          id: f.id,
          variants: f.variants ?? ["*"],
          url: `https://download.openmmlab.com${f.direct?.urlPath ?? ""}`,
          fileName: f.path.split("/").pop(),
          sha256Prefix: f.direct?.prefix ?? sha256(f.data).slice(0, 8),
          target: f.target,
          size: f.pin ? f.data.length : null,
          sizeEstimate: f.sizeEstimate ?? f.data.length,
          sha256: f.pin ? sha256(f.data) : null,
        })),
        ...files.filter((f) => !f.direct).map((f) => ({
          id: f.id,
          variants: f.variants ?? ["*"],
          repo: f.repo ?? "org/models",
          revision: "main",
          path: f.path,
          url: `https://huggingface.co/${f.repo ?? "org/models"}/resolve/main/${f.path}`,
          target: f.target,
          size: f.pin ? f.data.length : null,
          sizeEstimate: f.sizeEstimate ?? f.data.length,
          sha256: f.pin ? sha256(f.data) : null,
        })),
        // Every variant needs a file for the schema; these are never selected by the tests.
        ...(MODEL_VARIANTS as readonly string[]).filter((v) => v !== "fp8" && v !== "fp16").map((v) => ({
          id: `unused-${v}`, variants: [v], repo: "org/models", revision: "main", path: `unused/${v}.gguf`,
          url: `https://huggingface.co/org/models/resolve/main/unused/${v}.gguf`, target: "unet", size: null, sizeEstimate: 1, sha256: null,
        })),
      ],
    };
    parseModelManifest(manifest, "test manifest");
    fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  }

  function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      HOME: dir,
      TMPDIR: dir,
      HF_ENDPOINT: server.endpoint,
      // The publisher's host on the Hub's own origin: a token sent by host would reach it.
      OPENMMLAB_ENDPOINT: server.endpoint,
      MODEL_MANIFEST: manifestPath,
      MODELS_DIR: modelsDir,
      DOWNLOAD_RETRY_WAIT: "1",
      DOWNLOAD_MAX_TRIES: "4",
      DOWNLOAD_SUMMARY_INTERVAL: "0",
      ...extra,
    };
  }

  const placed = (target: string, name: string): string => path.join(modelsDir, target, name);
  const cdnGets = (repo: string, p: string) => server.requestsFor(repo, p).filter((r) => r.route === "cdn" && r.method === "GET");

  /** A PATH holding every tool of /usr/bin except `without`, plus optional wrappers placed first. */
  function pathWithout(without: string[], wrappers: Record<string, string> = {}): string {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin, { recursive: true });
    for (const name of fs.readdirSync("/usr/bin")) {
      if (!without.includes(name) && !(name in wrappers)) fs.symlinkSync(path.join("/usr/bin", name), path.join(bin, name));
    }
    for (const [name, body] of Object.entries(wrappers)) fs.writeFileSync(path.join(bin, name), body, { mode: 0o755 });
    return bin;
  }

  it("downloads every file of the variant in parallel, verifies it and says so file by file", async () => {
    const lfs = randomBytes(3 * MB);
    const pinned = randomBytes(2 * MB);
    const plain = Buffer.from('{"model_type": "yolo"}\n');
    setup([
      { id: "dit", variants: ["fp8"], path: "SteadyDancer/dit_fp8.safetensors", target: "diffusion_models/WanVideo/SteadyDancer", data: lfs },
      { id: "vae", path: "vae.safetensors", target: "vae/wanvideo", data: pinned, pin: true },
      { id: "cfg", path: "onnx/config.json", target: "detection/onnx", data: plain, lfs: false },
    ]);
    const r = await run(env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models/WanVideo/SteadyDancer", "dit_fp8.safetensors")), lfs);
    assert.deepEqual(fs.readFileSync(placed("vae/wanvideo", "vae.safetensors")), pinned);
    assert.deepEqual(fs.readFileSync(placed("detection/onnx", "config.json")), plain);
    // Per-file lines with sizes and rates, and how each file was verified.
    assert.match(r.stdout, /\[start\] dit: diffusion_models\/WanVideo\/SteadyDancer\/dit_fp8\.safetensors \(3\.1 MB\)/);
    assert.match(r.stdout, /\[fetched\] dit: 3\.1 MB in \d+\.\d s \(\d+\.\d MB\/s\)/);
    assert.match(r.stdout, new RegExp(`\\[done\\] dit: .*sha256 ${sha256(lfs)}, server-lfs-sha256`));
    assert.match(r.stdout, new RegExp(`\\[done\\] vae: .*sha256 ${sha256(pinned)}, manifest`));
    assert.match(r.stderr, /cfg: verified by size only/);
    assert.equal(fs.readFileSync(path.join(modelsDir, ".steadydancer-variant"), "utf8"), "fp8\n");
    assert.deepEqual(fs.readdirSync(path.join(modelsDir, "diffusion_models/WanVideo/SteadyDancer")).sort(),
      ["dit_fp8.safetensors", "dit_fp8.safetensors.sha256"], "no .part or .aria2 left behind");
    // The LFS file came from the CDN after the 302, in one piece.
    assert.equal(cdnGets("org/models", "SteadyDancer/dit_fp8.safetensors").length, 1);
  });

  it("skips files already present and verified without a single request (a reused network volume)", async () => {
    const data = randomBytes(2 * MB);
    const pinned = randomBytes(MB);
    setup([
      { id: "dit", path: "dit.safetensors", target: "diffusion_models", data },
      { id: "vae", path: "vae.safetensors", target: "vae", data: pinned, pin: true },
    ]);
    assert.equal((await run(env())).code, 0);
    const before = server.requests.length;

    const again = await run(env());
    assert.equal(again.code, 0, again.stderr);
    assert.equal(server.requests.length, before, "a verified file costs no request");
    assert.match(again.stdout, /\[ok\] dit: present, verified earlier \(server-lfs-sha256\)/);

    // A copy placed by hand (no sidecar) is hashed against the pinned sha256, still without a request.
    fs.rmSync(placed("vae", "vae.safetensors.sha256"));
    const hashed = await run(env());
    assert.equal(hashed.code, 0, hashed.stderr);
    assert.equal(server.requests.length, before);
    assert.match(hashed.stdout, /\[check\] vae: hashing the copy already present[\s\S]*\[ok\] vae: present and matches the manifest sha256/);

    // A changed size/mtime makes the sidecar stale: the copy is checked again and, being wrong, replaced.
    fs.writeFileSync(placed("vae", "vae.safetensors"), randomBytes(MB));
    const replaced = await run(env());
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stderr, /vae: .* does not match the manifest sha256/);
    assert.deepEqual(fs.readFileSync(placed("vae", "vae.safetensors")), pinned);
  });

  it("resumes a connection cut mid-file from the cut offset instead of starting over", async () => {
    const data = randomBytes(4 * MB);
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data }]);
    const cutAt = 1_500_000;
    server.addFault("org/models", "dit.safetensors", { kind: "cut", afterBytes: cutAt });
    const r = await run(env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), data);
    const gets = cdnGets("org/models", "dit.safetensors");
    assert.equal(gets.length, 2, JSON.stringify(gets));
    assert.equal(gets[0]?.rangeStart, 0);
    assert.equal(gets[0]?.bytesSent, cutAt);
    assert.equal(gets[1]?.range, `bytes=${cutAt}-${data.length - 1}`);
    assert.equal(gets[1]?.rangeStart, cutAt, "the second request starts where the first was cut");
    const served = gets.reduce((n, g) => n + g.bytesSent, 0);
    assert.equal(served, data.length, "no byte is fetched twice");
  });

  it("rides out a burst of 503s with retries", async () => {
    const data = randomBytes(MB);
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data }]);
    server.addFault("org/models", "dit.safetensors", { kind: "status", status: 503, times: 2 });
    const r = await run(env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), data);
    assert.deepEqual(cdnGets("org/models", "dit.safetensors").map((g) => g.status), [503, 503, 200]);
  });

  it("curl fallback backs off exponentially between retries instead of waiting a fixed time", async () => {
    const data = randomBytes(64 * 1024);
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data }]);
    // CloudFront/S3 503s carry no Retry-After, so curl's own backoff decides the waits.
    server.addFault("org/models", "dit.safetensors", { kind: "status", status: 503, times: 2, retryAfter: null });
    const r = await run(env({ PATH: pathWithout(["aria2c"]) }));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const gets = cdnGets("org/models", "dit.safetensors");
    assert.deepEqual(gets.map((g) => g.status), [503, 503, 200]);
    const [a, b, c] = gets.map((g) => g.at);
    const first = (b ?? 0) - (a ?? 0);
    const second = (c ?? 0) - (b ?? 0);
    assert.ok(first >= 900 && first < 1800, `first wait ${first} ms: curl starts at 1 s`);
    assert.ok(second >= 1800, `second wait ${second} ms: curl doubles it (a fixed --retry-delay of DOWNLOAD_RETRY_WAIT=1 would give 1 s)`);

    // aria2c's wait stays fixed; 0 would stop it retrying 503s altogether, so it is refused.
    const zero = await run(env({ DOWNLOAD_RETRY_WAIT: "0" }));
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /DOWNLOAD_RETRY_WAIT must be at least 1 \(aria2c retries a 503 only with a wait > 0\)/);
  });

  it("replaces a signed CDN URL that expired mid-download: one more round after a longer pause, resuming the file", async () => {
    const data = randomBytes(320 * 1024);
    await server.close();
    // The first GET is cut after ~0.5 s (192 KiB at 256 KiB/s), when its URL (0.3 s) has expired.
    server = await ModelServer.start({ token: TOKEN, signedUrlTtlSeconds: 0.3, bytesPerSecondPerConnection: 256 * 1024 });
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data }]);
    const cutAt = 192 * 1024;
    server.addFault("org/models", "dit.safetensors", { kind: "cut", afterBytes: cutAt });
    // With a token aria2c gets the signed URL itself; its retry after the cut finds it expired (403, not retried).
    const r = await run(env({ HF_TOKEN: TOKEN, DOWNLOAD_MAX_TRIES: "2" }));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), data);
    assert.match(r.stderr, /dit: download failed after 2 tries \(aria2c error 22: .*status=403\): one more round after a longer pause/);
    assert.match(r.stdout, /waiting 2 s before the last round for 1 file\(s\), then probing their URLs again/);
    const gets = cdnGets("org/models", "dit.safetensors");
    const signature = (u: string): string => new URL(u, server.cdnOrigin).searchParams.get("X-Amz-Signature") ?? "";
    const [cut, expired, ...last] = gets;
    assert.ok(cut && expired && last.length > 0, JSON.stringify(gets));
    assert.equal(cut.bytesSent, cutAt);
    assert.equal(expired.status, 403, "aria2c's own retry reused the signed URL, which had expired");
    assert.equal(signature(expired.url), signature(cut.url));
    assert.ok(last.every((g) => signature(g.url) !== signature(cut.url)), "the last round got a fresh signed URL");
    assert.equal(last.at(-1)?.status, 206);
    assert.equal(last.at(-1)?.rangeStart, cutAt, "the last round resumes where the cut left the file");
    assert.ok((last[0]?.at ?? 0) - expired.at >= 1900, "after DOWNLOAD_MAX_TRIES x DOWNLOAD_RETRY_WAIT = 2 s");
    assert.equal(server.cdnRequests().filter((q) => q.authorization !== "none").length, 0);
  });

  it("deletes a corrupt download and fetches it once more", async () => {
    const data = randomBytes(2 * MB);
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data }]);
    server.addFault("org/models", "dit.safetensors", { kind: "corrupt", offset: 1000, times: 1 });
    const r = await run(env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /dit: checksum mismatch .*: deleted, fetching it once more/);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), data);
    assert.equal(cdnGets("org/models", "dit.safetensors").length, 2);
  });

  it("fails naming the file when the second download is corrupt too", async () => {
    const data = randomBytes(MB);
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data, pin: true }]);
    server.addFault("org/models", "dit.safetensors", { kind: "corrupt", offset: 10, times: 2 });
    const r = await run(env());
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, /ERROR: dit: checksum mismatch again after a fresh download from http:\/\/127\.0\.0\.1:\d+\/org\/models\/resolve\/main\/dit\.safetensors .*: the pinned sha256 no longer matches what the server sends, or the transfer is corrupted\. If the server's file changed: .*re-run npm run models:pin/);
    assert.equal(cdnGets("org/models", "dit.safetensors").length, 2, "exactly one re-fetch");
    assert.ok(!fs.existsSync(placed("diffusion_models", "dit.safetensors")), "a corrupt file is never put in place");
    assert.ok(!fs.existsSync(placed("diffusion_models", "dit.safetensors.part")), "nor kept");
  });

  it("fails with a clear message naming the file on a 404", async () => {
    setup([
      { id: "vae", path: "vae.safetensors", target: "vae", data: randomBytes(1000) },
      { id: "lora", path: "Lightx2v/nope.safetensors", target: "loras", data: randomBytes(10), missing: true },
    ]);
    const r = await run(env());
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`ERROR: lora: not found at ${server.endpoint}/org/models/resolve/main/Lightx2v/nope\\.safetensors: check the manifest path/revision \\(HTTP 404 EntryNotFound`));
    assert.equal(server.requests.filter((q) => q.method === "GET").length, 0, "nothing is downloaded when a file cannot be had");
  });

  it("asks for a token on a gated repo, and sends it only as a header: never in argv, env or output", async () => {
    const data = randomBytes(MB);
    setup([{ id: "gated", repo: "org/gated", path: "model.safetensors", target: "diffusion_models", data }], null);

    const anonymous = await run(env());
    assert.equal(anonymous.code, 4, anonymous.stdout + anonymous.stderr);
    assert.match(anonymous.stderr, /ERROR: gated: needs a Hugging Face token: set HF_TOKEN \/ accept the model licence at https:\/\/huggingface\.co\/org\/gated \(HTTP 401/);

    const argvLog = path.join(dir, "argv.log");
    const recorder = (tool: string): string =>
      `#!/bin/bash\nprintf '%s %s env:%s\\n' "${tool}" "$*" "\${HF_TOKEN:+HF_TOKEN-set}" >> "${argvLog}"\nexec /usr/bin/${tool} "$@"\n`;
    const bin = pathWithout([], { aria2c: recorder("aria2c"), curl: recorder("curl") });
    const r = await run(env({ PATH: bin, HF_TOKEN: TOKEN }));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "model.safetensors")), data);
    assert.ok(server.requestsFor("org/gated", "model.safetensors").some((q) => q.route === "resolve" && q.authorization === "valid"));
    const calls = fs.readFileSync(argvLog, "utf8");
    assert.match(calls, /^curl /m, "the HEAD went through the recorded curl");
    assert.match(calls, /^aria2c /m, "the download went through the recorded aria2c");
    assert.ok(!calls.includes(TOKEN), `token in argv:\n${calls}`);
    assert.ok(!calls.includes("HF_TOKEN-set"), "children do not inherit HF_TOKEN");
    assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN));
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith("download-models.")), [], "the header file is removed");
  });

  it("sends HF_TOKEN to the Hub only: no request to the CDN host carries it, with aria2c or with curl", async () => {
    const lfs = randomBytes(MB);
    const plain = Buffer.from('{"gated": true}\n');
    setup([
      { id: "gated", repo: "org/gated", path: "model.safetensors", target: "diffusion_models", data: lfs },
      { id: "cfg", repo: "org/gated", path: "config.json", target: "diffusion_models", data: plain, lfs: false },
    ], null);

    // The emulated CDN is on another host name and answers a signed URL plus a token like S3 does.
    const resolved = await headNoFollow(server.resolveUrl("org/gated", "model.safetensors"), TOKEN);
    assert.equal(resolved.status, 302);
    const signed = new URL(resolved.location);
    assert.notEqual(signed.hostname, new URL(server.endpoint).hostname);
    const both = await getText(signed.toString(), TOKEN);
    assert.equal(both.status, 400);
    assert.match(both.body, /<Code>InvalidArgument<\/Code><Message>Only one auth mechanism allowed/);

    for (const [tool, extra] of [["aria2c", {}], ["curl", { PATH: pathWithout(["aria2c"]) }]] as const) {
      fs.rmSync(modelsDir, { recursive: true, force: true });
      const from = server.requests.length;
      const r = await run(env({ HF_TOKEN: TOKEN, ...extra }));
      assert.equal(r.code, 0, `${tool}:\n${r.stdout}${r.stderr}`);
      assert.deepEqual(fs.readFileSync(placed("diffusion_models", "model.safetensors")), lfs, tool);
      assert.deepEqual(fs.readFileSync(placed("diffusion_models", "config.json")), plain, tool);
      const seen = server.requests.slice(from);
      const cdn = seen.filter((q) => q.host === server.cdnHost);
      assert.ok(cdn.some((q) => q.method === "GET" && q.status === 200), `${tool} fetched the LFS file from the CDN host`);
      assert.deepEqual(cdn.filter((q) => q.authorization !== "none").map((q) => `${q.method} ${q.status}`), [],
        `${tool} sent an Authorization header to the CDN host`);
      // The Hub itself still gets the token: the HEADs, and the plain git file that it serves without a redirect.
      const hub = seen.filter((q) => q.host !== server.cdnHost);
      assert.ok(hub.length > 0 && hub.every((q) => q.authorization === "valid"), `${tool}: every Hub request has the token`);
      assert.ok(hub.some((q) => q.method === "GET" && q.file === "org/gated/config.json" && q.status === 200));
      assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN));
      assert.doesNotMatch(r.stdout + r.stderr, /X-Amz-Signature=/, "signed URLs stay out of the logs");
      const says = /gated: from the signed URL the Hub redirects to \(http:\/\/localhost:\d+\/cdn\/[0-9a-f]{64}\), without HF_TOKEN/;
      if (tool === "aria2c") assert.match(r.stdout, says);
      else assert.doesNotMatch(r.stdout, says, "curl follows the redirect itself");
    }
  });

  describe("a direct download (download.openmmlab.com, OPENMMLAB_ENDPOINT)", () => {
    const YOLOX = "/mmdetection/v2.0/yolox/yolox_l_8x8_300e_coco/yolox_l_8x8_300e_coco_20211126_140236-d3bd2b23.pth";
    const directOf = (): RecordedRequest[] => server.requests.filter((q) => q.route === "direct");

    it("is fetched with the Hub's files under its fileName, checked against its published sha256 prefix, never with HF_TOKEN (aria2c and curl)", async () => {
      const yolox = randomBytes(2 * MB);
      const hubFile = randomBytes(MB);
      setup([
        { id: "gated", repo: "org/gated", path: "model.safetensors", target: "diffusion_models", data: hubFile },
        { id: "yolox", path: "yolox_l_8x8_300e_coco.pth", target: "detection/dwpose", data: yolox, direct: { urlPath: YOLOX } },
      ], null);
      for (const [tool, extra] of [["aria2c", {}], ["curl", { PATH: pathWithout(["aria2c"]) }]] as const) {
        fs.rmSync(modelsDir, { recursive: true, force: true });
        const from = server.requests.length;
        const r = await run(env({ HF_TOKEN: TOKEN, ...extra }));
        assert.equal(r.code, 0, `${tool}:\n${r.stdout}${r.stderr}`);
        assert.deepEqual(fs.readFileSync(placed("detection/dwpose", "yolox_l_8x8_300e_coco.pth")), yolox, tool);
        assert.deepEqual(fs.readFileSync(placed("diffusion_models", "model.safetensors")), hubFile, tool);
        assert.match(r.stdout, new RegExp(`\\[done\\] yolox: 2\\.0 MB verified \\(sha256 ${sha256(yolox)}, sha256-prefix\\)`), tool);
        const direct = server.requests.slice(from).filter((q) => q.route === "direct");
        assert.ok(direct.some((q) => q.method === "HEAD") && direct.some((q) => q.method === "GET" && q.status === 200), `${tool}: HEAD then GET on the publisher's host`);
        assert.deepEqual(direct.filter((q) => q.authorization !== "none").map((q) => `${q.method} ${q.status}`), [],
          `${tool} sent an Authorization header to the publisher's host`);
        const hub = server.requests.slice(from).filter((q) => q.route === "resolve");
        assert.ok(hub.length > 0 && hub.every((q) => q.authorization === "valid"), `${tool}: the Hub still gets the token`);
        assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN));
      }
      // Present: the sidecar vouches for it; without the sidecar the copy is hashed against the prefix. No request.
      const before = server.requests.length;
      const again = await run(env());
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /\[ok\] yolox: present, verified earlier \(sha256-prefix\)/);
      fs.rmSync(placed("detection/dwpose", "yolox_l_8x8_300e_coco.pth.sha256"));
      const rehash = await run(env());
      assert.equal(rehash.code, 0, rehash.stderr);
      assert.match(rehash.stdout, /\[ok\] yolox: present, its sha256 starts with the published [0-9a-f]{8}/);
      assert.equal(server.requests.length, before, "a verified direct file costs no request");
    });

    it("resumes a cut transfer from the cut offset, and checks the full sha256 once it is pinned", async () => {
      const yolox = randomBytes(3 * MB);
      setup([{ id: "yolox", path: "yolox_l_8x8_300e_coco.pth", target: "detection/dwpose", data: yolox, pin: true, direct: { urlPath: YOLOX } }]);
      const cutAt = 1_500_000;
      server.addFault(ModelServer.DIRECT, YOLOX, { kind: "cut", afterBytes: cutAt });
      const r = await run(env());
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(fs.readFileSync(placed("detection/dwpose", "yolox_l_8x8_300e_coco.pth")), yolox);
      const gets = directOf().filter((q) => q.method === "GET");
      assert.equal(gets.length, 2, JSON.stringify(gets));
      assert.equal(gets[1]?.rangeStart, cutAt, "the second request starts where the first was cut");
      assert.equal(gets.reduce((n, g) => n + g.bytesSent, 0), yolox.length, "no byte is fetched twice");
      assert.match(r.stdout, new RegExp(`\\[done\\] yolox: .*sha256 ${sha256(yolox)}, manifest`));
    });

    it("deletes a file whose sha256 does not start with the published prefix, fetches it once more, then fails naming it", async () => {
      setup([{ id: "yolox", path: "yolox_l_8x8_300e_coco.pth", target: "detection/dwpose", data: randomBytes(MB), direct: { urlPath: YOLOX, prefix: "00000000" } }]);
      const r = await run(env());
      assert.equal(r.code, 5, r.stdout + r.stderr);
      assert.match(r.stderr, /yolox: checksum mismatch \(its sha256 [0-9a-f]{64} does not start with the published prefix 00000000\): deleted, fetching it once more/);
      assert.match(r.stderr, /ERROR: yolox: checksum mismatch again after a fresh download from http:\/\/127\.0\.0\.1:\d+\/mmdetection\/.*host serves another file/);
      assert.equal(directOf().filter((q) => q.method === "GET").length, 2);
      assert.ok(!fs.existsSync(placed("detection/dwpose", "yolox_l_8x8_300e_coco.pth")));
    });

    it("fails with exit 4 naming the URL when the publisher's host has no such file", async () => {
      setup([{ id: "yolox", path: "yolox_l_8x8_300e_coco.pth", target: "detection/dwpose", data: randomBytes(10), missing: true, direct: { urlPath: YOLOX } }], null);
      const r = await run(env());
      assert.equal(r.code, 4, r.stdout + r.stderr);
      assert.match(r.stderr, /ERROR: yolox: not available at http:\/\/127\.0\.0\.1:\d+\/mmdetection\/v2\.0\/yolox\/.*-d3bd2b23\.pth \(HTTP 404\)/);
    });
  });

  it("fails before downloading anything when the disk is too small, with the numbers", async () => {
    const free = fs.statfsSync(dir).bavail * fs.statfsSync(dir).bsize;
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data: randomBytes(1000), sizeEstimate: free + 1e12 }]);
    const r = await run(env());
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /ERROR: not enough disk space in .*: the fp8 files still to fetch \(1 files\) need \d+\.\d GB \(\d+ bytes\), only \d+\.\d GB \(\d+ bytes\) are free/);
    assert.equal(server.requests.length, 0, "not even a HEAD");
  });

  it("falls back from fp8 to fp16 when the fp8 files cannot be had", async () => {
    const shared = randomBytes(1000);
    const fp16 = randomBytes(MB);
    setup([
      { id: "dit-fp8", variants: ["fp8"], path: "fp8/dit.safetensors", target: "diffusion_models", data: randomBytes(10), missing: true },
      { id: "dit-fp16", variants: ["fp16"], path: "fp16/dit.safetensors", target: "diffusion_models", data: fp16 },
      { id: "vae", path: "vae.safetensors", target: "vae", data: shared },
    ]);
    const r = await run(env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /dit-fp8: not found at .*\n.*the fp8 files cannot be had: falling back to variant fp16/);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), fp16);
    assert.equal(fs.readFileSync(path.join(modelsDir, ".steadydancer-variant"), "utf8"), "fp16\n");
  });

  it("does not fall back when the missing file is one the fallback needs too", async () => {
    setup([
      { id: "dit-fp8", variants: ["fp8"], path: "fp8/dit.safetensors", target: "diffusion_models", data: randomBytes(10) },
      { id: "vae", path: "vae.safetensors", target: "vae", data: randomBytes(10), missing: true },
    ]);
    const r = await run(env());
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /falling back/);
    assert.match(r.stderr, /ERROR: vae: not found at/);
  });

  it("stops before downloading when the server's file is not the pinned one", async () => {
    const data = randomBytes(MB);
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data, pin: true }]);
    const pinnedAt = server.commitOf("org/models") ?? "";
    server.host({ repo: "org/models", path: "dit.safetensors", data: randomBytes(MB) }); // main moved on
    const r = await run(env());
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, /ERROR: dit: the pinned sha256 no longer matches the server's file at .*\/resolve\/main\/dit\.safetensors \(server [0-9a-f]{64}, manifest [0-9a-f]{64}\): revision 'main' is a branch or tag and has moved on since the manifest was pinned; re-run npm run models:pin/);
    assert.equal(cdnGets("org/models", "dit.safetensors").length, 0);

    // Pinned at a commit, a hash that differs from the server's is the pin's own fault.
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as { files: Array<{ revision: string; sha256: string | null }> };
    const first = manifest.files[0];
    assert.ok(first);
    first.revision = pinnedAt;
    first.sha256 = sha256(randomBytes(8));
    fs.writeFileSync(manifestPath, JSON.stringify(manifest));
    const atCommit = await run(env());
    assert.equal(atCommit.code, 5, atCommit.stdout + atCommit.stderr);
    assert.match(atCommit.stderr, new RegExp(`the manifest pins commit ${pinnedAt}, whose files do not change, so the pinned value is wrong .*re-run npm run models:pin`));
  });

  it("falls back to curl when aria2c is missing: resumes across runs, verifies, re-fetches a corrupt file once", async () => {
    const data = randomBytes(3 * MB);
    const plain = Buffer.from("plain git file\n");
    setup([
      { id: "dit", path: "dit.safetensors", target: "diffusion_models", data },
      { id: "cfg", path: "cfg.json", target: "detection", data: plain, lfs: false },
    ]);
    server.addFault("org/models", "dit.safetensors", { kind: "corrupt", offset: 5, times: 1 });
    const bin = pathWithout(["aria2c"]);
    const r = await run(env({ PATH: bin }));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /aria2c not found: downloading with curl/);
    assert.match(r.stderr, /dit: checksum mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\): deleted, fetching it once more/);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), data);
    assert.deepEqual(fs.readFileSync(placed("detection", "cfg.json")), plain);

    // A partial file left by an earlier run is continued with a Range request.
    fs.rmSync(placed("diffusion_models", "dit.safetensors"));
    fs.rmSync(placed("diffusion_models", "dit.safetensors.sha256"));
    fs.writeFileSync(placed("diffusion_models", "dit.safetensors.part"), data.subarray(0, MB));
    const resumed = await run(env({ PATH: bin }));
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), data);
    const last = cdnGets("org/models", "dit.safetensors").at(-1);
    assert.equal(last?.rangeStart, MB);
    assert.equal(last?.bytesSent, data.length - MB);
  });

  it("curl fallback shows progress on a non-tty: one line per DOWNLOAD_SUMMARY_INTERVAL with MB and MB/s, no flood", async () => {
    const data = randomBytes(500 * 1024);
    await server.close();
    server = await ModelServer.start({ bytesPerSecondPerConnection: 200 * 1024 }); // ~2.5 s for the file
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data, pin: true }]);
    const r = await run(env({ PATH: pathWithout(["aria2c"]), DOWNLOAD_SUMMARY_INTERVAL: "1" })); // stdout is a pipe
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const between = r.stdout.slice(r.stdout.indexOf("[start] dit"), r.stdout.indexOf("[fetched] dit"));
    const lines = [...between.matchAll(/^download-models: \[progress\] dit: (\d+\.\d) MB of 0\.5 MB \((\d+)%\), (\d+\.\d) MB\/s$/gm)];
    assert.ok(lines.length >= 2 && lines.length <= 3, `${lines.length} progress lines for a ~2.5 s transfer at 1 s intervals:\n${r.stdout}`);
    const sizes = lines.map((m) => Number(m[1]));
    assert.ok(sizes.every((v, k) => k === 0 || v > (sizes[k - 1] ?? 0)), `sizes grow: ${sizes.join(", ")}`);
    assert.ok(lines.every((m) => Number(m[3]) >= 0.1 && Number(m[3]) <= 0.4), `rates near the 0.2 MB/s cap: ${lines.map((m) => m[3]).join(", ")}`);
    assert.doesNotMatch(r.stdout + r.stderr, /#|%\s+Total/, "no curl meter in the log");
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), data);
  });

  it("on SIGTERM stops aria2c, keeps the partial file, and the next run resumes it", async () => {
    const data = randomBytes(2 * MB);
    await server.close();
    server = await ModelServer.start({ bytesPerSecondPerConnection: 2 * MB });
    setup([{ id: "dit", path: "dit.safetensors", target: "diffusion_models", data }]);
    const part = placed("diffusion_models", "dit.safetensors.part");
    const stopped = await run(env(), (child) => {
      const poll = setInterval(() => {
        if (fs.existsSync(part) && fs.statSync(part).size > 0) { clearInterval(poll); child.kill("SIGTERM"); }
      }, 20);
      child.on("close", () => clearInterval(poll));
    });
    assert.equal(stopped.code, 143, stopped.stdout + stopped.stderr);
    assert.match(stopped.stderr, /interrupted by SIGTERM; partial downloads are kept/);
    assert.ok(fs.existsSync(part), "the partial file stays");
    assert.ok(!fs.existsSync(placed("diffusion_models", "dit.safetensors")));

    const resumed = await run(env());
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.deepEqual(fs.readFileSync(placed("diffusion_models", "dit.safetensors")), data);
    const gets = cdnGets("org/models", "dit.safetensors");
    const restartAt = gets.at(-1)?.rangeStart ?? 0;
    assert.ok(restartAt > 0, `the second run continued at byte ${restartAt}, not from 0`);
  });
});
