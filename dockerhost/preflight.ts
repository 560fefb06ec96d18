// The local target's pre-flight, run before its container is created: the Docker host must have the NVIDIA
// runtime, and the disk under the workspace volume must hold the variant's weights still to download.
import * as path from "node:path";
import { z } from "zod";
import { filesFor, type ModelManifest, type ModelVariant } from "../models";
import { DockerUnavailable, runDocker, tail } from "./docker";

export interface PreflightOptions {
  /** The image the container will run (pulled here when the host does not have it yet). */
  image: string;
  /** The Docker volume mounted at `mountPath`. */
  volume: string;
  mountPath: string;
  /** MODELS_DIR inside the container: where download-models.sh puts the weights. */
  modelsDir: string;
  variant: ModelVariant;
  /** The weights are in the image: nothing is downloaded, so no disk is needed for them. */
  bakedModels: boolean;
  manifest: ModelManifest;
  docker?: string;
  /** Deadline of a pull of the image (default 60 min); other docker calls get 2 min. */
  pullTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PreflightVerdict {
  ok: boolean;
  message: string;
  runtimes: string[];
  /** Bytes of the variant's files still to fetch (0 when baked or all present). */
  needBytes: number;
  /** Free bytes on the filesystem holding the models dir; null when not measured (baked weights). */
  freeBytes: number | null;
}

/** The GPU runtime the NVIDIA Container Toolkit registers with Docker (`nvidia-ctk runtime configure`). */
export const NVIDIA_RUNTIME = "nvidia";
const CALL_TIMEOUT_MS = 120_000;
const GB = 1e9;

/** A problem the user must fix on the Docker host; the message says what and how. */
export class PreflightFailure extends Error {}

const gb = (bytes: number) => `${(bytes / GB).toFixed(1)} GB`;

/** The runtimes `docker info` reports, or why the Docker host cannot be asked. */
export async function dockerRuntimes(opts: Pick<PreflightOptions, "docker">): Promise<string[]> {
  const run = await runDocker(["info", "--format", "{{json .Runtimes}}"], { docker: opts.docker, timeoutMs: CALL_TIMEOUT_MS });
  if (run.code !== 0) {
    throw new PreflightFailure(
      `docker info failed (exit ${run.code}): ${tail(run.stderr) || "no output"}. ` +
        "Fix: start the Docker daemon, and make sure this user may reach it (the docker group, or DOCKER_HOST / docker context)",
    );
  }
  const parsed = z.record(z.string(), z.unknown()).safeParse(safeJson(run.stdout.trim()));
  if (!parsed.success) throw new PreflightFailure(`docker info printed no runtimes object: ${JSON.stringify(run.stdout.slice(0, 200))}`);
  return Object.keys(parsed.data).sort();
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function nvidiaRuntimeProblem(runtimes: string[]): string | undefined {
  if (runtimes.includes(NVIDIA_RUNTIME)) return undefined;
  return (
    `the Docker host has no NVIDIA runtime (its runtimes: ${runtimes.join(", ") || "none"}), so the container could not see a GPU. ` +
    "Fix: install the NVIDIA Container Toolkit (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html), " +
    "then sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
  );
}

/** Where download-models.sh puts a file, and its partial download: `<models>/<target>/<file name>[.part]`. */
export function modelFilePaths(modelsDir: string, manifest: ModelManifest, variant: ModelVariant) {
  return filesFor(manifest, variant).map((file) => {
    const dest = path.posix.join(modelsDir, file.target, path.posix.basename(file.path));
    return { id: file.id, want: file.size ?? file.sizeEstimate, dest, part: `${dest}.part` };
  });
}

/**
 * Runs in the image, with the volume mounted: the free kB of the filesystem under the models dir (its nearest
 * existing parent), then the size of each file given that exists. Only POSIX sh, df and wc.
 */
export const MEASURE_SCRIPT = [
  'd=$1; shift; while [ ! -d "$d" ]; do d=$(dirname "$d"); done',
  'df -Pk "$d" | awk \'NR == 2 { print "free", $4 }\'',
  'for f in "$@"; do if [ -f "$f" ]; then printf "size %s %s\\n" "$(wc -c < "$f" | tr -d " ")" "$f"; fi; done',
].join("\n");

export interface DiskMeasure {
  freeBytes: number;
  sizes: Map<string, number>;
}

export function parseMeasure(stdout: string): DiskMeasure {
  let freeKb: number | undefined;
  const sizes = new Map<string, number>();
  for (const line of stdout.split("\n")) {
    const free = /^free (\d+)$/.exec(line.trim());
    if (free) freeKb = Number(free[1]);
    const size = /^size (\d+) (.+)$/.exec(line);
    if (size?.[2]) sizes.set(size[2], Number(size[1]));
  }
  if (freeKb === undefined) throw new PreflightFailure(`cannot read the free space from df in the image; it printed ${JSON.stringify(stdout.slice(0, 300))}`);
  return { freeBytes: freeKb * 1024, sizes };
}

/** Bytes still to fetch, counted as download-models.sh's check_disk counts them (a present or partial file counts). */
export function bytesStillNeeded(files: ReturnType<typeof modelFilePaths>, sizes: Map<string, number>): number {
  return files.reduce((need, f) => need + Math.max(0, f.want - (sizes.get(f.dest) ?? sizes.get(f.part) ?? 0)), 0);
}

async function ensureImage(opts: PreflightOptions): Promise<void> {
  const present = await runDocker(["image", "inspect", "--format", "{{.Id}}", opts.image], { docker: opts.docker, timeoutMs: CALL_TIMEOUT_MS });
  if (present.code === 0) return;
  opts.log?.(`pulling ${opts.image} (the container needs it anyway)…`);
  const pull = await runDocker(["pull", opts.image], { docker: opts.docker, timeoutMs: opts.pullTimeoutMs ?? 3_600_000, streamStderr: true });
  if (pull.code !== 0) {
    throw new PreflightFailure(
      `docker pull ${opts.image} failed (exit ${pull.code}): ${tail(pull.stderr) || "no output"}. ` +
        "Fix: docker login to its registry on this machine, or build the image here (image.build true)",
    );
  }
}

async function measureDisk(opts: PreflightOptions, files: ReturnType<typeof modelFilePaths>): Promise<DiskMeasure> {
  await ensureImage(opts);
  const args = ["run", "--rm", "--pull", "never", "--entrypoint", "/bin/sh", "-v", `${opts.volume}:${opts.mountPath}`];
  args.push(opts.image, "-c", MEASURE_SCRIPT, "sh", opts.modelsDir, ...files.flatMap((f) => [f.dest, f.part]));
  const run = await runDocker(args, { docker: opts.docker, timeoutMs: CALL_TIMEOUT_MS });
  if (run.code !== 0) {
    throw new PreflightFailure(`measuring the free disk of volume ${opts.volume} failed (exit ${run.code}): ${tail(run.stderr) || "no output"}`);
  }
  return parseMeasure(run.stdout);
}

/** Every pre-flight step; resolves to a verdict (ok or the first problem), rejects only on a bug. */
export async function runPreflight(opts: PreflightOptions): Promise<PreflightVerdict> {
  let runtimes: string[] = [];
  try {
    runtimes = await dockerRuntimes(opts);
    const noGpu = nvidiaRuntimeProblem(runtimes);
    if (noGpu) return { ok: false, message: noGpu, runtimes, needBytes: 0, freeBytes: null };
    opts.log?.(`Docker host runtimes: ${runtimes.join(", ")}`);
    if (opts.bakedModels) {
      const message = `NVIDIA runtime present; the ${opts.variant} weights are baked into the image, no disk needed for them`;
      return { ok: true, message, runtimes, needBytes: 0, freeBytes: null };
    }
    const files = modelFilePaths(opts.modelsDir, opts.manifest, opts.variant);
    const disk = await measureDisk(opts, files);
    const needBytes = bytesStillNeeded(files, disk.sizes);
    const where = `volume ${opts.volume} (${opts.modelsDir})`;
    if (needBytes > disk.freeBytes) {
      const message =
        `not enough disk for the ${opts.variant} weights: ${gb(needBytes)} still to download into ${where}, only ` +
        `${gb(disk.freeBytes)} free where Docker keeps the volume. Fix: free space there (docker system df shows what ` +
        "Docker holds), move Docker's data-root to a larger disk, or choose a smaller model.variant";
      return { ok: false, message, runtimes, needBytes, freeBytes: disk.freeBytes };
    }
    const message = `NVIDIA runtime present; ${gb(needBytes)} of ${opts.variant} weights to download, ${gb(disk.freeBytes)} free in ${where}`;
    return { ok: true, message, runtimes, needBytes, freeBytes: disk.freeBytes };
  } catch (error) {
    if (error instanceof PreflightFailure || error instanceof DockerUnavailable) {
      return { ok: false, message: error.message, runtimes, needBytes: 0, freeBytes: null };
    }
    throw error;
  }
}
