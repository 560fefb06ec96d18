// Benchmark (prints figures, asserts nothing): docker/scripts/download-models.sh against the Hub emulator on
// loopback. (1) Throughput of the script (aria2c: files in parallel, several connections per file) against one
// plain `curl` per file, one after the other, without and with a per-connection rate cap like a CDN edge's.
// (2) Bytes fetched again after an interruption at ~50%: a connection cut inside one run, and a process killed
// and started again.
// Usage: npm run bench:download -- [--files 4] [--mb 64] [--cap-mbps 25] [--connections 8]
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MODEL_VARIANTS } from "../models";
import { ModelServer, type ModelServerOptions } from "../test/emulators/modelServer";

const SCRIPT = path.resolve(__dirname, "../../docker/scripts/download-models.sh");
const MB = 1024 * 1024;
const BENCH_TOKEN = "hf_BENCHTOKEN_not_a_real_one";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number >= 0`);
  return v;
}

interface Run { code: number | null; seconds: number; output: string }

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, killAfterBytes?: { file: string; bytes: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => { output += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { output += d.toString(); });
    const poll = killAfterBytes && setInterval(() => {
      if (fs.existsSync(killAfterBytes.file) && fs.statSync(killAfterBytes.file).size >= killAfterBytes.bytes) child.kill("SIGTERM");
    }, 5);
    child.on("error", reject);
    child.on("close", (code) => {
      if (poll) clearInterval(poll);
      resolve({ code, seconds: (performance.now() - t0) / 1000, output });
    });
  });
}

interface Bench { server: ModelServer; dir: string; manifest: string; names: string[]; data: Buffer[] }

async function setup(files: number, bytes: number, opts: ModelServerOptions): Promise<Bench> {
  const server = await ModelServer.start(opts);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-download-"));
  const names = Array.from({ length: files }, (_, i) => `model_${i}.safetensors`);
  const data = names.map(() => randomBytes(bytes));
  names.forEach((n, i) => server.host({ repo: "bench/models", path: n, data: data[i] ?? Buffer.alloc(0) }));
  const manifest = path.join(dir, "manifest.json");
  fs.writeFileSync(manifest, JSON.stringify({
    schemaVersion: 1,
    variants: Object.fromEntries(MODEL_VARIANTS.map((v) => [v, { description: v, minVramGb: 24, fallback: null }])),
    files: names.map((n) => ({
      id: n.replace(/\..*$/, "").replace(/_/g, "-"), variants: ["*"], repo: "bench/models", revision: "main", path: n,
      url: `https://huggingface.co/bench/models/resolve/main/${n}`, target: "diffusion_models", size: null, sizeEstimate: bytes, sha256: null,
    })),
  }));
  return { server, dir, manifest, names, data };
}

async function teardown(b: Bench): Promise<void> {
  await b.server.close();
  fs.rmSync(b.dir, { recursive: true, force: true });
}

function scriptEnv(b: Bench, modelsDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin", HOME: b.dir, TMPDIR: b.dir, HF_ENDPOINT: b.server.endpoint,
    MODEL_MANIFEST: b.manifest, MODELS_DIR: modelsDir, DOWNLOAD_RETRY_WAIT: "1", DOWNLOAD_MAX_TRIES: "5",
    DOWNLOAD_SUMMARY_INTERVAL: "0", ...extra,
  };
}

/** A PATH with every tool of /usr/bin but aria2c, so the script takes its curl path. */
function pathWithoutAria2(dir: string): string {
  const bin = path.join(dir, "no-aria2");
  fs.mkdirSync(bin, { recursive: true });
  for (const n of fs.readdirSync("/usr/bin")) if (n !== "aria2c") fs.symlinkSync(path.join("/usr/bin", n), path.join(bin, n));
  return bin;
}

const served = (b: Bench, name: string): number =>
  b.server.requestsFor("bench/models", name).filter((r) => r.method === "GET").reduce((n, r) => n + r.bytesSent, 0);

