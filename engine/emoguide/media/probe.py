"""What is in a media file, read once per (path, size, mtime) and cached.

Also defines the time origin every other media function uses: t = 0 is the
presentation time of the first video frame (first audio sample for audio-only
files). Containers often start later than zero (mp4 edit lists, MPEG-TS
offsets); ``start_offset_s`` is what we subtract.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from emoguide.media.errors import MediaCorrupt, MediaOffline, UnsupportedCodec, translate


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration_s: float
    has_video: bool
    has_audio: bool
    video_rate: Fraction | None
    is_vfr: bool
    width: int
    height: int
    video_codec: str | None
    audio_codec: str | None
    audio_rate: int | None
    start_offset_s: float
    timecode: str | None
    n_frames: int


def open_container(path: str | Path, container_format: str | None = None, options: dict | None = None):
    """``av.open`` with every failure translated to a :class:`MediaError`."""
    path = str(path)
    if container_format is None and not os.path.exists(path):
        raise MediaOffline(path, "file not found (media offline)")
    if container_format is None and not os.access(path, os.R_OK):
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
                raise UnsupportedCodec(path, f"no decoder for the {stream.type} stream")
        rate = None
        if video is not None:
            rate = video.average_rate or video.guessed_rate or video.base_rate
            rate = Fraction(rate) if rate else None
        first = video if video is not None else audio
        start = _stream_start(first)
        duration = _duration(container, first, start)
        timecode = None
        for meta in ((video.metadata if video is not None else {}), container.metadata):
            timecode = timecode or meta.get("timecode")
        if timecode is None:
            for stream in container.streams:
                timecode = timecode or stream.metadata.get("timecode")
        n_frames = int(video.frames) if video is not None and video.frames else (
            int(round(duration * float(rate))) if rate else 0)
        is_vfr = bool(video is not None and video.average_rate and video.base_rate
                      and abs(float(video.average_rate) - float(video.base_rate)) > 0.01 * float(video.base_rate))
        return MediaInfo(
            path=path, duration_s=duration, has_video=video is not None, has_audio=audio is not None,
            video_rate=rate, is_vfr=is_vfr,
            width=video.codec_context.width if video is not None else 0,
            height=video.codec_context.height if video is not None else 0,
            video_codec=video.codec_context.name if video is not None else None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_rate=audio.codec_context.sample_rate if audio is not None else None,
            start_offset_s=start, timecode=timecode, n_frames=n_frames,
        )


def _stream_start(stream) -> float:
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _duration(container, stream, start: float) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return max(0.0, container.duration / 1e6 - max(0.0, start - (container.start_time or 0) / 1e6))
    return 0.0
