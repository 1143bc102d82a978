"""Frame-exact decoding of a used range, downscaled by libav before it reaches numpy.

Seek to the keyframe before the range, decode forward, drop what precedes it:
the first frame yielded is the first whose time is at or after ``start_s``
(within half a frame, to absorb timestamp rounding), the last is the last
before ``end_s`` — so a clip ``[s, e)`` at rate r gives frames
``round(s·r) … round(e·r) − 1``. Scaling and the RGB conversion happen in a
libav filter graph (auto-editor's lesson: numpy resizing of 4K frames costs
more than decoding), and only for frames that are actually yielded.

Seeking is distrusted: if the first decoded frame lies after ``start_s`` (some
demuxers, MPEG-TS among them, land after the target) we retry from further
back and finally from the top; if ``seek()`` itself fails (EPERM in some FLVs,
e.g. CREMA-D) we reopen and decode from the start.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import av
import numpy as np

from emoguide.media.errors import EmptyRange, MediaCorrupt, translate
from emoguide.media.frame_store import FrameBlocks
from emoguide.media.probe import MediaInfo, open_container, probe

log = logging.getLogger(__name__)

#: sampling at most one frame in this many lets the decoder skip non-reference frames
NONREF_SKIP_RATIO = 6
#: libav's ``skip_loop_filter`` levels (``AVDiscard`` names), least skipped first: the pictures that
#: H.264's and HEVC's in-loop deblocking filter is skipped for. "noref": pictures no other picture
#: is predicted from, so nothing spreads; "bidir": B-pictures, whose differences reach at most the
#: other B-pictures of their group, never the P- and I-pictures (in a stream whose every inter picture
#: is a B-picture, as some HEVC encoders write, it acts like "all"); "nokey": all but keyframes; "all":
#: every picture, whose small errors then ride along the prediction until the next keyframe.
#: Codecs without a loop filter ignore it.
LOOP_FILTER_SKIPS = ("none", "noref", "bidir", "nokey", "all")
#: seconds decoded before ``start_s`` on each successive try; None = from the top of the file
SEEK_MARGINS: tuple[float | None, ...] = (0.5, 4.0, 30.0, None)
#: damaged packets tolerated in one range before the file is declared corrupt
MAX_BAD_PACKETS = 8


@dataclass(frozen=True)
class VideoFrame:
    time_s: float  # seconds from the file's first frame
    index: int  # frame number from the file's first frame
    image: np.ndarray  # (H, W, 3) uint8 RGB


def scaled_size(width: float, height: float, max_side: int) -> tuple[int, int]:
    """Longest side ≤ ``max_side``, aspect kept, both even (what yuv encoders and scalers like)."""
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


class _Scaler:
    """buffer → scale → format=rgb24 → buffersink, rebuilt if the frame geometry changes.

    The target size uses the *display* aspect (sample aspect ratio applied), so
    anamorphic footage comes out with square pixels. Each frame is copied out of
    libav's buffer into a mapped block (:mod:`emoguide.media.frame_store`: frames
    held for a chunk stay out of the C heap).
    """

    def __init__(self, max_side: int, time_base, sar: Fraction | None, store: FrameBlocks | None = None):
        self.max_side = max_side
        self.time_base = time_base
        self.sar = float(sar) if sar else 1.0
        self.key = None
        self.graph = None
        self.store = store if store is not None else FrameBlocks()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        key = (frame.width, frame.height, frame.format.name)
        if key != self.key:
            w, h = scaled_size(frame.width * self.sar, frame.height, self.max_side)
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
        return self.store.copy(self.graph.pull().to_ndarray())


class _SeekOvershot(Exception):
    """The seek landed after ``start_s``: retry from further back."""


def iter_video_frames(path, start_s: float, end_s: float, *, sample_fps: float | None = None, max_side: int = 640,
                      info: MediaInfo | None = None, container_format: str | None = None,
                      options: dict | None = None, skip_nonref: bool | None = None,
                      skip_loop_filter: str = "none", frame_store: FrameBlocks | None = None) -> Iterator[VideoFrame]:
    """Frames of ``[start_s, end_s)``: every frame (``sample_fps=None``) or the one nearest each
    instant ``start_s + k/sample_fps`` (computed from k, so no drift), each frame at most once.

    With ``sample_fps`` at most 1/``NONREF_SKIP_RATIO`` of the frame rate the decoder skips
    non-reference frames (non-reference B-frames), at the price that "nearest" means nearest
    among the frames still decoded (≤ 2–3 frames off the ideal instant, far inside one sampling
    interval). The gain depends on the stream: nil for P-only streams (much phone and camera
    footage, and x264 on grainy material), up to the share of non-reference frames otherwise.
    Exact full-rate decoding never skips; ``skip_nonref`` forces the choice either way
    (``None`` = automatic). Scaling only runs for frames that are yielded.

    ``skip_loop_filter`` (one of :data:`LOOP_FILTER_SKIPS`) trades the decoder's deblocking for
    speed; the default decodes exactly. Shrunk to the analysis's size, "bidir" frames differ from
    exact ones by about a grey level RMS (PSNR ≥ 48 dB on real footage; what it saves and changes:
    ``benchmarks/bench_loop_filter.py``).

    ``frame_store``: the :class:`~emoguide.media.frame_store.FrameBlocks` the frames are copied
    into; one thread decoding many ranges in turn passes one store, so each range reuses the
    blocks the previous ones' frames have left (default: a store of this range's own).
    """
    if skip_loop_filter not in LOOP_FILTER_SKIPS:
        raise ValueError(f"skip_loop_filter must be one of {', '.join(LOOP_FILTER_SKIPS)}, not {skip_loop_filter!r}")
    if not end_s > start_s:
        raise EmptyRange(path, f"empty range {start_s:.3f}–{end_s:.3f} s")
    info = info or probe(path, container_format, options)
    if not info.has_video:
        raise EmptyRange(path, "no video stream")
    rate = float(info.video_rate) if info.video_rate else 25.0
    half = 0.5 / rate
    if (info.duration_s > 0 and start_s >= info.duration_s - half) or end_s <= half:  # 0 = duration unknown
        raise EmptyRange(path, f"range {start_s:.3f}–{end_s:.3f} s lies outside the media (0–{info.duration_s:.3f} s)")
    if skip_nonref is None:
        skip_nonref = bool(sample_fps) and rate / sample_fps >= NONREF_SKIP_RATIO
    index_of = _indexer(path, info, rate, container_format, options)
    for margin in SEEK_MARGINS:
        try:
            yield from _decode_range(path, start_s, end_s, sample_fps, max_side, info, rate, half, margin,
                                     skip_nonref, skip_loop_filter, index_of, container_format, options, frame_store)
            return
        except _SeekOvershot:
            log.debug("seek in %s landed after %.3f s; retrying from further back", path, start_s)
    raise MediaCorrupt(path, "cannot reach the range start even decoding from the top")  # pragma: no cover


def _decode_range(path, start_s, end_s, sample_fps, max_side, info, rate, half, margin, skip_nonref,
                  skip_loop_filter, index_of, container_format, options, frame_store) -> Iterator[VideoFrame]:
    origin = info.start_offset_s
    container = open_container(path, container_format, options)
    try:
        target = origin + start_s - margin if margin is not None else None
        container, seeked = _seek(container, "video", target, path, container_format, options)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if skip_nonref:
            stream.codec_context.skip_frame = "NONREF"
        if skip_loop_filter != "none":  # a generic AVCodecContext option: passed when the decoder opens
            stream.codec_context.options = {**stream.codec_context.options, "skip_loop_filter": skip_loop_filter}
        scaler = _Scaler(max_side, stream.time_base, stream.codec_context.sample_aspect_ratio, frame_store)
        n = -1  # serial number of the latest in-range frame
        last_yielded = -1
        count = 0
        k = 0  # next sampling instant
        prev = None  # (t, frame, n): latest in-range frame, the candidate just before an instant
        first = True
        last_t = None

        def make(t, frame, serial) -> VideoFrame:
            nonlocal last_yielded, count
            last_yielded, count = serial, count + 1
            return VideoFrame(time_s=t, index=index_of(t), image=scaler(frame))

        for frame in _decode(container, stream, path):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base) - origin
            if first:
                first = False
                if seeked and t > start_s + half:
                    raise _SeekOvershot
            last_t = t
            if t < start_s - half:
                continue
            if t >= end_s - half:
                break
            n += 1
            if not sample_fps:
                yield make(t, frame, n)
                continue
            while start_s + k / sample_fps <= t:
                instant = start_s + k / sample_fps
                pick = prev if prev is not None and instant - prev[0] <= t - instant else (t, frame, n)
                if pick[2] != last_yielded:
                    yield make(*pick)
                k += 1
            prev = (t, frame, n)
        if sample_fps and prev is not None and prev[2] != last_yielded:
            instant = start_s + k / sample_fps
            if instant < end_s - half and instant - prev[0] <= max(2 * half, 0.5 / sample_fps):
                yield make(*prev)
        if count == 0:
            if last_t is None or last_t < start_s:
                raise MediaCorrupt(path, f"no decodable frames at {start_s:.3f}–{end_s:.3f} s although the media "
                                         f"claims {info.duration_s:.3f} s (truncated or damaged)")
            raise EmptyRange(path, f"no frames between {start_s:.3f} and {end_s:.3f} s")
        if last_t is not None and last_t < min(end_s, info.duration_s) - 4 * half - 0.1:
            log.warning("%s: video ends at %.3f s, before the requested %.3f s (truncated?)", path, last_t,
                        min(end_s, info.duration_s))
    finally:
        container.close()


def _container_seek(container, offset: int, stream) -> None:
    """The one call into ``container.seek`` (a seam tests use to simulate FLV's EPERM)."""
    container.seek(offset, stream=stream, backward=True, any_frame=False)


def _seek(container, kind: str, target_s: float | None, path, container_format, options):
    """Seek backward to the keyframe before container time ``target_s``.

    Returns ``(container, seeked)``; when seeking fails (EPERM in some FLVs) the
    container is reopened and decoding starts from the top (slower, still exact).
    """
    if target_s is None or target_s <= 0:
        return container, False
    stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
    try:
        _container_seek(container, int(target_s / stream.time_base), stream)
        return container, True
    except (PermissionError, av.FFmpegError, OSError) as exc:
        log.debug("seek failed in %s (%s); decoding from the start", path, exc)
        container.close()
        return open_container(path, container_format, options), False


def _decode(container, stream, path):
    """Decoded frames; a few damaged packets are skipped, more make the file corrupt."""
    bad = 0
    try:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except av.InvalidDataError as exc:
                bad += 1
                log.debug("skipping undecodable packet in %s: %s", path, exc)
                if bad > MAX_BAD_PACKETS:
                    raise MediaCorrupt(path, f"more than {MAX_BAD_PACKETS} undecodable packets ({exc})") from exc
    except MediaCorrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - translated
        raise translate(path, exc) from exc


def _indexer(path, info: MediaInfo, rate: float, container_format, options):
    """Time → frame number: ``round(t·rate)`` for constant rate, a timestamp table for VFR."""
    if not info.is_vfr or container_format is not None:
        return lambda t: int(round(t * rate))
    st = os.stat(info.path)
    times = _frame_times(info.path, st.st_size, st.st_mtime_ns, info.start_offset_s)

    def index(t: float) -> int:
        i = int(np.searchsorted(times, t))
        if i > 0 and (i == len(times) or t - times[i - 1] < times[i] - t):
            i -= 1
        return i

    return index


@functools.lru_cache(maxsize=32)
def _frame_times(path: str, size: int, mtime_ns: int, origin: float) -> np.ndarray:
    """Sorted presentation times of every video frame (demux only, no decoding)."""
    with open_container(path) as container:
        stream = container.streams.video[0]
        time_base = float(stream.time_base)
        try:
            pts = [p.pts for p in container.demux(stream) if p.pts is not None and not p.is_discard]
        except Exception as exc:  # noqa: BLE001 - translated
            raise translate(path, exc) from exc
    return np.sort(np.asarray(pts, dtype=np.float64)) * time_base - origin


def read_video_range(path, start_s: float, end_s: float, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All frames of the range at once: ``(frames (T,H,W,3), times (T,), indices (T,))``."""
    frames = list(iter_video_frames(path, start_s, end_s, **kwargs))
    return (np.stack([f.image for f in frames]), np.array([f.time_s for f in frames]),
            np.array([f.index for f in frames], dtype=np.int64))
