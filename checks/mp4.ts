// Is this file a complete MP4 video? Two independent looks: our own walk over the top-level boxes (a box
// that runs past the end of the file means the download or the encoder stopped early), then mp4box, a
// maintained demuxer, for the movie header, the video track's size and its sample count. Sample offsets
// are checked against the file length too: a truncated "faststart" file still has a readable moov.
// `pulumi up` compiles the program with ts-node, which sees only the files it is asked to load, not the
// tsconfig's `include`: this reference is what brings the mp4box declarations into that compilation.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./mp4box-types.d.ts" />
import { Log, MP4BoxBuffer, createFile } from "mp4box";
import { z } from "zod";

export interface Mp4Info {
  width: number;
  height: number;
  frames: number;
  codec: string;
  durationSeconds: number | null;
}

export type Mp4Verdict = { ok: true; info: Mp4Info } | { ok: false; reason: string };

const movieSchema = z.object({
  duration: z.number().optional(),
  timescale: z.number().optional(),
  isFragmented: z.boolean().optional(),
  videoTracks: z.array(
    z.object({
      id: z.number().int(),
      codec: z.string(),
      nb_samples: z.number().int().nonnegative(),
      video: z.object({ width: z.number(), height: z.number() }).optional(),
      track_width: z.number().optional(),
      track_height: z.number().optional(),
    }),
  ),
});

const sampleSchema = z.object({ offset: z.number(), size: z.number() });

interface TopLevelBox {
  type: string;
  start: number;
  size: number;
}

const CORRUPT = "the video is truncated/corrupt";

/** Walks the top-level boxes; returns them, or why the file cannot be complete. */
export function topLevelBoxes(bytes: Uint8Array): { boxes: TopLevelBox[] } | { error: string } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: TopLevelBox[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 8) return { error: `${CORRUPT}: ${bytes.length - offset} stray bytes at the end` };
    let size = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (!/^[\x20-\x7e]{4}$/.test(type)) return { error: `${CORRUPT}: no MP4 box at byte ${offset}` };
    if (size === 1) {
      if (bytes.length - offset < 16) return { error: `${CORRUPT}: box '${type}' header is cut off` };
      size = Number(view.getBigUint64(offset + 8));
    } else if (size === 0) {
      size = bytes.length - offset; // extends to the end of the file
    }
    if (size < 8) return { error: `${CORRUPT}: box '${type}' at byte ${offset} has an impossible size ${size}` };
    if (offset + size > bytes.length) {
      return { error: `${CORRUPT}: box '${type}' needs ${offset + size} bytes but the file has ${bytes.length}` };
    }
    boxes.push({ type, start: offset, size });
    offset += size;
  }
  return { boxes };
}

let logLevelSet = false;

/** Validates an MP4 held in memory. */
export function inspectMp4(bytes: Uint8Array): Mp4Verdict {
  if (bytes.length === 0) return { ok: false, reason: `${CORRUPT}: the file is empty` };
  const walked = topLevelBoxes(bytes);
  if ("error" in walked) return { ok: false, reason: walked.error };
  const types = walked.boxes.map((b) => b.type);
  if (types[0] !== "ftyp") return { ok: false, reason: `not an MP4 file (first box is '${types[0] ?? "none"}', expected 'ftyp')` };
  if (!types.includes("moov")) return { ok: false, reason: `${CORRUPT}: it has no 'moov' box (the encoder did not finish writing it)` };

  if (!logLevelSet) {
    Log.setLogLevel(Log.error); // mp4box would otherwise log through console.log, i.e. onto our stdout
    logLevelSet = true;
  }
  const file = createFile();
  let movie: unknown;
  let parseError: string | undefined;
  file.onReady = (info) => {
    movie = info;
  };
  file.onError = (module, message) => {
    parseError = `${module}: ${message}`;
  };
  try {
    const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy, 0), true);
    file.flush();
  } catch (error) {
    parseError = error instanceof Error ? error.message : String(error);
  }
  if (parseError !== undefined) return { ok: false, reason: `${CORRUPT}: mp4box could not parse it (${parseError})` };
  const parsed = movieSchema.safeParse(movie);
  if (!parsed.success) return { ok: false, reason: `${CORRUPT}: mp4box found no readable movie header` };
  const track = parsed.data.videoTracks[0];
  if (!track) return { ok: false, reason: "the MP4 has no video track" };
  const samples = z.array(sampleSchema).safeParse(file.getTrackSamplesInfo(track.id));
  const sampleList = samples.success ? samples.data : [];
  const frames = parsed.data.isFragmented ? sampleList.length : track.nb_samples;
  if (frames === 0) return { ok: false, reason: "the MP4's video track has no frames" };
  const beyond = sampleList.find((s) => s.offset + s.size > bytes.length);
  if (beyond) {
    return { ok: false, reason: `${CORRUPT}: frame data ends at byte ${beyond.offset + beyond.size} but the file has ${bytes.length}` };
  }
  const mdats = walked.boxes.filter((b) => b.type === "mdat");
  const outside = sampleList.find((s) => !mdats.some((m) => s.offset >= m.start + 8 && s.offset + s.size <= m.start + m.size));
  if (outside) return { ok: false, reason: `${CORRUPT}: frame data at byte ${outside.offset} lies outside the media data` };
  const { duration, timescale } = parsed.data;
  const width = Math.round(track.video?.width ?? track.track_width ?? 0);
  const height = Math.round(track.video?.height ?? track.track_height ?? 0);
  if (width <= 0 || height <= 0) return { ok: false, reason: `the MP4's video track is ${width}x${height}: a video needs a width and a height of at least 1 pixel` };
  return {
    ok: true,
    info: {
      width,
      height,
      frames,
      codec: track.codec,
      durationSeconds: duration !== undefined && timescale ? duration / timescale : null,
    },
  };
}
