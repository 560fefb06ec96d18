// generate: run a workflow on ComfyUI and judge the video it writes.
// Websocket first (our client id), then uploads, then POST /prompt once. Events are followed live; the job
// is done on `executing {node: null}` for our prompt, which ComfyUI sends after it stored the history
// (`execution_success` comes before that, so history is not fetched then). When the websocket drops,
// /history and /queue are polled instead; a job in neither was lost by a restarted ComfyUI.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  executingSchema,
  executionErrorSchema,
  executionInterruptedSchema,
  executionStartSchema,
  nodeErrorsSchema,
  progressSchema,
  progressStateSchema,
  type ApiWorkflow,
  type FileRef,
  type HistoryEntry,
} from "./comfyApi";
import { ComfyClient, ComfyRequestError, PromptRejectedError, sleep } from "./comfyClient";
import { Mailbox, ComfySocket, SocketConnectError, type SocketEvent } from "./comfySocket";
import { clientFor, describeRequestFailure, errorText, hintFor, progressOf, type CheckOptions } from "./common";
import { Deadline } from "./deadline";
import { describeExecutionError, describeInterrupted, describeRejection, rejectionLines } from "./failureText";
import { preflightModels } from "./modelPreflight";
import { inspectMp4 } from "./mp4";
import type { Progress } from "./progress";
import type { GenerateResult } from "./result";
import type { LoadedWorkflow, VideoExpectation } from "./workflows";

export interface GenerateOptions extends CheckOptions {
  workflow: LoadedWorkflow;
  /** Where the video is saved. */
  outDir: string;
  /** Polling period after the websocket dropped. Default 500 ms. */
  pollIntervalMs?: number;
  /** Websocket connect timeout. Default 10 s. */
  wsConnectTimeoutMs?: number;
  /** Websocket ping period (liveness). Default 10 s. */
  wsPingIntervalMs?: number;
  /** Poll /history once when the websocket was quiet this long (a missed event must not hang us). Default 15 s. */
  wsQuietPollMs?: number;
  /** Wait before trying to reconnect a dropped websocket. Default 2 s. */
  reconnectDelayMs?: number;
  /** Once the job is done: time to read its history and download the video. Default COLLECT_TIMEOUT_MS. */
  collectTimeoutMs?: number;
}

/**
 * What reading the results of a finished job may take: its history, the /view download and the MP4 check.
 * It starts when the job is done and does not depend on what is left of the check's deadline, so a job that
 * ends just before --timeout is not failed for a download that cannot fit in the seconds left. A 50 MB video
 * over a 0.5 MB/s link fits.
 */
export const COLLECT_TIMEOUT_MS = 120_000;
/** Per request when the deadline has passed: the last look at /history, then POST /interrupt and the queue delete. */
export const STOP_JOB_TIMEOUT_MS = 5_000;
/** The most generate may legitimately run past its deadline: stopping the job, or collecting a job that just ended. */
export const PAST_DEADLINE_MS = 2 * STOP_JOB_TIMEOUT_MS + COLLECT_TIMEOUT_MS;

type Outcome = { kind: "done"; entry: HistoryEntry } | { kind: "failed"; message: string };
type PollState = Outcome | { kind: "waiting"; state: "queued" | "running" | "down" };

const VIDEO_EXTENSIONS = new Set([".mp4", ".m4v", ".mov"]);

export function failedGenerate(url: string, workflow: string, durationMs: number, message: string): GenerateResult {
  return {
    check: "generate", ok: false, message, url, durationMs, workflow,
    promptId: null, queueMs: null, executionMs: null, frames: null, width: null, height: null, fileBytes: null, videoPath: null,
  };
}

/** Video files among a finished prompt's outputs: VHS `gifs`, and `images` flagged `animated` (core SaveVideo). */
export function videoOutputs(entry: HistoryEntry): FileRef[] {
  const refs: FileRef[] = [];
  const nodeIds = Object.keys(entry.outputs).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  for (const nodeId of nodeIds) {
    const output = entry.outputs[nodeId];
    if (!output) continue;
    refs.push(...(output.gifs ?? []));
    if (output.animated?.some(Boolean)) refs.push(...(output.images ?? []));
  }
  return refs.filter((ref) => ref.type === "output");
}

