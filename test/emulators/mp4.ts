// A minimal ISO-BMFF (MP4) writer for the emulators: one H.264 ('avc1' + 'avcC') video track whose
// samples are placeholder NAL units. Players would show nothing useful, but every box a demuxer reads
// (ftyp, moov/mvhd/trak/tkhd/mdia/mdhd/hdlr/minf/vmhd/dinf/stbl, mdat) is present and consistent, so a
// parser reports the configured width, height and frame count.

export interface Mp4Spec {
  width: number;
  height: number;
  frames: number;
  /** Frames per second (timescale of the media track). */
  fps?: number;
  /** Payload bytes per frame; makes files as large as a test needs. */
  bytesPerFrame?: number;
  /** moov before mdat (ffmpeg's -movflags +faststart). ffmpeg's default, used by VHS h264-mp4, is moov last. */
  faststart?: boolean;
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length + 8, 0);
  header.write(type, 4, "latin1");
  return Buffer.concat([header, body]);
}

function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...parts);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16BE(v & 0xffff, i * 2));
  return b;
}

const UNITY_MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);

// Baseline-profile SPS/PPS-shaped NAL units; demuxers copy them into the decoder config without decoding.
const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04]);
const PPS = Buffer.from([0x68, 0xce, 0x3c, 0x80]);

function avcC(): Buffer {
  return box(
    "avcC",
    Buffer.from([1, SPS[1] ?? 0x42, SPS[2] ?? 0, SPS[3] ?? 0x1e, 0xff, 0xe1]),
    u16(SPS.length),
    SPS,
    Buffer.from([1]),
    u16(PPS.length),
    PPS,
  );
}

function avc1(width: number, height: number): Buffer {
  const compressorName = Buffer.alloc(32);
  return box(
    "avc1",
    Buffer.alloc(6), // reserved
    u16(1), // data_reference_index
    u16(0, 0), // pre_defined, reserved
    Buffer.alloc(12), // pre_defined
    u16(width, height),
    u32(0x00480000, 0x00480000, 0), // 72 dpi, reserved
    u16(1), // frame_count
    compressorName,
    u16(0x0018, 0xffff), // depth, pre_defined = -1
    avcC(),
  );
}

function frameSample(index: number, payloadBytes: number): Buffer {
  const nal = Buffer.alloc(Math.max(2, payloadBytes));
  nal[0] = index === 0 ? 0x65 : 0x41; // IDR slice first, then non-IDR slices
  for (let i = 1; i < nal.length; i += 1) nal[i] = (index * 31 + i) & 0xff;
  return Buffer.concat([u32(nal.length), nal]);
}

function moov(spec: Required<Mp4Spec>, sampleSizes: number[], chunkOffset: number): Buffer {
  const { width, height, frames, fps } = spec;
  const movieTimescale = 1000;
  const movieDuration = Math.round((frames * movieTimescale) / fps);
  const mvhd = fullBox(
    "mvhd", 0, 0,
    u32(0, 0, movieTimescale, movieDuration, 0x00010000),
    u16(0x0100, 0), Buffer.alloc(8), // volume, reserved
    UNITY_MATRIX, Buffer.alloc(24), u32(2),
  );
  const tkhd = fullBox(
    "tkhd", 0, 0x000003, // enabled, in movie
    u32(0, 0, 1, 0, movieDuration), Buffer.alloc(8),
    u16(0, 0, 0, 0), UNITY_MATRIX, u32(width * 0x10000, height * 0x10000),
  );
  const mdhd = fullBox("mdhd", 0, 0, u32(0, 0, fps, frames), u16(0x55c4, 0)); // language 'und'
  const hdlr = fullBox("hdlr", 0, 0, u32(0), Buffer.from("vide", "latin1"), Buffer.alloc(12), Buffer.from("VideoHandler\0", "latin1"));
  const vmhd = fullBox("vmhd", 0, 1, u16(0, 0, 0, 0));
  const dinf = box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)));
  const stbl = box(
    "stbl",
    fullBox("stsd", 0, 0, u32(1), avc1(width, height)),
    fullBox("stts", 0, 0, u32(1, frames, 1)),
    fullBox("stsc", 0, 0, u32(1, 1, frames, 1)),
    fullBox("stsz", 0, 0, u32(0, frames, ...sampleSizes)),
    fullBox("stco", 0, 0, u32(1, chunkOffset)),
  );
  const trak = box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", vmhd, dinf, stbl)));
  return box("moov", mvhd, trak);
}

/** A small, structurally valid MP4 with one H.264 track of `frames` samples at width x height. */
export function writeMp4(spec: Mp4Spec): Buffer {
  const full: Required<Mp4Spec> = { fps: 8, bytesPerFrame: 64, faststart: false, ...spec };
  const samples = Array.from({ length: full.frames }, (_, i) => frameSample(i, full.bytesPerFrame));
  const sizes = samples.map((s) => s.length);
  const ftyp = box("ftyp", Buffer.from("isom", "latin1"), u32(0x200), Buffer.from("isomiso2avc1mp41", "latin1"));
  const mdat = box("mdat", ...samples);
  if (full.faststart) {
    const moovSize = moov(full, sizes, 0).length;
    return Buffer.concat([ftyp, moov(full, sizes, ftyp.length + moovSize + 8), mdat]);
  }
  return Buffer.concat([ftyp, mdat, moov(full, sizes, ftyp.length + 8)]);
}
