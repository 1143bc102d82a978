"""Audio of a used range as 16 kHz mono float32, exact in length and position.

Sample positions come from absolute times: sample i of the output rate sits at
``i / rate`` seconds from the file's first frame, chunk boundaries are
``round(t · rate)`` of absolute times (the rounding error is carried, never
accumulated), and the decoded stream is re-anchored to its own timestamps
whenever they jump (a gap, a damaged packet skipped), so an hour of chunks lands
on the same samples as one long read. The stream is decoded and resampled
incrementally, so memory depends on the chunk, not the clip.

Padding: zeros fill only (a) gaps inside the stream and (b) the part of the
range past the end of the audio; (b) is logged as a warning with the count.
"""

from __future__ import annotations

import logging
from typing import Iterator

import av
import numpy as np

from emoguide.media.errors import EmptyRange, MediaCorrupt, translate
from emoguide.media.probe import MediaInfo, open_container, probe
from emoguide.media.video import MAX_BAD_PACKETS, _seek

log = logging.getLogger(__name__)

#: a frame starting this much (seconds; or half a frame, if more) off where the previous one ended
#: re-anchors the sample position to the frame's own timestamp
REANCHOR_S = 0.01
#: seconds decoded before the range start (priming, resampler warm-up)
PREROLL_S = 1.0


def _resampled_blocks(path, start_s: float, end_s: float, rate: int, info: MediaInfo, container_format, options):
    """Yield ``(first_sample_index, samples)`` blocks; sample index i is at time i / rate."""
    container = open_container(path, container_format, options)
    try:
        container, _ = _seek(container, "audio", info.start_offset_s + start_s - PREROLL_S, path,
                             container_format, options)
        stream = container.streams.audio[0]
        resampler = None
        jump_s = REANCHOR_S
        position = None  # output sample index of the next resampled sample
        expected = None  # where the next frame should start, from the previous frame's timestamp
        bad = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.InvalidDataError as exc:
                    bad += 1
                    if bad > MAX_BAD_PACKETS:
                        raise MediaCorrupt(path, f"more than {MAX_BAD_PACKETS} undecodable audio packets") from exc
                    continue
                for frame in frames:
                    t = None if frame.pts is None else float(frame.pts * stream.time_base) - info.start_offset_s
                    # Compared frame to frame, so slow timestamp drift (FLV's whole-ms MP3 timestamps lose
                    # 0.12 ms a frame) never re-anchors; only a real jump (a lost packet, a splice) does.
                    if t is not None and (expected is None or abs(t - expected) > jump_s):
                        if resampler is not None:  # timestamp jump: drain, then restart at the frame's own time
                            for block in _drain(resampler):
                                yield position, block
                                position += len(block)
                        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
                        frame, position = _align_to_grid(frame, t, rate)
                    if resampler is None:
                        continue  # no timestamp yet to anchor on
                    duration = frame.samples / frame.sample_rate
                    jump_s = max(REANCHOR_S, 0.5 * duration)
                    expected = (t if t is not None else expected) + duration
                    for out in resampler.resample(frame):
                        block = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                        yield position, block
                        position += len(block)
                    if position / rate >= end_s + 0.05:
                        return
            if resampler is not None:
                for block in _drain(resampler):
                    yield position, block
                    position += len(block)
        except MediaCorrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - translated
            raise translate(path, exc) from exc
    finally:
        container.close()


def _align_to_grid(frame: av.AudioFrame, t: float, rate: int) -> tuple[av.AudioFrame, int]:
    """Drop the input samples before the first output-grid instant ``j / rate`` ≥ ``t``.

    Anchoring a restarted resampler at ``round(t·rate)`` would leave the whole output up to half
    an output sample off the absolute grid (after a seek, AAC frames start every 21.3 ms, not on
    16 kHz sample instants); trimming instead keeps seek-started reads sample-identical to reads
    from the top whenever the rates divide evenly (48/32/16 kHz), and within half an input sample
    otherwise (44.1 kHz).
    """
    j = int(np.ceil(t * rate - 1e-9))
    skip = int(round((j / rate - t) * frame.sample_rate))
    if skip <= 0 or skip >= frame.samples:
        return frame, int(round(t * rate))
    data = frame.to_ndarray()
    data = data[:, skip:] if frame.format.is_planar else data[:, skip * len(frame.layout.channels):]
    trimmed = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=frame.format.name,
                                         layout=frame.layout.name)
    trimmed.sample_rate = frame.sample_rate
    return trimmed, j


def _drain(resampler) -> Iterator[np.ndarray]:
    for out in resampler.resample(None):
        yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)


