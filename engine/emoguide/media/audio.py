"""Audio of a used range as 16 kHz mono float32, exact in length and position.

Sample positions are computed from absolute times (``round(t * rate)``), never
by adding up rounded chunk lengths, so an hour of chunks lands on the same
samples as one long read (auto-editor's drift-free chunking). The stream is
decoded and resampled incrementally, so memory depends on the chunk, not the clip.
"""

from __future__ import annotations

from typing import Iterator

import av
import numpy as np

from emoguide.media.errors import EmptyRange, translate
from emoguide.media.probe import MediaInfo, open_container, probe
from emoguide.media.video import _seek


def _resampled_blocks(path, start_s: float, end_s: float, rate: int, info: MediaInfo, container_format, options):
    """Yield ``(first_sample_index, samples)`` blocks; sample index i is at time i / rate."""
    container = open_container(path, container_format, options)
    try:
        stream = container.streams.audio[0]
        container = _seek(container, stream, info.start_offset_s + start_s - 1.0, path, container_format, options)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        position = None
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.InvalidDataError:
                    continue
                for frame in frames:
                    if position is None:
                        if frame.pts is None:
                            continue
                        position = int(round((float(frame.pts * stream.time_base) - info.start_offset_s) * rate))
                    for out in resampler.resample(frame):
                        samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                        yield position, samples
                        position += len(samples)
                    if position / rate >= end_s + 0.05:
                        return
            for out in resampler.resample(None):
                samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                yield position or 0, samples
                position = (position or 0) + len(samples)
        except Exception as exc:  # noqa: BLE001 - translated
            raise translate(path, exc) from exc
    finally:
        container.close()


def iter_audio_chunks(path, start_s: float, end_s: float, chunk_s: float, rate: int = 16000, *,
                      info: MediaInfo | None = None, container_format=None, options=None) -> Iterator[np.ndarray]:
    """Consecutive chunks of ``[start_s, end_s)``; chunk k spans samples round((start+k·chunk)·rate)…"""
    if end_s <= start_s:
        raise EmptyRange(path, f"empty range {start_s:.3f}–{end_s:.3f} s")
    info = info or probe(path, container_format, options)
    if not info.has_audio:
        raise EmptyRange(path, "no audio stream")
    first = int(round(start_s * rate))
    last = int(round(end_s * rate))
    bounds = [int(round((start_s + k * chunk_s) * rate)) for k in range(int(np.ceil((end_s - start_s) / chunk_s)))]
    bounds = [b for b in bounds if b < last] + [last]
    buffer = np.zeros(0, np.float32)
    buffer_start = first
    k = 0
    for pos, samples in _resampled_blocks(path, start_s, end_s, rate, info, container_format, options):
        if pos + len(samples) <= buffer_start + len(buffer) or pos + len(samples) <= first:
            continue
        if pos < buffer_start + len(buffer):  # overlap with what we hold (or precedes the range)
            samples = samples[buffer_start + len(buffer) - pos:]
        elif pos > buffer_start + len(buffer):  # a gap in the stream: fill with silence
            buffer = np.concatenate([buffer, np.zeros(pos - buffer_start - len(buffer), np.float32)])
        buffer = np.concatenate([buffer, samples])
        while k + 1 < len(bounds) and buffer_start + len(buffer) >= bounds[k + 1]:
            n = bounds[k + 1] - buffer_start
            yield buffer[:n].copy()
            buffer, buffer_start, k = buffer[n:], bounds[k + 1], k + 1
        if k + 1 >= len(bounds):
            return
    while k + 1 < len(bounds):  # the file ended early: pad with silence to the exact length
        n = bounds[k + 1] - buffer_start
        chunk = np.zeros(n, np.float32)
        chunk[:min(n, len(buffer))] = buffer[:n]
        yield chunk
        buffer, buffer_start, k = buffer[n:], bounds[k + 1], k + 1


def read_audio_range(path, start_s: float, end_s: float, rate: int = 16000, *, info: MediaInfo | None = None,
                     container_format=None, options=None) -> np.ndarray:
    """Exactly ``round(end_s·rate) − round(start_s·rate)`` samples of mono float32 audio."""
    chunks = list(iter_audio_chunks(path, start_s, end_s, chunk_s=max(end_s - start_s, 1e-3), rate=rate, info=info,
                                    container_format=container_format, options=options))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
