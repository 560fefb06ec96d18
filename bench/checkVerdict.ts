// Benchmark (prints figures, asserts nothing): how long after ComfyUI reports a job done does the generate
// check give its verdict? Measured from the emulator sending `executing {node: null}` to the CLI's verdict
// line arriving on stdout; that span holds the history fetch, the /view download, the MP4 validation and
// saving the file. Run once following the websocket, once with the websocket dropped mid-job (polling).
// Usage: npm run bench:checks -- [--runs 10] [--job-ms 400] [--bytes-per-frame 100000]
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseCheckOutput } from "../checks";
import { ComfyUIEmulator } from "../test/emulators/comfyui";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const CLI = path.resolve(__dirname, "..", "checks", "cli.js");

interface Sample {
  latencyMs: number;
  fileBytes: number;
  ok: boolean;
}

/** Runs the CLI once; resolves when its verdict line arrives, with the time it arrived. */
function runGenerate(url: string, out: string): Promise<{ verdictAt: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "generate", "--url", url, "--out", out, "--timeout", "60"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let verdictAt = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (verdictAt === 0 && stdout.includes("\n")) verdictAt = Date.now();
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", () => resolve({ verdictAt, stdout, stderr }));
  });
}

async function measure(dropWebsocket: boolean, runs: number, jobMs: number, bytesPerFrame: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "bench-checks-"));
  const emulator = await ComfyUIEmulator.start({ jobMs, bytesPerFrame });
  try {
    for (let i = 0; i < runs; i += 1) {
      // Jobs of varying length, so the end of a job falls anywhere within a polling period.
      emulator.setOptions({ refuseWebsockets: false, jobMs: Math.round(jobMs * (0.5 + Math.random())) });
      let watcher: NodeJS.Timeout | undefined;
      if (dropWebsocket) {
        // Once the job shows progress, cut the websocket and refuse reconnects: the CLI must poll.
        const seen = emulator.events.length;
        watcher = setInterval(() => {
          if (emulator.events.slice(seen).some((e) => e.type === "progress")) {
            clearInterval(watcher);
            emulator.setOptions({ refuseWebsockets: true });
            emulator.dropWebsockets();
          }
        }, 5);
      }
      const run = await runGenerate(emulator.url, out);
      clearInterval(watcher);
      const verdict = parseCheckOutput(run.stdout);
      if (verdict.check !== "generate") throw new Error("unexpected verdict");
      if (dropWebsocket && !run.stderr.includes("websocket dropped")) throw new Error("the websocket was not dropped during the job");
      const doneAt = verdict.promptId ? emulator.doneAt(verdict.promptId) : undefined;
      if (doneAt === undefined) throw new Error(`no executing {node: null} for the run: ${verdict.message}`);
      samples.push({ latencyMs: run.verdictAt - doneAt, fileBytes: verdict.fileBytes ?? 0, ok: verdict.ok });
    }
  } finally {
    await emulator.close();
    fs.rmSync(out, { recursive: true, force: true });
  }
  return samples;
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? NaN;
}

function report(label: string, samples: Sample[]): void {
  const sorted = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  const failed = samples.filter((s) => !s.ok).length;
  console.log(
    `${label}: median ${percentile(sorted, 50)} ms, p95 ${percentile(sorted, 95)} ms, ` +
      `min ${sorted[0]} ms, max ${sorted.at(-1)} ms over ${samples.length} runs` +
      `${failed ? ` (${failed} verdicts not ok!)` : ""}`,
  );
}

async function main(): Promise<void> {
  const runs = arg("runs", 10);
  const jobMs = arg("job-ms", 400);
  const bytesPerFrame = arg("bytes-per-frame", 100_000);
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  console.log(`verdict latency after the job ends (executing {node: null} → verdict line on stdout), smoke workflow, ` +
    `${runs} runs each, jobs of ${jobMs / 2}-${(jobMs * 3) / 2} ms, video ${((16 * (bytesPerFrame + 4)) / 1e6).toFixed(1)} MB`);
  const live = await measure(false, runs, jobMs, bytesPerFrame);
  report("websocket", live);
  const polled = await measure(true, runs, jobMs, bytesPerFrame);
  report("websocket dropped (polling /history every 500 ms)", polled);
  console.log("goal: <= 500 ms");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
