// What a finished Serverless job hands back: the worker contract's output (a video as base64 or an https URL),
// the error text of a FAILED job, and the video judged with checks' MP4 inspection and the workflow's
// expectation, worded as the pod's generate check words it.
import axios from "axios";
import { z } from "zod";
import { expectationMismatches, inspectMp4, type Mp4Info, type VideoExpectation } from "../checks";

/** The worker's success output (docker/worker, shared/serverless-contract): video with base64 or url. */
export function workerOutputSchema() {
  return z
    .object({
      promptId: z.string().optional(),
      video: z
        .object({
          filename: z.string().optional(),
          mimeType: z.string().optional(),
          sizeBytes: z.number().int().nonnegative().optional(),
          base64: z.string().min(1).optional(),
          url: z.string().min(1).optional(),
        })
        .loose()
        .refine((v) => (v.base64 === undefined) !== (v.url === undefined), { message: "video needs exactly one of base64 or url" }),
    })
    .loose();
}
export type WorkerVideo = z.infer<ReturnType<typeof workerOutputSchema>>["video"];

/**
 * A FAILED job's `error`: the handler's own text (`{"error": "..."}`), or the runpod SDK's error_info JSON
 * for a handler that raised (error_type, error_message, error_traceback, …), of which the message is kept.
 */
export function describeJobError(error: unknown): string {
  if (error === undefined || error === null || error === "") return "the worker gave no error text; look at the endpoint's worker logs.";
  if (typeof error !== "string") return JSON.stringify(error).slice(0, 2000);
  try {
    const info: unknown = JSON.parse(error);
    if (info !== null && typeof info === "object" && typeof (info as { error_message?: unknown }).error_message === "string") {
      const { error_message: message, error_type: type } = info as { error_message: string; error_type?: unknown };
      const kind = typeof type === "string" ? /'([^']+)'/.exec(type)?.[1] ?? type : null;
      return `${kind ? `${kind}: ` : ""}${message}`.slice(0, 2000);
    }
  } catch {
    // Plain text: the handler's own words.
  }
  return error.slice(0, 2000);
}

export async function fetchVideo(video: WorkerVideo, timeoutMs: number): Promise<Buffer> {
  if (video.base64 !== undefined) {
    const data = video.base64.replace(/^data:[^,]*,/, "");
    if (!/^[A-Za-z0-9+/=\s]+$/.test(data)) throw new Error("video.base64 is not base64 text");
    return Buffer.from(data, "base64");
  }
  const url = video.url ?? "";
  if (!/^https?:\/\//.test(url)) throw new Error(`video.url must be an http(s) URL, got "${url.slice(0, 80)}"`);
  // A presigned URL carries its credentials in the query: only the host and path are ever shown.
  const shown = url.replace(/\?.*$/, "");
  const response = await axios.get<ArrayBuffer>(url, { responseType: "arraybuffer", timeout: timeoutMs, validateStatus: () => true, maxContentLength: Infinity });
  if (response.status !== 200) throw new Error(`GET ${shown} answered ${response.status} (a presigned URL expires; the bucket may refuse it)`);
  return Buffer.from(response.data);
}

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

export type VideoJudgement = { ok: true; info: Mp4Info; message: string } | { ok: false; message: string };

export function judgeVideo(bytes: Buffer, expect: VideoExpectation, name: string, savedTo: string | null): VideoJudgement {
  const saved = savedTo ? `, saved to ${savedTo}` : "";
  const verdict = inspectMp4(bytes);
  if (!verdict.ok) {
    return { ok: false, message: `${verdict.reason} (${name}, ${size(bytes.length)}${saved}). Look at the worker's log for ffmpeg errors and at its free disk space.` };
  }
  const problems = expectationMismatches(verdict.info, expect);
  if (problems.length > 0) return { ok: false, message: `The video ${name} is a valid MP4 but ${problems.join(" and ")}${savedTo ? ` (saved to ${savedTo})` : ""}.` };
  const { width, height, frames } = verdict.info;
  return { ok: true, info: verdict.info, message: `Generated a valid ${width}x${height} MP4 with ${frames} frames (${size(bytes.length)})${savedTo ? `; saved to ${savedTo}` : ""}` };
}
