"""A timeline reduced to its clip jobs, and the clip results put back together.

Split out of ``analyze.py`` so the two ways of running an analysis share one
definition of "which clips get analysed" and "what a TimelineAnalysis is made
of": the local loop (:func:`emoguide.pipeline.analyze.analyze_timeline`) runs
the jobs in order on one engine, the Ray batch
(:mod:`emoguide.pipeline.distributed`) runs the jobs of many timelines on many
workers; both then call :meth:`TimelinePlan.assemble`, so their results cannot
drift apart. A plan holds no OTIO objects, only plain jobs and numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from emoguide import __version__
from emoguide.pipeline.results import ClipAnalysis, TimelineAnalysis
from emoguide.pipeline.windows import AnalysisSettings
from emoguide.timeline.mapping import ClipJob, clip_jobs

LINKED_AUDIO = "audio of a linked video clip: analysed with the picture"


@dataclass
class TimelinePlan:
    name: str
    jobs: list[ClipJob]
    analysable: list[bool]  # False: linked audio whose picture's clip already covers it
    rate: float
    duration_s: float
    start_s: float

    @classmethod
    def of(cls, timeline: otio.schema.Timeline, base_dir: str | Path | None = None) -> "TimelinePlan":
        jobs = clip_jobs(timeline, Path(base_dir) if base_dir else None)
        analysable = [j.track_kind == "Video" or not _has_video_twin(j, jobs) for j in jobs]
        rate, duration, start = _timeline_timing(timeline)
        return cls(timeline.name or "timeline", jobs, analysable, rate, duration, start)

    @property
    def n_analysable(self) -> int:
        return sum(self.analysable)

    @staticmethod
    def skipped(job: ClipJob) -> ClipAnalysis:
        return ClipAnalysis(job=job, status="skipped", message=LINKED_AUDIO)

    def assemble(self, clips: list[ClipAnalysis], models: dict[str, str],
                 settings: AnalysisSettings) -> TimelineAnalysis:
        """The timeline's result from its clips' results, in job order."""
        if len(clips) != len(self.jobs):
            raise ValueError(f"{len(clips)} clip results for {len(self.jobs)} clips of {self.name!r}")
        return TimelineAnalysis(
            timeline_name=self.name, duration_s=self.duration_s, rate=self.rate, start_timecode_s=self.start_s,
            clips=list(clips), models=dict(models), settings=dataclasses.asdict(settings),
            emoguide_version=__version__)


def _has_video_twin(job: ClipJob, jobs: list[ClipJob]) -> bool:
    """An audio clip whose media and range a video clip already covers (linked A/V) is not re-analysed."""
    if job.source is None:
        return False
    return any(o.track_kind == "Video" and o.source is not None and o.source.path == job.source.path
               and abs(o.media_start_s - job.media_start_s) < 1e-3 and abs(o.media_end_s - job.media_end_s) < 1e-3
               for o in jobs)


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
