"""Analysing one clip's used media range: decode → recognisers → fusion.

Video is decoded in chunks of a few seconds (a background thread keeps the next
frames decoding while the models work: in a timeline run one thread for all the
clips, :mod:`emoguide.pipeline.decode_ahead`, so it goes on into the next clip's
frames while the models finish this one). Every frame of the used range goes
through the cheap expression net (brief expressions need full rate); the
expensive face detector runs only on every k-th frame and the tracker carries
boxes in between. Per-frame readings are reduced to windows as soon as a window
is complete and brief expressions are spotted over a rolling buffer
(:mod:`emoguide.pipeline.rolling`); sound is read in blocks of two minutes
(:mod:`emoguide.pipeline.audio_blocks`), in a second thread beside the picture
(:mod:`emoguide.pipeline.side_by_side`). So memory stays flat however long the
clip is, and clips up to one block long give exactly a whole-clip pass's results.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from emoguide.labels import NUM_CLASSES
from emoguide.pipeline.engine import Engine
from emoguide.pipeline.progress import ProgressCallback, check_cancel, emit
from emoguide.pipeline.results import BriefEvent, ClipWindows
from emoguide.pipeline.side_by_side import run_side_by_side
from emoguide.pipeline.rolling import FrameRoller, SpotStream, concat_dicts, concat_results
from emoguide.pipeline.text_windows import words_for_clip, window_texts
from emoguide.pipeline.windows import AnalysisSettings, make_windows
from emoguide.recognition.base import ModalityResult
from emoguide.recognition.windowing import window_slices
from emoguide.timeline.mapping import ClipJob

if TYPE_CHECKING:  # PyAV loads only when a clip is decoded
    from emoguide.media.video import VideoFrame

log = logging.getLogger(__name__)

CHUNK_S = 8.0  # seconds of video decoded and analysed together
AHEAD_S = 2.0  # seconds of frames the decode thread may run ahead of the models
STAT_STRIDE = 4  # pixel stride for picture statistics


@dataclass
class ClipOutput:
    windows: ClipWindows
    events: list[BriefEvent]
    words: list[dict]
    thumbnail_jpeg: bytes | None


def analyze_clip(job: ClipJob, info, engine: Engine, settings: AnalysisSettings,
                 progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
                 frames: Iterator[VideoFrame] | None = None) -> ClipOutput:
    """Analyse ``job``'s media range (``info`` is its :class:`MediaInfo`). Raises MediaError subclasses.

    ``frames``: the clip's picture already being decoded (:func:`picture_frames`' frames, from
    :mod:`emoguide.pipeline.decode_ahead`); None decodes it here.
    """
    starts, ends = make_windows(job.media_start_s, job.media_end_s, settings)
    n = len(starts)
    results: dict[str, ModalityResult] = {}
    stats: dict[str, np.ndarray] = {}

    def picture(stop):
        if info.has_video and engine.has("face"):
            return _analyze_video(job, info, engine, settings, starts, ends, progress, stop, frames)
        return (ModalityResult.absent(n) if engine.has("face") else None), {}, [], None

    def sound(stop):
        if info.has_audio and engine.has("voice"):
            check_cancel(stop)
            from emoguide.pipeline.audio_blocks import analyze_audio_blocks

            return analyze_audio_blocks(job, info, engine, settings, starts, ends, progress, stop)
        return (ModalityResult.absent(n) if engine.has("voice") else None), {}, []

    both = info.has_video and engine.has("face") and info.has_audio and engine.has("voice")
    if both and engine.parallel_modalities:
        (face_result, picture_stats, events, thumbnail), (voice_result, audio_stats, words) = \
            run_side_by_side(picture, sound, cancel)
    else:
        face_result, picture_stats, events, thumbnail = picture(cancel)
        voice_result, audio_stats, words = sound(cancel)
    for name, result in (("face", face_result), ("voice", voice_result)):
        if result is not None:
            results[name] = result
    stats.update(picture_stats)
    stats.update(audio_stats)
    if not words:
        words = words_for_clip(job, engine, None, None, transcribe=False)  # captions only

    if engine.has("text"):
        check_cancel(cancel)
        texts = window_texts(words, starts, ends)
        results["text"] = engine.recognisers["text"].predict(texts)

    fused = engine.fusion.fuse(results) if results else None
    windows = ClipWindows(
        start_s=starts.astype(np.float32), end_s=ends.astype(np.float32),
        timeline_start_s=np.array([job.media_to_timeline(s) for s in starts], dtype=np.float32),
        timeline_end_s=np.array([job.media_to_timeline(e) for e in ends], dtype=np.float32),
        probs=fused.probs if fused else np.full((n, NUM_CLASSES), 1.0 / NUM_CLASSES, np.float32),
        vad=fused.vad if fused else np.zeros((n, 3), np.float32),
        confidence=fused.confidence if fused else np.zeros(n, np.float32),
        disagreement=fused.disagreement if fused else np.zeros(n, np.float32),
        disagreeing_pair=fused.disagreeing_pair if fused else [""] * n,
        contributions=fused.contributions if fused else {},
        modalities={name: _modality_columns(res) for name, res in results.items()},
        stats=stats, fusion=fused.method if fused else "none", vad_source=fused.vad_source if fused else "none",
    )
    return ClipOutput(windows=windows, events=events, words=words, thumbnail_jpeg=thumbnail)


def _modality_columns(res: ModalityResult) -> dict[str, np.ndarray]:
    cols = {"probs": res.probs, "present": res.present, "reliability": res.reliability, "confidence": res.confidence}
    if res.vad is not None:
        cols["vad"] = res.vad
    for key, value in res.extras.items():
        value = np.asarray(value)
        if value.ndim >= 1 and len(value) == len(res.probs) and value.dtype.kind in "fiub":
            cols[key] = value
    return cols


def picture_frames(job: ClipJob, info, settings: AnalysisSettings,
                   frame_store=None) -> tuple[Iterator[VideoFrame], int]:
    """The frames the picture side reads from ``job``'s range, and how many may be decoded ahead.

    One definition for the clip's own decode and the run's decode-ahead thread
    (:mod:`emoguide.pipeline.decode_ahead`), so both yield the same frames. The
    bound is about two seconds of frames (:data:`AHEAD_S`): with the detector
    starting on a chunk's key frames as they arrive, four seconds measured no
    faster (docs/performance.md, twenty-third pass), and every second costs
    a second of frames in memory. ``frame_store``: see ``iter_video_frames``.
    """
    from emoguide.media.video import iter_video_frames

    frames = iter_video_frames(job.source.path, job.media_start_s, job.media_end_s,
                               sample_fps=None if settings.spot_brief else settings.sample_fps,
                               max_side=settings.max_side, info=info, skip_loop_filter=settings.skip_loop_filter,
                               container_format=job.source.container_format, options=job.source.options or None,
                               frame_store=frame_store)
    return frames, int(_video_rate(info) * AHEAD_S) + 4


def _video_rate(info) -> float:
    return float(info.video_rate) if info.video_rate else 25.0


def _analyze_video(job, info, engine, settings, starts, ends, progress, cancel, frames=None):
    """Face results per window, picture stats per window, brief events, a thumbnail."""
    from emoguide.media.prefetch import prefetch
    from emoguide.media.stats import frame_stats, motion_energy
    from emoguide.pipeline.native_memory import release_freed_memory

    face = engine.recognisers["face"]
    rate = _video_rate(info)
    full_rate = settings.spot_brief
    detect_every = max(1, int(round(rate / settings.sample_fps))) if full_rate else 1
    frames_iter = frames
    if frames_iter is None:  # not decoded ahead by the run: a decode thread of this clip's own
        source, bound = picture_frames(job, info, settings)
        frames_iter = prefetch(source, maxsize=bound)
    face_roll = FrameRoller(starts, ends, lambda rows, t, s, e: face.aggregate(rows, t, s, e))
    stat_roll = FrameRoller(starts, ends, lambda rows, t, s, e: {k: _window_mean(v, t, s, e) for k, v in rows.items()})
    motion_roll = FrameRoller(starts, ends, lambda rows, t, s, e: {"motion": _window_mean(rows["motion"], t, s, e)})
    spotter = SpotStream(face.spot) if full_rate else None
    thumbnail = None
    mid = 0.5 * (job.media_start_s + job.media_end_s)
    prev_last = None
    chunk, chunk_t = [], []
    early = []  # faces of the chunk's first key frames, found while the rest of it was decoding
    total = job.media_duration_s

    def flush():
        nonlocal prev_last, thumbnail
        frames = list(chunk)  # not stacked: the face model copies only key frames and face boxes
        t = np.asarray(chunk_t, dtype=np.float64)
        chunk.clear()
        chunk_t.clear()
        readings = face.analyze_frames(frames, t, detect_every=detect_every,
                                       every_frame=settings.expression_every_frame, detections=list(early))
        early.clear()
        face_roll.push(t, readings)
        if spotter is not None:
            spotter.push(t, readings)
        # Picture statistics are slow-moving: measure them at the detection rate on a 4×-subsampled
        # grid (16× fewer pixels); motion needs every frame, but not every pixel either.
        small = np.stack([f[::STAT_STRIDE, ::STAT_STRIDE] for f in frames])
        stat_roll.push(t[::detect_every], frame_stats(small[::detect_every]))
        with_prev = small if prev_last is None else np.concatenate([prev_last[None], small])
        m = motion_energy(with_prev)
        motion_roll.push(t, {"motion": m[-len(frames):] if len(m) >= len(frames)
                             else np.concatenate([np.zeros(len(frames) - len(m)), m])})
        prev_last = small[-1].copy()
        if thumbnail is None and t[-1] >= mid:
            thumbnail = _jpeg(frames[int(np.argmin(np.abs(t - mid)))])
        emit(progress, "decode", float(t[-1] - job.media_start_s), total, job.clip_id, "video")

    try:
        for frame in frames_iter:
            chunk.append(frame.image)
            chunk_t.append(frame.time_s)
            if chunk_t[-1] - chunk_t[0] >= CHUNK_S:
                check_cancel(cancel)
                flush()
                release_freed_memory()  # the chunk's frames and activations: see pipeline/native_memory.py
            else:
                face.detect_arrived(chunk, detect_every, early)
        if chunk:
            flush()
    finally:
        close = getattr(frames_iter, "close", None)
        if close:
            close()
    n = len(starts)
    if not face_roll.times and not face_roll.outputs:
        return ModalityResult.absent(n), {}, [], None
    result = concat_results(face_roll.finish())
    events = [BriefEvent(e.onset_s, e.apex_s, e.offset_s, e.label, float(e.strength))
              for e in spotter.finish()] if spotter is not None else []
    stats = concat_dicts(stat_roll.finish())
    stats.update(concat_dicts(motion_roll.finish()))
    return result, stats, events, thumbnail


def _window_mean(values: np.ndarray, times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    out = np.full(len(starts), np.nan, dtype=np.float32)
    lo, hi = window_slices(times, starts, ends)
    for i in np.flatnonzero(hi > lo):
        out[i] = float(np.nanmean(values[lo[i]:hi[i]]))
    return out


def _jpeg(image: np.ndarray, width: int = 240) -> bytes:
    from PIL import Image

    img = Image.fromarray(image)
    img.thumbnail((width, width))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()
