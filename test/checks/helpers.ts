// Shared by the checks tests: run the compiled CLI as a separate process, and make scratch workflows.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseCheckOutput, type CheckResult } from "../../checks";
import { writeMp4 } from "../emulators/mp4";

export const CLI = path.resolve(__dirname, "..", "..", "checks", "cli.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI; `terminateWhen` is polled and sends the process SIGTERM once it returns true. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, terminateWhen?: () => boolean): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env, ...env };
    if (!("COMFYUI_AUTH_HEADER" in env)) delete childEnv.COMFYUI_AUTH_HEADER;
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    const watcher = terminateWhen
      ? setInterval(() => {
          if (!terminateWhen()) return;
          clearInterval(watcher);
          child.kill("SIGTERM");
        }, 10)
      : undefined;
    child.on("close", (code) => {
      clearInterval(watcher);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

export function verdictOf(run: CliRun): CheckResult {
  return parseCheckOutput(run.stdout);
}

export function scratchDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `checks-${prefix}-`));
}

/** Input files the dance workflow loads, as small stand-ins. */
export function writeDanceAssets(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "steadydancer_ref.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
  fs.writeFileSync(path.join(dir, "steadydancer_drive.mp4"), writeMp4({ width: 64, height: 64, frames: 8 }));
}

/** A small API-format workflow: LoadImage → VHS_VideoCombine. */
export function writeLoaderWorkflow(dir: string, imageName = "ref.png"): string {
  const file = path.join(dir, "loader.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      "1": { class_type: "LoadImage", inputs: { image: imageName } },
      "2": { class_type: "WanVideoSampler", inputs: { image: ["1", 0] } },
      "3": { class_type: "VHS_VideoCombine", inputs: { images: ["2", 0], frame_rate: 8, loop_count: 0, filename_prefix: "custom/run", format: "video/h264-mp4", pingpong: false, save_output: true } },
    }),
  );
  return file;
}
