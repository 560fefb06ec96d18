// Running one queued prompt, with the websocket sequence of the real capture (ws.jsonl): execution_start,
// execution_cached, then per node a progress_state listing every node that is not pending (the new one
// "running" 0/1) before `executing`, per step a progress_state and a `progress` (VHS_VideoCombine: one per
// frame; samplers: progressSteps, with binary previews when `previews` is set), `executed` for nodes with UI
// output, a progress_state marking the node "finished"; then execution_success. The history write, the status
// broadcast and `executing {node: null}` are the host's (finish).
import path from "node:path";
import { writeMp4 } from "../mp4";
import type { FileStore } from "./files";
import { isLink, sleep, type Job, type Json, type ResolvedOptions } from "./options";

export interface FinishedJob {
  outputs: Json;
  statusStr: "success" | "error";
  completed: boolean;
  messages: Array<[string, Json]>;
}

export interface ExecutionHost {
  readonly options: ResolvedOptions;
  readonly files: FileStore;
  send(type: string, data: Json, to: string | null): void;
  sendBinary(eventType: number, payload: Buffer, to: string | null): void;
  setLastNode(nodeId: string | null): void;
  die(): Promise<void>;
  finish(job: Job, finished: FinishedJob): void;
}

const SAMPLER = /Sampler/;
const OOM_MESSAGE =
  "Allocation on device \nThis error means you ran out of memory on your GPU.\n\n" +
  "TIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.";

function fakeJpeg(seed: number): Buffer {
  const body = Buffer.alloc(48, seed & 0xff);
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), body, Buffer.from([0xff, 0xd9])]);
}

export class JobExecution {
  private readonly messages: Array<[string, Json]> = [];
  private readonly outputs: Json = {};
  private readonly executed: string[] = [];
  private readonly progress = new Map<string, { value: number; max: number; state: "running" | "finished" }>();

  constructor(private readonly host: ExecutionHost, private readonly job: Job, private readonly life: AbortSignal) {}

  private get options(): ResolvedOptions {
    return this.host.options;
  }

  private classOf(nodeId: string): string {
    return String(this.job.prompt[nodeId]?.class_type);
  }

  /** Messages that also go into the history's status. */
  private record(type: string, data: Json): void {
    const stamped = { ...data, prompt_id: this.job.promptId, timestamp: Date.now() };
    this.messages.push([type, stamped]);
    this.host.send(type, stamped, type === "execution_interrupted" ? null : this.job.clientId);
  }

  private sendProgressState(): void {
    const promptId = this.job.promptId;
    const nodes = Object.fromEntries(
      [...this.progress].map(([id, p]) => [id, { ...p, node_id: id, prompt_id: promptId, display_node_id: id, parent_node_id: null, real_node_id: id }]),
    );
    this.host.send("progress_state", { prompt_id: promptId, nodes }, this.job.clientId);
  }

  /** Nodes the outputs need, dependencies first. */
  private order(): string[] {
    const order: string[] = [];
    const visit = (id: string): void => {
      if (order.includes(id) || !this.job.prompt[id]) return;
      for (const value of Object.values(this.job.prompt[id]?.inputs ?? {})) if (isLink(value)) visit(value[0]);
      order.push(id);
    };
    for (const out of this.job.outputs) visit(out);
    return order;
  }

  private steps(nodeId: string): number {
    const classType = this.classOf(nodeId);
    if (classType === "VHS_VideoCombine") return Math.max(1, this.videoSize(nodeId).frames);
    return SAMPLER.test(classType) ? Math.max(1, this.options.progressSteps) : 0;
  }

  async run(): Promise<void> {
    const { job } = this;
    const sid = job.clientId;
    this.record("execution_start", {});
    this.record("execution_cached", { nodes: [] });
    const order = this.order();
    const progressNodes = order.filter((id) => this.steps(id) > 0);
    const first = progressNodes[0];
    for (const nodeId of order) {
      if (job.interrupted) return this.interrupted(nodeId);
      this.progress.set(nodeId, { value: 0, max: 1, state: "running" });
      this.sendProgressState();
      this.host.setLastNode(nodeId);
      this.host.send("executing", { node: nodeId, display_node: nodeId, prompt_id: job.promptId }, sid);
      const steps = this.steps(nodeId);
      const stepMs = steps > 0 ? this.options.jobMs / progressNodes.length / steps : 0;
      for (let step = 1; step <= steps; step += 1) {
        await sleep(stepMs, this.life);
        if (this.life.aborted) return;
        const halfway = nodeId === first && step === Math.ceil(steps / 2);
        if (halfway && this.options.mode === "oom") return this.outOfMemory(nodeId);
        if (halfway && this.options.mode === "dies") return void (await this.host.die());
        if (job.interrupted) return this.interrupted(nodeId);
        this.progress.set(nodeId, { value: step, max: steps, state: "running" });
        this.sendProgressState();
        this.host.send("progress", { value: step, max: steps, prompt_id: job.promptId, node: nodeId }, sid);
        if (this.options.previews && SAMPLER.test(this.classOf(nodeId))) this.sendPreview(nodeId, step, steps);
        if (halfway && this.options.mode === "neverFinishes") {
          while (!job.interrupted && !this.life.aborted) await sleep(20, this.life);
          if (this.life.aborted) return;
          return this.interrupted(nodeId);
        }
      }
      const output = this.produceOutput(nodeId);
      if (output) {
        this.outputs[nodeId] = output;
        this.host.send("executed", { node: nodeId, display_node: nodeId, output, prompt_id: job.promptId }, sid);
      }
      const max = this.progress.get(nodeId)?.max ?? 1;
      this.progress.set(nodeId, { value: max, max, state: "finished" });
      this.sendProgressState();
      this.executed.push(nodeId);
    }
    this.record("execution_success", {});
    // History is written only after execution_success (main.py: e.execute() → q.task_done()).
    await this.finishAfterDelay("success");
  }