function describeOutputs(entry: HistoryEntry): string {
  const parts = Object.entries(entry.outputs).flatMap(([nodeId, output]) =>
    [...(output.gifs ?? []), ...(output.images ?? [])].map((r) => `node ${nodeId}: ${r.subfolder ? `${r.subfolder}/` : ""}${r.filename} (${r.type})`),
  );
  return parts.length ? parts.join(", ") : "none";
}

export function expectationMismatches(actual: { width: number; height: number; frames: number }, expect: VideoExpectation): string[] {
  const problems: string[] = [];
  if (expect.width !== undefined && expect.height !== undefined && (actual.width !== expect.width || actual.height !== expect.height)) {
    problems.push(`it is ${actual.width}x${actual.height}, the workflow asked for ${expect.width}x${expect.height}`);
  } else {
    if (expect.width !== undefined && actual.width !== expect.width) problems.push(`it is ${actual.width} wide, expected ${expect.width}`);
    if (expect.height !== undefined && actual.height !== expect.height) problems.push(`it is ${actual.height} high, expected ${expect.height}`);
  }
  if (expect.frames !== undefined && actual.frames !== expect.frames) {
    problems.push(`it has ${actual.frames} frames, the workflow asked for ${expect.frames}`);
  }
  return problems;
}

function describeExpectation(expect: VideoExpectation): string {
  const size = expect.width !== undefined && expect.height !== undefined ? `${expect.width}x${expect.height}` : null;
  const frames = expect.frames !== undefined ? `${expect.frames} frames` : null;
  const parts = [size, frames].filter((p): p is string => p !== null);
  return parts.length ? parts.join(", ") : "any size and length";
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

function historyFailure(entry: HistoryEntry): string | null {
  if (!entry.status || entry.status.status_str === "success") return null;
  for (const [event, data] of entry.status.messages) {
    if (event === "execution_error") {
      const parsed = executionErrorSchema.safeParse(data);
      if (parsed.success) return describeExecutionError(parsed.data);
    }
    if (event === "execution_interrupted") {
      const parsed = executionInterruptedSchema.safeParse(data);
      if (parsed.success) return describeInterrupted(parsed.data);
    }
  }
  return `ComfyUI reports the job as "${entry.status.status_str}" without an error message; look at the ComfyUI log on the pod.`;
}

/** Runs the generate check; never throws for a failed check (only for programming errors). */
export async function runGenerateCheck(options: GenerateOptions): Promise<GenerateResult> {
  const deadline = new Deadline(options.timeoutSeconds * 1000, options.signal);
  try {
    return await new GenerateRun(options, deadline).run();
  } finally {
    deadline.dispose();
  }
}

/** The clock and client for reading a finished job's results (see COLLECT_TIMEOUT_MS). */
interface Collector {
  deadline: Deadline;
  client: ComfyClient;
}

class GenerateRun {
  private readonly progress: Progress;
  private readonly client: ComfyClient;
  private readonly mailbox = new Mailbox<SocketEvent>();
  private readonly clientId = randomUUID();
  private readonly result: GenerateResult;
  private socket: ComfySocket | null = null;
  private promptId: string | null = null;
  private postedAt = 0;
  private startedAt: number | null = null;
  private currentNode: string | null = null;
  private lastPercent: number | null = null;
  private downSince: number | null = null;
  private lastPollState = "";
  private nextReconnectAt = 0;
  /** Per-node errors of a prompt ComfyUI queued anyway (200 with node_errors), as lines. */
  private skippedAtQueue: string[] = [];
  private collecting: Collector | null = null;

  constructor(private readonly options: GenerateOptions, private readonly deadline: Deadline) {
    this.progress = progressOf(options);
    this.client = clientFor(options, deadline);
    this.result = failedGenerate(this.client.baseUrl, options.workflow.name, 0, "");
  }

  async run(): Promise<GenerateResult> {
    const { workflow } = this.options;
    this.progress.info(`generate: workflow ${workflow.name} (expecting ${describeExpectation(workflow.expect)}) on ${this.client.baseUrl}, up to ${this.options.timeoutSeconds} s`);
    try {
      const failure = await this.prepareAndQueue();
      if (failure) return this.fail(failure);
      const outcome = await this.follow();
      if (outcome.kind === "failed") return this.fail(outcome.message);
      return await this.judgeOutputs(outcome.entry);
    } finally {
      this.socket?.close();
      this.collecting?.deadline.dispose();
    }
  }

  /** Started when the job is known to be done; the check's own deadline no longer applies after that. */
  private collector(): Collector {
    if (!this.collecting) {
      const deadline = new Deadline(this.options.collectTimeoutMs ?? COLLECT_TIMEOUT_MS, this.options.signal);
      this.collecting = { deadline, client: clientFor(this.options, deadline) };
    }
    return this.collecting;
  }

  /** Why reading a finished job's results failed, told apart from the job failing. */
  private collectFailure(what: string, error: unknown): string {
    const { deadline } = this.collector();
    if (deadline.stoppedBecause === "cancelled") return `The check was cancelled while ${what}; the job itself had finished.`;
    if (deadline.stoppedBecause === "timeout" || (error instanceof ComfyRequestError && error.kind === "timeout")) {
      return (
        `The job finished, but ${what} did not complete within ${deadline.timeoutSeconds} s: the link to ComfyUI (or a proxy in front of it) ` +
        "is too slow or stalled. The file stays in ComfyUI's output folder; run the check again."
      );
    }
    return `${what.charAt(0).toUpperCase()}${what.slice(1)} failed: ${describeRequestFailure(error)}. ${hintFor(error)}`.trim();
  }

  private fail(message: string): GenerateResult {
    this.progress.info(`FAILED: ${message}`);
    return { ...this.result, ok: false, message, durationMs: this.deadline.elapsedMs() };
  }

  private nodeLabel(nodeId: string | null | undefined): string {
    if (!nodeId) return "?";
    const classType = this.options.workflow.prompt[nodeId]?.class_type;
    return classType ? `${nodeId} (${classType})` : nodeId;
  }

  // ------------------------------------------------------------ websocket, uploads, POST /prompt
  private async openSocket(): Promise<boolean> {
    try {
      this.socket = await ComfySocket.connect(
        this.client.websocketUrl(this.clientId),
        {
          headers: this.client.headers(),
          connectTimeoutMs: this.deadline.cap(this.options.wsConnectTimeoutMs ?? 10_000),
          pingIntervalMs: this.options.wsPingIntervalMs ?? 10_000,
        },
        (event) => this.mailbox.push(event),
      );
      return true;
    } catch (error) {
      this.socket = null;
      if (error instanceof SocketConnectError && (error.status === 401 || error.status === 403)) throw error;
      this.progress.info(`websocket unavailable (${errorText(error)}); following the job by polling /history and /queue`);
      return false;
    }
  }

  /** Waits while ComfyUI is still booting, so the check also works right after a deploy. */
  private async waitUntilAnswering(): Promise<string | null> {
    let lastState = "";
    let backoff = 250;
    for (;;) {
      try {
        await this.client.systemStats();
        return null;
      } catch (error) {
        const transient = error instanceof ComfyRequestError && error.transient;
        if (!transient || this.deadline.expired()) {
          const why = this.deadline.expired() ? `it did not answer within ${this.options.timeoutSeconds} s` : describeRequestFailure(error);
          return `ComfyUI at ${this.client.baseUrl} is not usable: ${why}. ${hintFor(error)}`.trim();
        }
        const state = describeRequestFailure(error);
        if (state !== lastState) this.progress.info(`waiting for ComfyUI to answer: ${state}`);
        lastState = state;
        await sleep(Math.min(backoff, this.deadline.remainingMs()), this.deadline.signal);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  /** Returns a failure message, or null once the prompt is queued. */
  private async prepareAndQueue(): Promise<string | null> {
    const unusable = await this.waitUntilAnswering();
    if (unusable) return unusable;
    const models = await preflightModels(this.client, this.options.workflow.prompt);
    for (const note of models.notes) this.progress.info(note);
    if (models.kind === "failed") return models.message;
    try {
      await this.openSocket();
    } catch (error) {
      return `ComfyUI refused the websocket (${errorText(error)}). ${hintFor(new ComfyRequestError("auth", ""))}`;
    }
    const prompt: ApiWorkflow = structuredClone(models.prompt);
    for (const asset of this.options.workflow.assets) {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(asset.localPath);
      } catch (error) {
        return `cannot read input file ${asset.localPath}: ${errorText(error)}`;
      }
      try {
        const stored = await this.client.uploadInput(asset.fileName, bytes);
        const name = stored.subfolder ? `${stored.subfolder}/${stored.name}` : stored.name;
        const node = prompt[asset.nodeId];
        if (node) node.inputs[asset.input] = name;
        this.progress.info(`uploaded ${asset.fileName} (${kib(bytes.length)}) for node ${this.nodeLabel(asset.nodeId)}${name !== asset.fileName ? ` as ${name}` : ""}`);
      } catch (error) {
        return `uploading ${asset.fileName} to ${this.client.baseUrl}/api/upload/image failed: ${describeRequestFailure(error)}. ${hintFor(error)}`.trim();
      }
    }
    this.postedAt = Date.now();
    try {
      const queued = await this.client.queuePrompt(prompt, this.clientId);
      this.promptId = queued.prompt_id;
      this.result.promptId = queued.prompt_id;
      this.progress.info(`queued as prompt ${queued.prompt_id} (number ${queued.number})`);
      // ComfyUI drops the outputs that need an invalid node and runs the rest; worth knowing when a video is missing.
      const skipped = nodeErrorsSchema.safeParse(queued.node_errors);
      this.skippedAtQueue = skipped.success ? rejectionLines({ error: "", node_errors: skipped.data }) : [];
      if (this.skippedAtQueue.length > 0) this.progress.info(`ComfyUI left out invalid nodes: ${this.skippedAtQueue.join("; ")}`);
      return null;
    } catch (error) {
      if (error instanceof PromptRejectedError) {
        for (const line of rejectionLines(error.rejection)) this.progress.info(`  ${line}`);
        return describeRejection(error.rejection, prompt);
      }
      const ambiguous = error instanceof ComfyRequestError && (error.kind === "timeout" || error.kind === "unreachable" || error.kind === "aborted");
      return (
        `POST /prompt failed: ${describeRequestFailure(error)}.` +
        (ambiguous ? " The job may or may not have been queued; it was not sent again (that could run it twice)." : "") +
        ` ${hintFor(error)}`
      ).trim();
    }
  }

  // ------------------------------------------------------------ following the job
  private async follow(): Promise<Outcome> {
    const pollInterval = this.options.pollIntervalMs ?? 500;
    const quietPoll = this.options.wsQuietPollMs ?? 15_000;
    for (;;) {
      if (this.deadline.expired()) return this.stopJob();
      if (this.socket) {
        const event = await this.mailbox.next(Math.min(this.deadline.remainingMs(), quietPoll), this.deadline.signal);
        if (this.deadline.expired()) return this.stopJob();
        if (!event) {
          const state = await this.pollOnce();
          if (state.kind !== "waiting") return state;
          continue;
        }
        if (event.kind === "closed") {
          this.progress.info(`websocket dropped (${event.reason}); following the job by polling /history and /queue`);
          this.socket = null;
          this.nextReconnectAt = Date.now() + (this.options.reconnectDelayMs ?? 2_000);
          continue;
        }
        const outcome = await this.onMessage(event.type, event.data);
        if (outcome) return outcome;
      } else {
        const state = await this.pollOnce();
        if (state.kind !== "waiting") return state;
        if (state.state !== "down" && Date.now() >= this.nextReconnectAt && (await this.reconnect())) continue;
        await sleep(Math.min(pollInterval, this.deadline.remainingMs()), this.deadline.signal);
      }
    }
  }

  /** Reconnects the websocket; then checks history once, since events sent while we were away are lost. */
  private async reconnect(): Promise<boolean> {
    this.nextReconnectAt = Date.now() + Math.max(this.options.reconnectDelayMs ?? 2_000, 1_000) * 2;
    this.mailbox.clear();
    try {
      if (!(await this.openSocket())) return false;
    } catch {
      return false;
    }
    this.progress.info("websocket reconnected");
    this.mailbox.push({ kind: "message", type: "_recheck", data: null, at: Date.now() });
    return true;
  }

  private async onMessage(type: string, data: unknown): Promise<Outcome | null> {
    if (type === "_recheck") {
      const state = await this.pollOnce();
      return state.kind === "waiting" ? null : state;
    }
    const scoped = (data as { prompt_id?: unknown } | null)?.prompt_id;
    if (scoped !== this.promptId) return null; // status broadcasts and other clients' prompts
    switch (type) {
      case "execution_start": {
        if (executionStartSchema.safeParse(data).success) this.markStarted();
        return null;
      }
      case "executing": {
        const parsed = executingSchema.safeParse(data);
        if (!parsed.success) return null;
        if (parsed.data.node === null) return this.doneFromHistory();
        this.markStarted();
        if (parsed.data.node !== this.currentNode) {
          this.currentNode = parsed.data.node;
          this.lastPercent = null;
          this.progress.throttled(`running node ${this.nodeLabel(parsed.data.node)}`);
        }
        return null;
      }
      case "progress": {
        const parsed = progressSchema.safeParse(data);
        if (!parsed.success || parsed.data.max <= 0) return null;
        this.showPercent(parsed.data.node ?? this.currentNode, parsed.data.value, parsed.data.max);
        return null;
      }
      case "progress_state": {
        const parsed = progressStateSchema.safeParse(data);
        if (!parsed.success) return null;
        const running = Object.entries(parsed.data.nodes).find(([, n]) => n.state === "running" && n.max > 1);
        if (running) this.showPercent(running[0], running[1].value, running[1].max);
        return null;
      }
      case "execution_error": {
        if (this.startedAt !== null) this.result.executionMs = Date.now() - this.startedAt;
        const parsed = executionErrorSchema.safeParse(data);
        return { kind: "failed", message: parsed.success ? describeExecutionError(parsed.data) : "ComfyUI reported an execution error it did not describe." };
      }
      case "execution_interrupted": {
        const parsed = executionInterruptedSchema.safeParse(data);
        return { kind: "failed", message: describeInterrupted(parsed.success ? parsed.data : {}) };
      }
      default:
        return null; // execution_cached, executed, execution_success, previews…
    }
  }

  private markStarted(): void {
    if (this.startedAt !== null) return;
    this.startedAt = Date.now();
    this.result.queueMs = this.startedAt - this.postedAt;
    this.progress.info(`started after ${(this.result.queueMs / 1000).toFixed(1)} s in the queue`);
  }

  private showPercent(nodeId: string | null, value: number, max: number): void {
    const percent = Math.floor((value / max) * 100);
    this.lastPercent = percent;
    if (nodeId) this.currentNode = nodeId;
    this.progress.throttled(`node ${this.nodeLabel(nodeId)}: ${percent} % (${value}/${max}), ${(this.deadline.elapsedMs() / 1000).toFixed(0)} s elapsed`);
  }

  /** After `executing {node: null}`: the history is written by then; a few quick retries cover a proxy's lag. */
  private async doneFromHistory(): Promise<Outcome> {
    const promptId = this.promptId ?? "";
    const { client, deadline } = this.collector();
    let lastError: unknown = null;
    for (let attempt = 0; attempt < 10 && !deadline.expired(); attempt += 1) {
      try {
        const entry = await client.history(promptId);
        if (entry) return this.entryOutcome(entry);
      } catch (error) {
        lastError = error;
        if (error instanceof ComfyRequestError && error.kind === "aborted") break;
      }
      await sleep(100 * (attempt + 1), deadline.signal);
    }
    if (deadline.expired()) return { kind: "failed", message: this.collectFailure(`reading the history of prompt ${promptId}`, lastError) };
    return { kind: "failed", message: `ComfyUI said prompt ${promptId} finished but has no history for it; look at the ComfyUI log on the pod.` };
  }

  private entryOutcome(entry: HistoryEntry): Outcome {
    const now = Date.now();
    if (this.startedAt === null) {
      // Followed by polling only: take the execution time from ComfyUI's own timestamps.
      const stamps = new Map(entry.status?.messages.map(([event, data]) => [event, data.timestamp]) ?? []);
      const start = stamps.get("execution_start");
      const end = stamps.get("execution_success") ?? stamps.get("execution_error");
      if (typeof start === "number" && typeof end === "number") this.result.executionMs = Math.max(0, end - start);
    } else {
      this.result.executionMs = now - this.startedAt;
    }
    const failure = historyFailure(entry);
    return failure ? { kind: "failed", message: failure } : { kind: "done", entry };
  }

  /** One look at /history and /queue. */
  private async pollOnce(): Promise<PollState> {
    const promptId = this.promptId ?? "";
    try {
      // Single attempts: a ComfyUI that does not answer is a state to report, not something to hide.
      const entry = await this.client.history(promptId, false);
      if (entry) return this.entryOutcome(entry);
      const queue = await this.client.queue(false);
      const wasDown = this.downSince;
      this.downSince = null;
      if (wasDown !== null) this.progress.info(`ComfyUI answers again after ${((Date.now() - wasDown) / 1000).toFixed(0)} s`);
      if (queue.running.includes(promptId)) {
        this.markStarted();
        const what = this.currentNode ? `node ${this.nodeLabel(this.currentNode)}` : "the job";
        this.noteState(`still running ${what}, ${(this.deadline.elapsedMs() / 1000).toFixed(0)} s elapsed${this.socket ? "" : " (polling)"}`);
        return { kind: "waiting", state: "running" };
      }
      const position = queue.pending.indexOf(promptId);
      if (position >= 0) {
        this.noteState(`waiting in the queue (position ${position + 1 + queue.running.length})`);
        return { kind: "waiting", state: "queued" };
      }
      // It may have finished between the two requests.
      const late = await this.client.history(promptId, false);
      if (late) return this.entryOutcome(late);
      return {
        kind: "failed",
        message:
          `ComfyUI lost the job: prompt ${promptId} is neither queued, running nor in the history, so the process probably restarted (OOM kill?)` +
          `${wasDown !== null ? `; it did not answer for ${((Date.now() - wasDown) / 1000).toFixed(0)} s before` : ""}. ` +
          "Look at the pod's logs: a host-RAM OOM kill leaves no message in ComfyUI; use a pod with more RAM, the fp8 model or more block swap.",
      };
    } catch (error) {
      if (error instanceof ComfyRequestError && error.kind === "aborted") return { kind: "waiting", state: "down" };
      if (error instanceof ComfyRequestError && (error.kind === "auth" || error.kind === "shape")) {
        return { kind: "failed", message: `following the job failed: ${describeRequestFailure(error)}. ${hintFor(error)}`.trim() };
      }
      this.downSince ??= Date.now();
      this.noteState(`ComfyUI is not answering (${describeRequestFailure(error)}); waiting for it to come back`);
      return { kind: "waiting", state: "down" };
    }
  }

  private noteState(state: string): void {
    const key = state.replace(/\d+ s elapsed/, "");
    if (key === this.lastPollState) {
      this.progress.throttled(state);
      return;
    }
    this.lastPollState = key;
    this.progress.info(state);
  }

  /** Deadline or cancellation: stop our job on the server (interrupt if running, dequeue if pending), unless it is done. */
  private async stopJob(): Promise<Outcome> {
    const promptId = this.promptId ?? "";
    const cancelled = this.deadline.stoppedBecause === "cancelled";
    // The check's own client is bound to the expired deadline; this one gets a few seconds of its own.
    const cleanup = new ComfyClient({
      baseUrl: this.client.baseUrl,
      ...(this.options.auth ? { auth: this.options.auth } : {}),
      requestTimeoutMs: STOP_JOB_TIMEOUT_MS,
      attempts: 1,
    });
    if (!cancelled) {
      // The job may have ended since we last looked (between two polls, or its event is still on the way):
      // then its video counts, and there is nothing to interrupt.
      try {
        const entry = await cleanup.history(promptId, false);
        if (entry) {
          this.progress.info(`prompt ${promptId} finished just before the deadline`);
          return this.entryOutcome(entry);
        }
      } catch {
        // Not answering: stopping the job below is all that is left to try.
      }
    }
    const stopped = await Promise.allSettled([cleanup.interrupt(promptId), cleanup.deleteFromQueue(promptId)]);
    const sent = stopped.some((s) => s.status === "fulfilled");
    const where = this.downSince !== null
      ? "ComfyUI had stopped answering"
      : this.startedAt === null
        ? "it was still waiting in ComfyUI's queue"
        : `last activity: node ${this.nodeLabel(this.currentNode)}${this.lastPercent !== null ? ` at ${this.lastPercent} %` : ""}`;
    const action = sent ? "sent POST /interrupt for it" : "could not reach ComfyUI to interrupt it";
    if (cancelled) return { kind: "failed", message: `The check was cancelled (${where}); ${action}.` };
    return {
      kind: "failed",
      message:
        `The job did not finish within ${this.options.timeoutSeconds} s (${where}); ${action}. ` +
        "Raise --timeout (the first run also loads the models) or choose a faster GPU.",
    };
  }

  // ------------------------------------------------------------ the video
  private async judgeOutputs(entry: HistoryEntry): Promise<GenerateResult> {
    const refs = videoOutputs(entry);
    const ref = refs[0];
    if (!ref) {
      return this.fail(
        `The job finished but wrote no video output (outputs: ${describeOutputs(entry)}). ` +
          (this.skippedAtQueue.length > 0
            ? `ComfyUI ran only the outputs that validated and left out invalid nodes: ${this.skippedAtQueue.join("; ")}.`
            : "The workflow needs a VHS_VideoCombine with save_output=true (or SaveVideo); preview-only outputs are of type temp."),
      );
    }
    const ext = path.extname(ref.filename).toLowerCase();
    if (!VIDEO_EXTENSIONS.has(ext)) {
      return this.fail(`The output ${ref.filename} is not an MP4 (format ${ref.format ?? ext}): set VHS_VideoCombine's format to video/h264-mp4.`);
    }
    let bytes: Buffer;
    const collect = this.collector();
    try {
      bytes = await collect.client.view(ref, collect.deadline.cap(COLLECT_TIMEOUT_MS));
    } catch (error) {
      return this.fail(this.collectFailure(`downloading ${ref.subfolder ? `${ref.subfolder}/` : ""}${ref.filename} through /view`, error));
    }
    this.result.fileBytes = bytes.length;
    const videoPath = this.save(ref, bytes);
    this.result.videoPath = videoPath;
    const verdict = inspectMp4(bytes);
    if (!verdict.ok) {
      const reason = verdict.reason.charAt(0).toUpperCase() + verdict.reason.slice(1);
      return this.fail(`${reason} (${ref.filename}, ${kib(bytes.length)}${videoPath ? `, saved to ${videoPath}` : ""}). Look at the ComfyUI log for ffmpeg errors, and at free disk space on the pod.`);
    }
    const { width, height, frames } = verdict.info;
    Object.assign(this.result, { width, height, frames });
    const problems = expectationMismatches(verdict.info, this.options.workflow.expect);
    if (problems.length > 0) {
      return this.fail(`The video ${ref.filename} is a valid MP4 but ${problems.join(" and ")}${videoPath ? ` (saved to ${videoPath})` : ""}.`);
    }
    const timing = this.result.executionMs !== null ? ` in ${(this.result.executionMs / 1000).toFixed(1)} s` : "";
    const queued = this.result.queueMs !== null ? ` after ${(this.result.queueMs / 1000).toFixed(1)} s in the queue` : "";
    const message = `Generated a valid ${width}x${height} MP4 with ${frames} frames (${kib(bytes.length)})${timing}${queued}; saved to ${videoPath ?? "(not saved)"}.`;
    this.progress.info(message);
    return { ...this.result, ok: true, message, durationMs: this.deadline.elapsedMs() };
  }

  private save(ref: FileRef, bytes: Buffer): string | null {
    const base = path.basename(this.options.workflow.name).replace(/\.json$/i, "").replace(/[^A-Za-z0-9._-]+/g, "_");
    const file = path.resolve(this.options.outDir, `${base}-${(this.promptId ?? "unknown").slice(0, 8)}${path.extname(ref.filename).toLowerCase()}`);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, bytes);
      return file;
    } catch (error) {
      this.progress.info(`could not save the video to ${file}: ${errorText(error)}`);
      return null;
    }
  }
}
