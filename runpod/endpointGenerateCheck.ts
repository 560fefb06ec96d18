// The generation check of a Serverless endpoint: send the worker's job contract (workflow, inputs as base64,
// seed) to /run, follow /status with progress, cancel the job at the deadline, then fetch the video the
// worker returns (base64 or an https URL) and judge it exactly as the pod's generate check does.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { isBuiltinWorkflow, type EndpointGenerateResult, type LoadedWorkflow } from "../checks";
import { pause, describeWorkers, type EndpointCheckOptions } from "./endpointHealthCheck";
import { describeJobError, fetchVideo, judgeVideo, workerOutputSchema } from "./endpointVideo";
import { isKind } from "./errors";
import { RUN_PAYLOAD_LIMIT_BYTES, isFinalJobState, type JobStatus } from "./jobSchemas";
import { scaledMs } from "./timing";

export interface EndpointGenerateOptions extends EndpointCheckOptions {
  workflow: LoadedWorkflow;
  outDir: string;
  seed?: number;
  /** Time to download and check the video once the job is done, apart from the deadline. Default 120 s. */
  collectTimeoutMs?: number;
}

type Verdict = EndpointGenerateResult;

export function failedEndpointGenerate(url: string, workflow: string, durationMs: number, message: string): Verdict {
  return {
    check: "endpointGenerate", ok: false, message, url, durationMs, workflow, jobId: null, jobStatus: null, workerId: null,
    coldStartSeconds: null, runSeconds: null, frames: null, width: null, height: null, fileBytes: null, videoPath: null,
  };
}

/** The job `input` of the worker contract (shared/serverless-contract: workflow, inputs, seed, timeoutSeconds). */
export function jobInput(workflow: LoadedWorkflow, seed: number | undefined, timeoutSeconds: number): Record<string, unknown> {
  const seen = new Set<string>();
  const inputs = workflow.assets
    .filter((a) => (seen.has(a.fileName) ? false : (seen.add(a.fileName), true)))
    .map((a) => ({ name: a.fileName, data: fs.readFileSync(a.localPath).toString("base64") }));
  return {
    workflow: isBuiltinWorkflow(workflow.name) ? workflow.name : workflow.prompt,
    inputs,
    ...(seed !== undefined ? { seed } : {}),
    timeoutSeconds: Math.round(timeoutSeconds),
  };
}

function progressText(output: unknown): string | null {
  if (output === undefined || output === null) return null;
  return (typeof output === "string" ? output : JSON.stringify(output)).slice(0, 300);
}