  /** PREVIEW_IMAGE (JPEG) and a TEXT frame (node id length, node id, text), as samplers send with previews on. */
  private sendPreview(nodeId: string, step: number, steps: number): void {
    const sid = this.job.clientId;
    this.host.sendBinary(1, Buffer.concat([Buffer.from([0, 0, 0, 1]), fakeJpeg(step)]), sid);
    const nodeBytes = Buffer.from(nodeId);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(nodeBytes.length, 0);
    this.host.sendBinary(3, Buffer.concat([len, nodeBytes, Buffer.from(`step ${step}/${steps}`)]), sid);
  }

  private outOfMemory(nodeId: string): Promise<void> {
    this.record("execution_error", {
      node_id: nodeId, node_type: this.classOf(nodeId), executed: this.executed,
      exception_message: OOM_MESSAGE, exception_type: "torch.OutOfMemoryError",
      traceback: ['  File "/opt/ComfyUI/execution.py", line 496, in execute\n', "torch.OutOfMemoryError: Allocation on device \n"],
      current_inputs: {}, current_outputs: {},
    });
    for (const key of Object.keys(this.outputs)) delete this.outputs[key];
    return this.finishAfterDelay("error");
  }

  private interrupted(nodeId: string): Promise<void> {
    this.record("execution_interrupted", { node_id: nodeId, node_type: this.classOf(nodeId), executed: this.executed });
    return this.finishAfterDelay("error");
  }

  private async finishAfterDelay(status: "success" | "error"): Promise<void> {
    await sleep(this.options.historyDelayMs, this.life);
    if (this.life.aborted) return;
    this.host.finish(this.job, { outputs: this.outputs, statusStr: status, completed: status === "success", messages: this.messages });
  }

  /** Frames and size: from an EmptyImage feeding the node, else the configured video. */
  private videoSize(nodeId: string): { width: number; height: number; frames: number } {
    const seen = new Set<string>();
    const find = (id: string): { width: number; height: number; frames: number } | null => {
      if (seen.has(id)) return null;
      seen.add(id);
      const node = this.job.prompt[id];
      if (node?.class_type === "EmptyImage") {
        const i = node.inputs ?? {};
        return { width: Number(i.width ?? 512), height: Number(i.height ?? 512), frames: Number(i.batch_size ?? 1) };
      }
      for (const value of Object.values(node?.inputs ?? {})) {
        const found = isLink(value) ? find(value[0]) : null;
        if (found) return found;
      }
      return null;
    };
    return find(nodeId) ?? this.options.video;
  }

  private video(nodeId: string): Buffer {
    const mp4 = writeMp4({ ...this.videoSize(nodeId), bytesPerFrame: this.options.bytesPerFrame, faststart: this.options.faststart });
    return this.options.mode === "truncatedVideo" ? mp4.subarray(0, Math.floor(mp4.length / 2)) : mp4;
  }

  private produceOutput(nodeId: string): Json | null {
    const node = this.job.prompt[nodeId];
    const inputs = node?.inputs ?? {};
    const { files } = this.host;
    // VHS and the core savers split filename_prefix into a subfolder and a base name.
    const prefix = (fallback: string): { subfolder: string; base: string } => {
      const raw = typeof inputs.filename_prefix === "string" ? inputs.filename_prefix : fallback;
      return { subfolder: path.posix.dirname(raw) === "." ? "" : path.posix.dirname(raw), base: path.posix.basename(raw) };
    };
    switch (node?.class_type) {
      case "VHS_VideoCombine": {
        const format = typeof inputs.format === "string" ? inputs.format : "image/gif";
        const ext = format.split("-").at(-1)?.split("/").at(-1) ?? "gif";
        const type = inputs.save_output === false ? "temp" : "output";
        const { subfolder, base } = prefix("AnimateDiff");
        const filename = files.nextName(type, subfolder, base, `.${ext}`);
        const png = filename.replace(/\.[^.]+$/, ".png");
        files.put(type, subfolder, png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
        files.put(type, subfolder, filename, ext === "mp4" ? this.video(nodeId) : Buffer.from("GIF89a"));
        return {
          gifs: [{
            filename, subfolder, type, format, frame_rate: Number(inputs.frame_rate ?? 8), workflow: png,
            fullpath: path.posix.join(this.options.comfyRoot, type, subfolder, filename),
          }],
        };
      }
      case "SaveVideo": {
        const { subfolder, base } = prefix("video/ComfyUI");
        const filename = files.nextName("output", subfolder, base, "_.mp4");
        files.put("output", subfolder, filename, this.video(nodeId));
        return { images: [{ filename, subfolder, type: "output" }], animated: [true] };
      }
      case "SaveImage":
      case "PreviewImage": {
        const type = node.class_type === "SaveImage" ? "output" : "temp";
        const { subfolder, base } = prefix(type === "output" ? "ComfyUI" : "ComfyUI_temp");
        const filename = files.nextName(type, subfolder, base, "_.png");
        files.put(type, subfolder, filename, Buffer.from([0x89, 0x50, 0x4e, 0x47]));
        return { images: [{ filename, subfolder, type }] };
      }
      default:
        return null;
    }
  }
}