def chunk_bounds(start_s: float, end_s: float, chunk_s: float, rate: int) -> list[int]:
    """Absolute sample indices of chunk boundaries: ``round((start + k·chunk)·rate)``, then the end.

    The end is ``round(start·rate) + round((end − start)·rate)`` so a range always holds exactly
    ``round((end − start)·rate)`` samples, however it is chunked."""
    first = int(round(start_s * rate))
    last = first + int(round((end_s - start_s) * rate))
    n = int(np.ceil((end_s - start_s) / chunk_s - 1e-9))
    bounds = [int(round((start_s + k * chunk_s) * rate)) for k in range(max(n, 1))]
    return [b for b in bounds if b < last] + [last] if last > first else [first]


def iter_audio_chunks(path, start_s: float, end_s: float, chunk_s: float, rate: int = 16000, *,
                      info: MediaInfo | None = None, container_format=None, options=None) -> Iterator[np.ndarray]:
    """Consecutive chunks of ``[start_s, end_s)``; chunk k spans absolute samples
    ``round((start+k·chunk)·rate) … round((start+(k+1)·chunk)·rate)`` (see :func:`chunk_bounds`), so
    their concatenation is exactly :func:`read_audio_range` of the whole range."""
    if not end_s > start_s or chunk_s <= 0:
        raise EmptyRange(path, f"empty range {start_s:.3f}–{end_s:.3f} s (chunk {chunk_s} s)")
    info = info or probe(path, container_format, options)
    if not info.has_audio:
        raise EmptyRange(path, "no audio stream")
    if (info.duration_s > 0 and start_s >= info.duration_s) or end_s <= 0:  # 0 = duration unknown
        raise EmptyRange(path, f"range {start_s:.3f}–{end_s:.3f} s lies outside the media (0–{info.duration_s:.3f} s)")
    bounds = chunk_bounds(start_s, end_s, chunk_s, rate)
    pieces = _Pieces(bounds[0])
    k = 0
    for pos, samples in _resampled_blocks(path, start_s, end_s, rate, info, container_format, options):
        held_end = pieces.end
        if pos + len(samples) <= held_end:
            continue  # wholly before what we still need
        if pos < held_end:  # overlaps what we hold, or precedes the range: keep the new part only
            samples = samples[held_end - pos:]
        elif pos > held_end:  # a gap in the stream: silence
            pieces.append(np.zeros(pos - held_end, np.float32))
        pieces.append(samples)
        while k + 1 < len(bounds) and pieces.end >= bounds[k + 1]:
            yield pieces.take(bounds[k + 1])
            k += 1
        if k + 1 >= len(bounds):
            return
    if k + 1 < len(bounds):
        log.warning("%s: audio ends at %.3f s; padding %d samples of silence up to %.3f s", path,
                    pieces.end / rate, bounds[-1] - pieces.end, end_s)
    while k + 1 < len(bounds):  # the audio ended early: pad with silence to the exact length
        pieces.append(np.zeros(max(0, bounds[k + 1] - pieces.end), np.float32))
        yield pieces.take(bounds[k + 1])
        k += 1


class _Pieces:
    """Resampled pieces held until a chunk is complete, joined once per chunk.

    Why not grow one array: a codec frame resamples to a few hundred samples, so
    appending each to the chunk so far copies the chunk thousands of times (a
    120 s chunk: ~5,600 frames, ~20 GB copied, 2 s of CPU) and leaves a trail of
    ever larger freed buffers in the C heap, which fragmented it over long runs
    (see docs/performance.md, twelfth pass).
    """

    def __init__(self, start: int):
        self.start = start  # absolute sample index of the first sample held
        self.parts: list[np.ndarray] = []
        self.held = 0

    @property
    def end(self) -> int:
        return self.start + self.held

    def append(self, samples: np.ndarray) -> None:
        if len(samples):
            self.parts.append(samples)
            self.held += len(samples)

    def take(self, until: int) -> np.ndarray:
        """The samples before absolute index ``until`` (≤ :attr:`end`), as one new array; the rest stay held."""
        n = until - self.start
        joined = np.concatenate(self.parts) if len(self.parts) != 1 else self.parts[0]
        chunk = joined[:n].copy() if len(self.parts) == 1 else joined[:n]
        rest = joined[n:]
        self.parts = [rest.copy()] if len(rest) else []  # a copy: the chunk's buffer is not kept alive by it
        self.start, self.held = until, len(rest)
        return chunk


def read_audio_range(path, start_s: float, end_s: float, rate: int = 16000, *, info: MediaInfo | None = None,
                     container_format=None, options=None) -> np.ndarray:
    """Exactly ``round((end_s − start_s)·rate)`` samples of mono float32 audio, sample 0 at
    ``round(start_s·rate) / rate`` s from the file's first frame."""
    chunks = list(iter_audio_chunks(path, start_s, end_s, chunk_s=end_s - start_s, rate=rate, info=info,
                                    container_format=container_format, options=options))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
