"""What is in a media file, read once per (path, size, mtime) and cached.

Also defines the time origin every other media function uses: t = 0 is the
presentation time of the first video frame (first audio sample for audio-only
files). Containers often start later than zero (mp4 edit lists, MPEG-TS
offsets, FLV's first tag); ``start_offset_s`` is what we subtract.

Variable frame rate is detected from the packets' own timestamps (phone
footage is VFR while its header claims a round rate), by demuxing — not
decoding — the first couple of hundred video packets, which costs
milliseconds.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from emoguide.media.errors import MediaCorrupt, MediaOffline, UnsupportedCodec, translate

#: video packets whose timestamps are inspected for VFR detection
VFR_PROBE_PACKETS = 240
#: most frames a decoder reorders (B-pyramids); the last this many sorted timestamps may still have gaps
REORDER_DEPTH = 16


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration_s: float  # of the first video stream (of the audio for audio-only files)
    has_video: bool
    has_audio: bool
    video_rate: Fraction | None  # average frame rate
    is_vfr: bool  # frame intervals vary beyond timestamp rounding
    width: int
    height: int
    video_codec: str | None
    audio_codec: str | None
    audio_rate: int | None
    start_offset_s: float  # container time of t = 0 (first video frame / first audio sample)
    timecode: str | None  # "HH:MM:SS:FF" (";" before frames = drop-frame), from metadata
    n_frames: int  # exact where the container says, else duration × rate


def open_container(path: str | Path, container_format: str | None = None, options: dict | None = None):
    """``av.open`` with every failure translated to a :class:`MediaError`.

    ``container_format``/``options`` exist for image sequences (``image2`` with a
    start number and rate), whose "path" is a printf pattern, not a file.
    """
    path = str(path)
    if container_format is None:
        if not os.path.exists(path):
            raise MediaOffline(path, "file not found (media offline)")
        if os.path.isdir(path):
            raise MediaOffline(path, "is a folder, not a media file")
        if not os.access(path, os.R_OK):
            raise MediaOffline(path, "permission denied")
    try:
        return av.open(path, format=container_format, options=options or {}, metadata_errors="ignore")
    except Exception as exc:  # noqa: BLE001 - translated
        raise translate(path, exc) from exc


def probe(path: str | Path, container_format: str | None = None, options: dict | None = None) -> MediaInfo:
    """Describe the media at ``path``; raises MediaOffline / MediaCorrupt / UnsupportedCodec."""
    key = str(path)
    if container_format is None:
        try:
            st = os.stat(key)
        except OSError as exc:
            raise translate(key, exc) from exc
        return _probe_cached(os.path.abspath(key), st.st_size, st.st_mtime_ns)
    return _probe(key, container_format, tuple(sorted((options or {}).items())))


@functools.lru_cache(maxsize=256)
def _probe_cached(path: str, size: int, mtime_ns: int) -> MediaInfo:
    if size == 0:
        raise MediaCorrupt(path, "empty file (0 bytes)")
    return _probe(path, None, ())


def _probe(path: str, container_format: str | None, options: tuple) -> MediaInfo:
    with open_container(path, container_format, dict(options)) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise MediaCorrupt(path, "no audio or video stream")
        for stream in (video, audio):
            if stream is not None and stream.codec_context is None:
                raise UnsupportedCodec(path, f"no decoder in this libav for the {stream.type} stream "
                                             f"(unknown or unsupported codec)")
        rate = None
        if video is not None:
            rate = video.average_rate or video.guessed_rate or video.base_rate
            rate = Fraction(rate) if rate else None
        first = video if video is not None else audio
        start = _stream_start(first)
        duration = _duration(container, first, start)
        n_frames = 0
        is_vfr = False
        if video is not None:
            n_frames = int(video.frames) if video.frames else (int(round(duration * float(rate))) if rate else 0)
            is_vfr = _timestamps_vary(container, video)
        return MediaInfo(
            path=path, duration_s=duration, has_video=video is not None, has_audio=audio is not None,
            video_rate=rate, is_vfr=is_vfr,
            width=video.codec_context.width if video is not None else 0,
            height=video.codec_context.height if video is not None else 0,
            video_codec=video.codec_context.name if video is not None else None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_rate=audio.codec_context.sample_rate if audio is not None else None,
            start_offset_s=start, timecode=_timecode(container, video), n_frames=n_frames,
        )


def _meta(metadata, key: str) -> str | None:
    """Case-insensitive metadata lookup (mov writes ``timecode``, Matroska ``TIMECODE``)."""
    for k, v in metadata.items():
        if k.lower() == key:
            return v
    return None


def _timecode(container, video) -> str | None:
    sources = ([video.metadata] if video is not None else []) + [s.metadata for s in container.streams]
    for meta in sources + [container.metadata]:
        tc = _meta(meta, "timecode")
        if tc:
            return tc
    return None


def _stream_start(stream) -> float:
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _parse_hms(text: str | None) -> float | None:
    """Matroska's per-stream ``DURATION`` tag, "HH:MM:SS.fffffffff"."""
    m = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", (text or "").strip())
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def _duration(container, stream, start: float) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tagged = _parse_hms(_meta(stream.metadata, "duration"))  # Matroska: the track's end time
    if tagged is not None:
        return max(0.0, tagged - start)
    if container.duration is not None:
        container_start = (container.start_time or 0) / 1e6
        return max(0.0, container.duration / 1e6 - max(0.0, start - container_start))
    return 0.0


def _timestamps_vary(container, video) -> bool:
    """True when frame intervals differ by more than timestamp rounding (±1 tick, 10 %)."""
    pts = []
    try:
        for packet in container.demux(video):
            if packet.pts is not None and not packet.is_discard:
                pts.append(packet.pts)
            if len(pts) >= VFR_PROBE_PACKETS:
                break
    except Exception:  # noqa: BLE001 - a damaged tail only limits what we look at
        pass
    ordered = np.sort(np.asarray(pts, dtype=np.int64))
    if len(pts) >= VFR_PROBE_PACKETS:
        ordered = ordered[:-REORDER_DEPTH]  # stopped early: later packets may still fill gaps here
    if len(ordered) < 4:
        return False
    deltas = np.diff(ordered)
    deltas = deltas[deltas > 0]
    if len(deltas) < 3:
        return False
    median = float(np.median(deltas))
    tolerance = max(1.5, 0.1 * median)
    return bool(np.any(np.abs(deltas - median) > tolerance))
