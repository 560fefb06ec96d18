// Runs the docker CLI with a deadline, capturing its output; its progress (a pull) can go to our stderr.
import { spawn } from "node:child_process";
import * as path from "node:path";

export interface DockerRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Why the docker CLI could not be run at all, or ran past its deadline. */
export class DockerUnavailable extends Error {}

export interface DockerCallOptions {
  /** The docker CLI; default `docker` from PATH (DOCKER_HOST and contexts are honoured as the CLI honours them). */
  docker?: string;
  timeoutMs: number;
  /** Copy the CLI's stderr to ours as it comes (progress of a pull). */
  streamStderr?: boolean;
}

export function runDocker(args: string[], opts: DockerCallOptions): Promise<DockerRun> {
  const cli = opts.docker ?? "docker";
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new DockerUnavailable(`\`${path.basename(cli)} ${args[0] ?? ""}\` did not finish within ${opts.timeoutMs / 1000} s`));
    }, opts.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (opts.streamStderr) process.stderr.write(chunk);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new DockerUnavailable(
          error.code === "ENOENT"
            ? `the docker CLI (${cli}) is not on PATH: install Docker Engine (https://docs.docker.com/engine/install/) on this machine`
            : `cannot run ${cli}: ${error.message}`,
        ),
      );
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** The last few lines of a CLI's stderr, for an error message. */
export function tail(text: string, lines = 5): string {
  return text.trim().split("\n").slice(-lines).join("\n").trim();
}
