"""Timeline in, :class:`TimelineAnalysis` out: the engine's one entry point.

For each clip: map it to its media range, look in the cache, otherwise probe
and analyse it. The pictures of the clips to analyse are decoded by one thread
running ahead of the models (:mod:`emoguide.pipeline.decode_ahead`). A clip that
fails (offline, corrupt, unknown codec, zero length) is recorded with its reason
and the run continues; ``partial`` on the result tells the caller. Only
:class:`Cancelled` stops a run early.

The per-clip steps are public (:func:`unanalysable`, :func:`clip_cache_key`,
:func:`analyze_media`, :func:`clip_to_dict`/:func:`clip_from_dict`) because the
Ray batch (:mod:`emoguide.pipeline.distributed`) runs the same steps split
between driver (cache, assembly) and workers (models): one code path, two
schedules.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import opentimelineio as otio

from emoguide import __version__
from emoguide.pipeline.cache import AnalysisCache
from emoguide.pipeline.clip import analyze_clip, picture_frames
from emoguide.pipeline.decode_ahead import DecodeAhead, PictureJob
from emoguide.pipeline.engine import Engine
from emoguide.pipeline.plan import TimelinePlan
from emoguide.pipeline.progress import Cancelled, ProgressCallback, check_cancel, emit
from emoguide.pipeline.results import BriefEvent, ClipAnalysis, ClipWindows, TimelineAnalysis
from emoguide.pipeline.windows import AnalysisSettings
from emoguide.timeline.mapping import ClipJob

if TYPE_CHECKING:  # PyAV loads only when a clip is decoded
    from emoguide.media.video import VideoFrame

log = logging.getLogger(__name__)


def analyze_timeline(
    timeline: otio.schema.Timeline,
    *,
    base_dir: str | Path | None = None,
    settings: AnalysisSettings | None = None,
    engine: Engine | None = None,
    cache: AnalysisCache | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    decode_ahead: bool = True,
) -> TimelineAnalysis:
    """Analyse every clip of ``timeline``.

    ``base_dir`` resolves relative media paths (pass the timeline file's folder).
    ``engine`` is reused when given (keep one per process: models stay loaded).
    ``decode_ahead``: one thread decodes the picture of the clips to analyse one after
    another, so the next clip's frames are ready when its turn comes
    (:mod:`~emoguide.pipeline.decode_ahead`); False starts a decoder per clip
    instead (the same results, measured against in ``benchmarks/bench_analyze.py``).
    """
    settings = settings or AnalysisSettings()
    engine = engine or Engine.load()
    cache = cache if cache is not None else AnalysisCache(enabled=False)
    plan = TimelinePlan.of(timeline, base_dir)
    jobs = plan.jobs
    emit(progress, "timeline", 0, plan.n_analysable, message=plan.name)
    clips: list[ClipAnalysis] = []
    with DecodeAhead(pictures_to_decode(plan, engine, settings, cache) if decode_ahead else []) as ahead:
        for index, job in enumerate(jobs):
            check_cancel(cancel)
            if not plan.analysable[index]:
                clips.append(plan.skipped(job))
                continue
            emit(progress, "clip", len(clips), len(jobs), job.clip_id, job.clip_name)
            clips.append(analyze_job(job, engine, settings, cache, progress, cancel, ahead.frames(index)))
            emit(progress, "clip_done", index + 1, len(jobs), job.clip_id, clips[-1].status)
    result = plan.assemble(clips, engine.versions(), settings)
    emit(progress, "done", len(jobs), len(jobs), message="partial" if result.partial else "ok")
    return result


def pictures_to_decode(plan: TimelinePlan, engine: Engine, settings: AnalysisSettings,
                       cache: AnalysisCache) -> list[PictureJob]:
    """The clips whose picture the run will decode (analysable, not cached), for :class:`DecodeAhead`.

    Their frames share one store of mapped blocks (the decode thread copies them in one clip after
    another): a clip's frames fill the blocks the previous clips' frames have left, instead of each
    clip mapping and faulting in blocks of its own, and a short clip's part-filled last block is
    not held beside the next clip's first ones.
    """
    from emoguide.media.frame_store import FrameBlocks

    if not engine.has("face"):
        return []
    models = engine.versions()
    store = FrameBlocks()
    return [PictureJob(index, functools.partial(_open_picture, job, settings, store))
            for index, job in enumerate(plan.jobs)
            if plan.analysable[index] and unanalysable(job) is None
            and not cache.holds(clip_cache_key(job, models, settings))]


def _open_picture(job: ClipJob, settings: AnalysisSettings, frame_store):
    """What the decode-ahead thread decodes of ``job``: nothing when the media has no picture."""
    from emoguide.media.probe import probe

    info = probe(job.source.path, job.source.container_format, job.source.options or None)
    return picture_frames(job, info, settings, frame_store) if info.has_video else ((), 1)


def analyze_job(job: ClipJob, engine: Engine, settings: AnalysisSettings, cache: AnalysisCache,
                progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
                frames: Iterator[VideoFrame] | None = None) -> ClipAnalysis:
    """One clip, cache first: what the local loop does per clip (``frames``: see :func:`analyze_media`)."""
    known = unanalysable(job)
    if known is not None:
        return known
    key = clip_cache_key(job, engine.versions(), settings)
    cached = cache.get(key)
    if cached is not None:
        return clip_from_dict(job, cached)
    analysis = analyze_media(job, engine, settings, progress, cancel, frames)
    if analysis.status == "ok":
        cache.put(key, clip_to_dict(analysis))
    return analysis


def unanalysable(job: ClipJob) -> ClipAnalysis | None:
    """The result of a clip the timeline itself rules out (no media, zero length), or None."""
    if not job.problem:
        return None
    status = "offline" if job.problem.startswith("media offline") else "skipped"
    if job.problem == "zero-length clip":
        status = "error"
    return ClipAnalysis(job=job, status=status, message=job.problem)


def clip_cache_key(job: ClipJob, models: dict[str, str], settings: AnalysisSettings) -> str | None:
    return AnalysisCache.key(job.source.path, job.media_start_s, job.media_end_s, models,
                             dataclasses.asdict(settings), __version__)


def analyze_media(job: ClipJob, engine: Engine, settings: AnalysisSettings,
                  progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
                  frames: Iterator[VideoFrame] | None = None) -> ClipAnalysis:
    """Probe and analyse ``job``'s media; unreadable media becomes an offline/error result, not an exception.

    ``frames``: the clip's picture already being decoded by the run's decode-ahead thread
    (:mod:`emoguide.pipeline.decode_ahead`); None decodes it here.

    So does an unexpected exception (a bug met by this clip's media): the clip gets status
    ``error`` with "internal error: …" and the traceback goes to the log, and the batch goes
    on, exactly as a Ray worker reports it. Only a cancel stops the run.

    Afterwards the C heap's freed pages go back to the system (pipeline/native_memory.py),
    so a long batch's peak memory does not creep up clip after clip.
    """
    from emoguide.pipeline.native_memory import release_freed_memory

    try:
        return _analyze_media(job, engine, settings, progress, cancel, frames)
    finally:
        release_freed_memory()


def _analyze_media(job: ClipJob, engine: Engine, settings: AnalysisSettings, progress: ProgressCallback | None,
                   cancel: threading.Event | None, frames: Iterator[VideoFrame] | None) -> ClipAnalysis:
    """The work of :func:`analyze_media`."""
    from emoguide.media.errors import MediaError, MediaOffline
    from emoguide.media.probe import probe

    try:
        info = probe(job.source.path, job.source.container_format, job.source.options or None)
        output = analyze_clip(job, info, engine, settings, progress, cancel, frames)
    except Cancelled:
        raise
    except MediaOffline as exc:
        emit(progress, "warning", 0, 0, job.clip_id, str(exc))
        return ClipAnalysis(job=job, status="offline", message=f"media offline: {exc}")
    except MediaError as exc:
        emit(progress, "warning", 0, 0, job.clip_id, str(exc))
        return ClipAnalysis(job=job, status="error", message=str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug met in one clip must not cost the batch its other clips
        log.exception("internal error while analysing clip %s (%s)", job.clip_id, job.source.path)
        message = internal_error_message(exc)
        emit(progress, "warning", 0, 0, job.clip_id, message)
        return ClipAnalysis(job=job, status="error", message=message)
    return ClipAnalysis(job=job, status="ok", windows=output.windows, events=output.events,
                        words=output.words, thumbnail_jpeg=output.thumbnail_jpeg)


def internal_error_message(exc: BaseException) -> str:
    """The clip status message for an unexpected exception: the same locally and from a Ray worker."""
    lines = str(exc).strip().splitlines()
    return f"internal error: {type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def clip_to_dict(analysis: ClipAnalysis) -> dict:
    """JSON-able form of a clip result: what the cache stores and what Ray workers send back."""
    import base64

    d = analysis.to_dict()
    d["thumbnail_jpeg"] = base64.b64encode(analysis.thumbnail_jpeg).decode() if analysis.thumbnail_jpeg else None
    return d


def clip_from_dict(job: ClipJob, d: dict, from_cache: bool = True) -> ClipAnalysis:
    """Media-level results (cached or sent by a worker) re-placed on this clip's timeline position."""
    import base64

    windows = ClipWindows.from_dict(d["windows"]) if d.get("windows") else None
    if windows is not None:
        windows.timeline_start_s = np.array([job.media_to_timeline(s) for s in windows.start_s], np.float32)
        windows.timeline_end_s = np.array([job.media_to_timeline(e) for e in windows.end_s], np.float32)
    thumb = base64.b64decode(d["thumbnail_jpeg"]) if d.get("thumbnail_jpeg") else None
    return ClipAnalysis(job=job, status=d["status"], message=d.get("message", ""), windows=windows,
                        events=[BriefEvent(**e) for e in d.get("events", [])], words=d.get("words", []),
                        thumbnail_jpeg=thumb, from_cache=from_cache)
