"""Timeline in, :class:`TimelineAnalysis` out: the engine's one entry point.

For each clip: map it to its media range, look in the cache, otherwise probe
and analyse it. A clip that fails (offline, corrupt, unknown codec, zero
length) is recorded with its reason and the run continues; ``partial`` on the
result tells the caller. Only :class:`Cancelled` stops a run early.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import numpy as np
import opentimelineio as otio

from emoguide import __version__
from emoguide.pipeline.cache import AnalysisCache
from emoguide.pipeline.clip import analyze_clip
from emoguide.pipeline.engine import Engine
from emoguide.pipeline.progress import Cancelled, ProgressCallback, check_cancel, emit
from emoguide.pipeline.results import BriefEvent, ClipAnalysis, ClipWindows, TimelineAnalysis
from emoguide.pipeline.windows import AnalysisSettings
from emoguide.timeline.mapping import ClipJob, clip_jobs

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
) -> TimelineAnalysis:
    """Analyse every clip of ``timeline``.

    ``base_dir`` resolves relative media paths (pass the timeline file's folder).
    ``engine`` is reused when given (keep one per process: models stay loaded).
    """
    settings = settings or AnalysisSettings()
    engine = engine or Engine.load()
    cache = cache if cache is not None else AnalysisCache(enabled=False)
    jobs = clip_jobs(timeline, Path(base_dir) if base_dir else None)
    analysable = [j for j in jobs if j.track_kind == "Video" or not _has_video_twin(j, jobs)]
    emit(progress, "timeline", 0, len(analysable), message=timeline.name or "timeline")
    clips: list[ClipAnalysis] = []
    for index, job in enumerate(jobs):
        check_cancel(cancel)
        if job not in analysable:
            clips.append(ClipAnalysis(job=job, status="skipped",
                                      message="audio of a linked video clip: analysed with the picture"))
            continue
        emit(progress, "clip", len(clips), len(jobs), job.clip_id, job.clip_name)
        clips.append(_analyze_job(job, engine, settings, cache, progress, cancel))
        emit(progress, "clip_done", index + 1, len(jobs), job.clip_id, clips[-1].status)
    rate, duration, start = _timeline_timing(timeline)
    result = TimelineAnalysis(
        timeline_name=timeline.name or "timeline", duration_s=duration, rate=rate, start_timecode_s=start,
        clips=clips, models=engine.versions(), settings=dataclasses.asdict(settings), emoguide_version=__version__,
    )
    emit(progress, "done", len(jobs), len(jobs), message="partial" if result.partial else "ok")
    return result


def _has_video_twin(job: ClipJob, jobs: list[ClipJob]) -> bool:
    """An audio clip whose media and range a video clip already covers (linked A/V) is not re-analysed."""
    if job.source is None:
        return False
    return any(o.track_kind == "Video" and o.source is not None and o.source.path == job.source.path
               and abs(o.media_start_s - job.media_start_s) < 1e-3 and abs(o.media_end_s - job.media_end_s) < 1e-3
               for o in jobs)


def _analyze_job(job, engine, settings, cache, progress, cancel) -> ClipAnalysis:
    from emoguide.media.errors import MediaError, MediaOffline
    from emoguide.media.probe import probe

    if job.problem:
        status = "offline" if job.problem.startswith("media offline") else "skipped"
        if job.problem == "zero-length clip":
            status = "error"
        return ClipAnalysis(job=job, status=status, message=job.problem)
    key = AnalysisCache.key(job.source.path, job.media_start_s, job.media_end_s, engine.versions(),
                            dataclasses.asdict(settings), __version__)
    cached = cache.get(key)
    if cached is not None:
        return _from_cache(job, cached)
    try:
        info = probe(job.source.path, job.source.container_format, job.source.options or None)
        output = analyze_clip(job, info, engine, settings, progress, cancel)
    except Cancelled:
        raise
    except MediaOffline as exc:
        emit(progress, "warning", 0, 0, job.clip_id, str(exc))
        return ClipAnalysis(job=job, status="offline", message=f"media offline: {exc}")
    except MediaError as exc:
        emit(progress, "warning", 0, 0, job.clip_id, str(exc))
        return ClipAnalysis(job=job, status="error", message=str(exc))
    analysis = ClipAnalysis(job=job, status="ok", windows=output.windows, events=output.events,
                            words=output.words, thumbnail_jpeg=output.thumbnail_jpeg)
    cache.put(key, _to_cache(analysis))
    return analysis


def _to_cache(analysis: ClipAnalysis) -> dict:
    import base64

    d = analysis.to_dict()
    d["thumbnail_jpeg"] = base64.b64encode(analysis.thumbnail_jpeg).decode() if analysis.thumbnail_jpeg else None
    return d


def _from_cache(job: ClipJob, d: dict) -> ClipAnalysis:
    """Cached media-level results re-placed on this clip's timeline position."""
    import base64

    windows = ClipWindows.from_dict(d["windows"]) if d.get("windows") else None
    if windows is not None:
        windows.timeline_start_s = np.array([job.media_to_timeline(s) for s in windows.start_s], np.float32)
        windows.timeline_end_s = np.array([job.media_to_timeline(e) for e in windows.end_s], np.float32)
    thumb = base64.b64decode(d["thumbnail_jpeg"]) if d.get("thumbnail_jpeg") else None
    return ClipAnalysis(job=job, status=d["status"], message=d.get("message", ""), windows=windows,
                        events=[BriefEvent(**e) for e in d.get("events", [])], words=d.get("words", []),
                        thumbnail_jpeg=thumb, from_cache=True)


def _timeline_timing(timeline: otio.schema.Timeline) -> tuple[float, float, float]:
    """(rate, duration seconds, global start seconds) with safe fallbacks for odd timelines."""
    try:
        duration = timeline.duration()
        rate = duration.rate or 24.0
        seconds = duration.to_seconds()
    except Exception:  # noqa: BLE001 - empty or malformed: report zero length
        rate, seconds = 24.0, 0.0
    start = timeline.global_start_time
    if start is not None and start.rate:
        rate = start.rate
    return float(rate), float(seconds), float(start.to_seconds()) if start is not None else 0.0