interface Row { scenario: string; tool: string; bytes: number; seconds: number; refetched?: number; note?: string }

async function throughput(files: number, bytes: number, capMBps: number, connections: number): Promise<Row[]> {
  const label = capMBps > 0 ? `${files} x ${bytes / MB} MiB, ${capMBps} MB/s per connection` : `${files} x ${bytes / MB} MiB, no cap`;
  const opts: ModelServerOptions = capMBps > 0 ? { bytesPerSecondPerConnection: capMBps * 1e6 } : {};
  const rows: Row[] = [];
  const total = files * bytes;

  let b = await setup(files, bytes, opts);
  const aria = await exec(SCRIPT, [], scriptEnv(b, path.join(b.dir, "m1"), { DOWNLOAD_CONNECTIONS: String(connections), DOWNLOAD_PARALLEL: String(files) }));
  if (aria.code !== 0) throw new Error(`download-models.sh failed:\n${aria.output}`);
  rows.push({ scenario: label, tool: `download-models.sh, aria2c -x${connections}, ${files} at once (incl. HEADs, sha256 check)`, bytes: total, seconds: aria.seconds });
  await teardown(b);

  // With a token, aria2c is handed the signed CDN URL from the HEAD (the token stays with the Hub).
  b = await setup(files, bytes, { ...opts, token: BENCH_TOKEN });
  const authed = await exec(SCRIPT, [], scriptEnv(b, path.join(b.dir, "m1"), { HF_TOKEN: BENCH_TOKEN, DOWNLOAD_CONNECTIONS: String(connections), DOWNLOAD_PARALLEL: String(files) }));
  if (authed.code !== 0) throw new Error(`download-models.sh with HF_TOKEN failed:\n${authed.output}`);
  const leaked = b.server.cdnRequests().filter((r) => r.authorization !== "none").length;
  rows.push({ scenario: label, tool: `download-models.sh, aria2c -x${connections}, HF_TOKEN set (signed CDN URL given to aria2c)`, bytes: total, seconds: authed.seconds,
    note: `${leaked} CDN request(s) carried the token` });
  await teardown(b);

  b = await setup(files, bytes, opts);
  const curlPath = await exec(SCRIPT, [], scriptEnv(b, path.join(b.dir, "m2"), { PATH: pathWithoutAria2(b.dir) }));
  if (curlPath.code !== 0) throw new Error(`download-models.sh (curl) failed:\n${curlPath.output}`);
  rows.push({ scenario: label, tool: "download-models.sh, curl fallback (one file at a time, sha256sum)", bytes: total, seconds: curlPath.seconds });
  await teardown(b);

  b = await setup(files, bytes, opts);
  let seconds = 0;
  for (const n of b.names) {
    const r = await exec("curl", ["-sS", "-fL", "-o", path.join(b.dir, n), `${b.server.endpoint}/bench/models/resolve/main/${n}`], { PATH: "/usr/bin:/bin" });
    if (r.code !== 0) throw new Error(`curl failed: ${r.output}`);
    seconds += r.seconds;
  }
  rows.push({ scenario: label, tool: "plain curl -fL, one file after the other (no check)", bytes: total, seconds });
  await teardown(b);
  return rows;
}