export async function runEndpointGenerateCheck(options: EndpointGenerateOptions): Promise<Verdict> {
  const { client, progress, workflow } = options;
  const url = client.endpointUrl;
  const startedAt = Date.now();
  const endsAt = startedAt + options.timeoutSeconds * 1000;
  const result = failedEndpointGenerate(url, workflow.name, 0, "");
  const finish = (ok: boolean, message: string): Verdict => ({ ...result, ok, message, durationMs: Date.now() - startedAt });

  const input = jobInput(workflow, options.seed, options.timeoutSeconds);
  const bytes = Buffer.byteLength(JSON.stringify({ input }));
  if (bytes > RUN_PAYLOAD_LIMIT_BYTES) {
    return finish(false, `The job request would be ${(bytes / 1e6).toFixed(1)} MB (the workflow and its input files as base64); /run takes at most 10 MB. Use smaller input files.`);
  }
  let jobId: string;
  try {
    const ref = await client.run(input);
    jobId = ref.id;
    result.jobId = jobId;
    result.jobStatus = ref.status;
    progress.info(`job ${jobId} submitted (${workflow.name}, ${(bytes / 1024).toFixed(0)} KB): ${ref.status}`);
  } catch (error) {
    return finish(false, `Submitting the job failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  const interval = scaledMs(options.pollIntervalMs ?? 2000);
  let status: JobStatus | null = null;
  let lastState = "";
  let lastProgress: string | null = null;
  let polls = 0;
  const note = (s: JobStatus): void => {
    result.jobStatus = s.status;
    if (s.workerId) result.workerId = s.workerId;
    if (s.delayTime !== undefined) result.coldStartSeconds = s.delayTime / 1000;
    if (s.executionTime !== undefined) result.runSeconds = s.executionTime / 1000;
  };
  while (!(status && isFinalJobState(status.status))) {
    if (options.signal?.aborted || Date.now() >= endsAt) return stopJob(options, result, jobId, lastProgress, finish);
    await pause(Math.min(interval, Math.max(0, endsAt - Date.now())), options.signal);
    if (options.signal?.aborted || Date.now() >= endsAt) return stopJob(options, result, jobId, lastProgress, finish);
    polls += 1;
    try {
      status = await client.status(jobId);
    } catch (error) {
      if (isKind(error, "unauthorized", "forbidden", "notFound", "unexpected")) {
        return finish(false, `Following job ${jobId} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      progress.throttled(`status of job ${jobId} not readable right now (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); retrying`);
      continue;
    }
    note(status);
    const waited = ((Date.now() - startedAt) / 1000).toFixed(0);
    if (status.status !== lastState) {
      lastState = status.status;
      if (status.status === "IN_PROGRESS") {
        const queued = status.delayTime !== undefined ? ` after ${(status.delayTime / 1000).toFixed(1)} s in the queue (cold start included)` : "";
        progress.info(`job ${jobId} IN_PROGRESS on worker ${status.workerId ?? "?"}${queued}`);
      } else progress.info(`job ${jobId} ${status.status}`);
    }
    if (status.status === "IN_QUEUE" && polls % 3 === 1) {
      try {
        const health = await client.health();
        progress.throttled(`waiting in the endpoint's queue (${waited} s): ${health.jobs.inQueue} queued, ${health.jobs.inProgress} running; workers ${describeWorkers(health.workers)}`);
      } catch {
        progress.throttled(`waiting in the endpoint's queue (${waited} s)`);
      }
    }
    if (status.status === "IN_PROGRESS") {
      const text = progressText(status.output);
      if (text !== null && text !== lastProgress) {
        lastProgress = text;
        progress.info(`worker: ${text}`);
      }
    }
  }

  switch (status.status) {
    case "FAILED":
      return finish(false, `The endpoint's worker failed job ${jobId}: ${describeJobError(status.error)}`);
    case "TIMED_OUT":
      return finish(false, `RunPod stopped job ${jobId} at the endpoint's execution timeout after ${result.runSeconds ?? "?"} s on the worker: raise the endpoint's executionTimeoutMs (the first run also loads the models) or choose a faster GPU.`);
    case "CANCELLED":
      return finish(false, `Job ${jobId} was cancelled outside this check (console, /cancel or /purge-queue).`);
    default:
      break;
  }
  const output = workerOutputSchema().safeParse(status.output);
  if (!output.success) {
    return finish(false, `Job ${jobId} COMPLETED but its output is not the worker contract's (${z.prettifyError(output.error).replace(/\s+/g, " ")}): expected {promptId, video: {filename, base64 | url}}.`);
  }
  const collectTimeoutMs = options.collectTimeoutMs ?? 120_000;
  let video: Buffer;
  try {
    video = await fetchVideo(output.data.video, collectTimeoutMs);
  } catch (error) {
    return finish(false, `Job ${jobId} COMPLETED but its video could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  const name = path.basename(output.data.video.filename ?? "").replace(/[^A-Za-z0-9._-]/g, "_") || `${jobId}.mp4`;
  const file = path.resolve(options.outDir, name);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, video);
    result.videoPath = file;
  } catch (error) {
    progress.info(`could not save the video to ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const judged = judgeVideo(video, workflow.expect, name, result.videoPath);
  result.fileBytes = video.length;
  if (!judged.ok) return finish(false, judged.message);
  result.frames = judged.info.frames;
  result.width = judged.info.width;
  result.height = judged.info.height;
  const times = ` (cold start and queue ${result.coldStartSeconds?.toFixed(1) ?? "?"} s, run ${result.runSeconds?.toFixed(1) ?? "?"} s)`;
  return finish(true, `${judged.message}${times}.`);
}

/** Deadline or cancellation: POST /cancel, so the job stops costing GPU time. */
async function stopJob(options: EndpointGenerateOptions, result: Verdict, jobId: string, lastProgress: string | null, finish: (ok: boolean, m: string) => Verdict): Promise<Verdict> {
  const cancelled = options.signal?.aborted === true;
  const where = result.jobStatus === "IN_PROGRESS"
    ? `running on worker ${result.workerId ?? "?"}${lastProgress ? `, last progress: ${lastProgress}` : ""}`
    : "still waiting in the endpoint's queue: no worker took it (cold start, no GPU capacity, or workersMax reached)";
  let action: string;
  try {
    const ref = await options.client.cancel(jobId);
    action = `sent /cancel (job now ${ref.status})`;
    result.jobStatus = ref.status;
  } catch (error) {
    action = `/cancel failed (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); cancel job ${jobId} in the RunPod console`;
  }
  if (cancelled) return finish(false, `The check was cancelled (${where}); ${action}.`);
  return finish(false, `Job ${jobId} did not finish within ${options.timeoutSeconds} s (${where}); ${action}. Raise --timeout (a cold start also loads the models) or the endpoint's workers.`);
}
