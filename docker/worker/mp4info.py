"""Frames, fps and duration of an MP4 / QuickTime file from its boxes (ISO/IEC 14496-12: moov/trak/mdia with
hdlr 'vide', mdhd's timescale and duration, stbl/stts's sample counts), without ffprobe."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict, Iterator, List, Tuple


class Mp4Error(ValueError):
    pass


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    duration_seconds: float


def _boxes(data: bytes, start: int, end: int) -> Iterator[Tuple[str, int, int]]:
    """(type, body start, body end) of each box in data[start:end]."""
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                raise Mp4Error(f"box at byte {offset} is cut off")
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            name = kind.decode("latin1")
            raise Mp4Error(f"box '{name}' at byte {offset} claims {size} bytes but {end - offset} remain: the file is truncated")
        yield kind.decode("latin1"), offset + header, offset + size
        offset += size


def _children(data: bytes, start: int, end: int) -> Dict[str, Tuple[int, int]]:
    found: Dict[str, Tuple[int, int]] = {}
    for kind, body, stop in _boxes(data, start, end):
        found.setdefault(kind, (body, stop))
    return found


def _track(data: bytes, start: int, end: int) -> Tuple[str, int, int, int]:
    """handler type, media timescale, media duration, frames (sum of stts sample counts) of one trak."""
    mdia = _children(data, start, end).get("mdia")
    if not mdia:
        raise Mp4Error("a track has no mdia box")
    parts = _children(data, *mdia)
    if "hdlr" not in parts or "mdhd" not in parts:
        raise Mp4Error("a track has no hdlr or mdhd box")
    handler = data[parts["hdlr"][0] + 8 : parts["hdlr"][0] + 12].decode("latin1")
    mdhd = parts["mdhd"][0]
    if data[mdhd] == 1:
        timescale, duration = struct.unpack_from(">IQ", data, mdhd + 20)
    else:
        timescale, duration = struct.unpack_from(">II", data, mdhd + 12)
    frames = 0
    deltas = 0
    minf = parts.get("minf")
    stbl = _children(data, *minf).get("stbl") if minf else None
    stts = _children(data, *stbl).get("stts") if stbl else None
    if stts:
        (count,) = struct.unpack_from(">I", data, stts[0] + 4)
        if stts[0] + 8 + count * 8 > stts[1]:
            raise Mp4Error("the stts box is cut off")
        for index in range(count):
            samples, delta = struct.unpack_from(">II", data, stts[0] + 8 + index * 8)
            frames += samples
            deltas += samples * delta
    if duration in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        duration = deltas
    return handler, timescale, duration, frames


def probe_mp4(data: bytes) -> VideoInfo:
    top = _children(data, 0, len(data))
    if "ftyp" not in top and "moov" not in top:
        raise Mp4Error("no ftyp or moov box: not an MP4 / QuickTime file")
    if "moov" not in top:
        raise Mp4Error("no moov box: the file is truncated or still being written")
    tracks: List[Tuple[str, int, int, int]] = [
        _track(data, body, stop) for kind, body, stop in _boxes(data, *top["moov"]) if kind == "trak"
    ]
    video = next((t for t in tracks if t[0] == "vide"), None)
    if video is None:
        raise Mp4Error("no video track (hdlr 'vide')")
    _, timescale, duration, frames = video
    if timescale <= 0 or duration <= 0 or frames <= 0:
        raise Mp4Error(f"the video track has {frames} frames over {duration} units of 1/{timescale} s")
    seconds = duration / timescale
    return VideoInfo(frames=frames, fps=round(frames / seconds, 3), duration_seconds=round(seconds, 3))