async function interruption(bytes: number): Promise<Row[]> {
  const rows: Row[] = [];
  const label = `1 x ${bytes / MB} MiB, interrupted at ~50%`;
  const half = Math.floor(bytes / 2);
  // One connection per file, so that the figures show resume behaviour and not segment splitting.
  const oneConn = { DOWNLOAD_CONNECTIONS: "1" };

  let b = await setup(1, bytes, {});
  b.server.addFault("bench/models", b.names[0] ?? "", { kind: "cut", afterBytes: half });
  let r = await exec(SCRIPT, [], scriptEnv(b, path.join(b.dir, "m"), oneConn));
  if (r.code !== 0) throw new Error(r.output);
  rows.push({ scenario: `${label}: connection cut`, tool: "download-models.sh (aria2c)", bytes, seconds: r.seconds, refetched: served(b, b.names[0] ?? "") - bytes });
  await teardown(b);

  b = await setup(1, bytes, {});
  b.server.addFault("bench/models", b.names[0] ?? "", { kind: "cut", afterBytes: half });
  r = await exec(SCRIPT, [], scriptEnv(b, path.join(b.dir, "m"), { PATH: pathWithoutAria2(b.dir) }));
  if (r.code !== 0) throw new Error(r.output);
  rows.push({ scenario: `${label}: connection cut`, tool: "download-models.sh (curl fallback)", bytes, seconds: r.seconds, refetched: served(b, b.names[0] ?? "") - bytes,
    note: "curl --retry restarts the attempt (it truncates what that attempt wrote)" });
  await teardown(b);

  b = await setup(1, bytes, {});
  b.server.addFault("bench/models", b.names[0] ?? "", { kind: "cut", afterBytes: half });
  r = await exec("curl", ["-sS", "-fL", "-C", "-", "--retry", "3", "--retry-all-errors", "--retry-delay", "1", "-o", path.join(b.dir, "f"),
    `${b.server.endpoint}/bench/models/resolve/main/${b.names[0] ?? ""}`], { PATH: "/usr/bin:/bin" });
  rows.push({ scenario: `${label}: connection cut`, tool: "plain curl -C - --retry 3", bytes, seconds: r.seconds, refetched: served(b, b.names[0] ?? "") - bytes });
  await teardown(b);

  for (const [tool, extra] of [["download-models.sh (aria2c)", oneConn], ["download-models.sh (curl fallback)", undefined]] as const) {
    b = await setup(1, bytes, { bytesPerSecondPerConnection: 50e6 });
    const models = path.join(b.dir, "m");
    const env = scriptEnv(b, models, extra ?? { PATH: pathWithoutAria2(b.dir) });
    const part = path.join(models, "diffusion_models", `${b.names[0] ?? ""}.part`);
    const first = await exec(SCRIPT, [], env, { file: part, bytes: half });
    const kept = fs.existsSync(part) ? fs.statSync(part).size : 0;
    const second = await exec(SCRIPT, [], env);
    if (second.code !== 0) throw new Error(second.output);
    rows.push({ scenario: `${label}: process killed (exit ${first.code}), run again`, tool, bytes, seconds: first.seconds + second.seconds,
      refetched: served(b, b.names[0] ?? "") - bytes, note: `${(kept / MB).toFixed(1)} MiB kept on disk after the kill` });
    await teardown(b);
  }
  return rows;
}

function print(rows: Row[]): void {
  const head = ["scenario", "tool", "MiB", "s", "MB/s", "re-fetched MiB", "note"];
  const body = rows.map((r) => [
    r.scenario, r.tool, (r.bytes / MB).toFixed(0), r.seconds.toFixed(2), (r.bytes / 1e6 / r.seconds).toFixed(1),
    r.refetched === undefined ? "" : (r.refetched / MB).toFixed(2), r.note ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ").trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const row of body) console.log(line(row));
}

async function main(): Promise<void> {
  const files = arg("files", 4);
  const mb = arg("mb", 64);
  const cap = arg("cap-mbps", 25);
  const connections = arg("connections", 8);
  console.log(`download benchmark on loopback (${os.cpus().length} CPUs); aria2c min split 20 MiB, so a ${mb} MiB file uses up to ${Math.min(connections, Math.max(1, Math.floor(mb / 20)))} connections`);
  const rows = [
    ...(await throughput(files, mb * MB, 0, connections)),
    ...(cap > 0 ? await throughput(files, mb * MB, cap, connections) : []),
    ...(await interruption(mb * MB)),
  ];
  print(rows);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
