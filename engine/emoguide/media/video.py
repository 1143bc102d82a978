"""Frame-exact decoding of a used range, downscaled by libav before it reaches numpy.

Seek to the keyframe before the range, decode forward, drop what precedes it:
the first frame yielded is the first whose time is at or after ``start_s``
(within half a frame, to absorb timestamp rounding), the last is the last
before ``end_s``. Scaling and the RGB conversion happen in a libav filter graph
(auto-editor's lesson: numpy resizing of 4K frames costs more than decoding).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import av
import numpy as np

from emoguide.media.errors import EmptyRange, MediaCorrupt, translate
from emoguide.media.probe import MediaInfo, open_container, probe

log = logging.getLogger(__name__)

#: sampling at most one frame in this many lets the decoder skip non-reference frames
NONREF_SKIP_RATIO = 6


@dataclass(frozen=True)
class VideoFrame:
    time_s: float  # seconds from the file's first frame
    index: int  # frame number from the file's first frame
    image: np.ndarray  # (H, W, 3) uint8 RGB


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Longest side ≤ ``max_side``, aspect kept, both even (what yuv encoders and scalers like)."""
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


class _Scaler:
    """buffer → scale → format=rgb24 → buffersink, rebuilt if the frame geometry changes."""

    def __init__(self, max_side: int, time_base):
        self.max_side = max_side
        self.time_base = time_base
        self.key = None
        self.graph = None

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        key = (frame.width, frame.height, frame.format.name)
        if key != self.key:
            w, h = scaled_size(frame.width, frame.height, self.max_side)
            graph = av.filter.Graph()
            src = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format.name,
                                   time_base=self.time_base)
            scale = graph.add("scale", f"{w}:{h}:flags=area")
            fmt = graph.add("format", "rgb24")
            sink = graph.add("buffersink")
            src.link_to(scale)
            scale.link_to(fmt)
            fmt.link_to(sink)
            graph.configure()
            self.graph, self.key = graph, key
        self.graph.push(frame)
        return self.graph.pull().to_ndarray()


def iter_video_frames(path, start_s: float, end_s: float, *, sample_fps: float | None = None, max_side: int = 640,
                      info: MediaInfo | None = None, container_format: str | None = None,
                      options: dict | None = None) -> Iterator[VideoFrame]:
    """Frames of ``[start_s, end_s)``: every frame (``sample_fps=None``) or one per ``1/sample_fps``."""
    if end_s <= start_s:
        raise EmptyRange(path, f"empty range {start_s:.3f}–{end_s:.3f} s")
    info = info or probe(path, container_format, options)
    if not info.has_video:
        raise EmptyRange(path, "no video stream")
    if start_s >= info.duration_s + 0.5:
        raise EmptyRange(path, f"range starts at {start_s:.3f} s, after the media ends ({info.duration_s:.3f} s)")
    rate = float(info.video_rate) if info.video_rate else 25.0
    half = 0.5 / rate
    container = open_container(path, container_format, options)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if sample_fps and rate / sample_fps >= NONREF_SKIP_RATIO:
            # Trade-off: skipping B-frames means the sampled frame can be up to a GOP step from the
            # ideal instant; at ≤ 1/6 of the frame rate that is well inside one sampling interval.
            stream.codec_context.skip_frame = "NONREF"
        origin = info.start_offset_s
        container = _seek(container, stream, origin + start_s - 0.5, path, container_format, options)
        stream = container.streams.video[0]
        scaler = _Scaler(max_side, stream.time_base)
        k = 0
        yielded = 0
        for frame in _decode(container, stream, path):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base) - origin
            if t < start_s - half:
                continue
            if t >= end_s - half:
                break
            if sample_fps:
                instant = start_s + k / sample_fps
                if t + half < instant:
                    continue
                while start_s + k / sample_fps <= t + half:
                    k += 1
            yielded += 1
            yield VideoFrame(time_s=t, index=int(round(t * rate)), image=scaler(frame))
        if yielded == 0:
            raise EmptyRange(path, f"no frames between {start_s:.3f} and {end_s:.3f} s")
    finally:
        container.close()


def _seek(container, stream, target_s: float, path, container_format, options):
    """Seek backward to the keyframe before ``target_s``; reopen and decode from the top if seeking fails."""
    if target_s <= 0:
        return container
    try:
        container.seek(int(target_s / stream.time_base), stream=stream, backward=True, any_frame=False)
        return container
    except (PermissionError, av.PermissionError, av.FFmpegError, OSError) as exc:
        # Some FLVs (e.g. CREMA-D) refuse to seek (EPERM): decoding from the start is slower but exact.
        log.debug("seek failed in %s (%s); decoding from the start", path, exc)
        container.close()
        return open_container(path, container_format, options)


def _decode(container, stream, path):
    try:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except av.InvalidDataError as exc:  # one damaged packet: skip it, keep the clip
                log.debug("skipping undecodable packet in %s: %s", path, exc)
    except Exception as exc:  # noqa: BLE001 - translated
        raise translate(path, exc) from exc


def read_video_range(path, start_s: float, end_s: float, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All frames of the range at once: ``(frames (T,H,W,3), times (T,), indices (T,))``."""
    frames = list(iter_video_frames(path, start_s, end_s, **kwargs))
    if not frames:
        raise MediaCorrupt(path, "no decodable frames in range")
    return (np.stack([f.image for f in frames]), np.array([f.time_s for f in frames]),
            np.array([f.index for f in frames]))
