"""What the worker thread does with a job: OTIO JSON in, analysis + annotated OTIO + host markers out.

The analysis function is injectable (``analyze_fn``) so the server can be tested
with a fast stand-in; by default it is :func:`emoguide.analyze_timeline` with one
:class:`Engine` loaded once, in the worker thread, and kept hot between jobs.
Everything after the analysis (annotated copy, host markers) is always the real
code, so a stand-in analysis still exercises the marker path end to end.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
from pathlib import Path
from typing import Any, Callable

import opentimelineio as otio

from emoguide.pipeline.progress import ProgressCallback
from emoguide.pipeline.results import TimelineAnalysis
from emoguide.server.host_markers import host_markers
from emoguide.server.jobs import Job, JobError

log = logging.getLogger(__name__)

AnalyzeFn = Callable[[otio.schema.Timeline, dict, ProgressCallback, threading.Event], TimelineAnalysis]

SETTINGS_KEYS = ("window_s", "hop_s", "sample_fps", "spot_brief", "expression_every_frame", "max_side", "transcribe",
                 "skip_loop_filter")
OPTION_KEYS = {"settings", "base_dir", "cache", "markers"}


def parse_timeline(value: Any) -> otio.schema.Timeline:
    """The ``timeline`` field (an OTIO JSON object, or that JSON as a string) → a Timeline, or a clear error."""
    if isinstance(value, otio.schema.Timeline):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        obj = otio.adapters.read_from_string(text, "otio_json")
    except Exception as exc:  # OTIO raises many types
        raise JobError("invalid_request", f"timeline is not OTIO JSON ({type(exc).__name__}: {exc})") from exc
    if isinstance(obj, otio.schema.SerializableCollection):
        found = list(obj.find_children(descended_from_type=otio.schema.Timeline))
        if len(found) != 1:
            raise JobError("invalid_request", f"expected one timeline, got {len(found)}")
        obj = found[0]
    if not isinstance(obj, otio.schema.Timeline):
        raise JobError("invalid_request", f"timeline holds a {type(obj).__name__}, not a Timeline")
    return obj


def validate_options(options: Any) -> dict[str, Any]:
    """Checked at request time so a bad option is an immediate error reply, not a failed job later."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise JobError("invalid_request", "options must be an object")
    unknown = set(options) - OPTION_KEYS
    if unknown:
        raise JobError("invalid_request", f"unknown option(s): {', '.join(sorted(unknown))}")
    settings = options.get("settings") or {}
    if not isinstance(settings, dict) or set(settings) - set(SETTINGS_KEYS):
        raise JobError("invalid_request", f"options.settings may hold only {', '.join(SETTINGS_KEYS)}")
    from emoguide.pipeline.windows import AnalysisSettings

    try:
        AnalysisSettings(**settings)
    except (TypeError, ValueError) as exc:
        raise JobError("invalid_request", f"options.settings: {exc}") from exc
    if options.get("base_dir") is not None and not isinstance(options["base_dir"], str):
        raise JobError("invalid_request", "options.base_dir must be a string (an absolute folder)")
    return options


class JobRunner:
    """Owns the hot engine; ``prepare`` runs once in the worker thread, ``run`` once per job."""

    def __init__(self, analyze_fn: AnalyzeFn | None = None, *, device: str | None = None,
                 modalities: tuple[str, ...] = ("face", "voice", "text"), fusion: str | None = None, engine=None):
        self._analyze_fn = analyze_fn
        self.device, self.modalities, self.fusion = device, modalities, fusion
        self.engine = engine  # an already loaded Engine may be handed in (tests, embedding)
        self.state = "ready" if analyze_fn is not None or engine is not None else "loading"
        self.failure: str | None = None

    def prepare(self) -> None:
        if self._analyze_fn is not None or self.engine is not None:
            return
        try:
            from emoguide.pipeline.engine import Engine

            self.engine = Engine.load(device=self.device, modalities=self.modalities, fusion=self.fusion)
            self.state = "ready"
        except Exception as exc:
            self.state, self.failure = "failed", f"{type(exc).__name__}: {exc}"
            raise

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"engine": self.state}
        if self.engine is not None:
            out.update(device=self.engine.device, modalities=sorted(self.engine.recognisers),
                       unavailable=dict(self.engine.unavailable), models=self.engine.versions())
        if self.failure:
            out["failure"] = self.failure
        return out

    def run(self, job: Job, progress: ProgressCallback) -> dict[str, Any]:
        if job.kind == "analyze":
            return self._analyze(job, progress)
        if job.kind == "guide":
            return self._guide(job)
        raise JobError("invalid_request", f"unknown job kind {job.kind!r}")

    # -- analysis ----------------------------------------------------------------------------------------------
    def _analyze(self, job: Job, progress: ProgressCallback) -> dict[str, Any]:
        timeline = parse_timeline(job.request.get("timeline"))
        options = job.request.get("options") or {}
        analysis = (self._analyze_fn or self._real_analyze)(timeline, options, progress, job.cancel)
        return annotate(timeline, analysis)

    def _real_analyze(self, timeline, options, progress, cancel) -> TimelineAnalysis:
        from emoguide.pipeline.analyze import analyze_timeline
        from emoguide.pipeline.cache import AnalysisCache
        from emoguide.pipeline.windows import AnalysisSettings

        if self.engine is None:
            raise JobError("engine_unavailable", f"the engine's models did not load: {self.failure or 'still loading'}")
        base_dir = options.get("base_dir")
        return analyze_timeline(timeline, base_dir=Path(base_dir) if base_dir else None,
                                settings=AnalysisSettings(**(options.get("settings") or {})), engine=self.engine,
                                cache=AnalysisCache(enabled=bool(options.get("cache", True))),
                                progress=progress, cancel=cancel)

    # -- guidance ----------------------------------------------------------------------------------------------
    def _guide(self, job: Job) -> dict[str, Any]:
        guide = guidance_function()
        if guide is None:
            raise JobError("not_available", "guidance is not available in this engine build")
        analysis = TimelineAnalysis.from_dict(job.request["analysis"])
        guidance = guide(analysis, job.request.get("target") or {})
        out: dict[str, Any] = {"guidance": _plain(guidance)}
        if job.request.get("timeline") is not None:
            timeline = parse_timeline(job.request["timeline"])
            out.update(annotate(timeline, analysis, guidance))
        return out


def annotate(timeline: otio.schema.Timeline, analysis: TimelineAnalysis, guidance=None) -> dict[str, Any]:
    """Result of a job: the analysis, the annotated OTIO (as its JSON) and the flat host markers."""
    from emoguide.timeline.markers import annotated_copy

    annotated = annotated_copy(timeline, analysis, guidance)
    return {
        "analysis": finite(analysis.to_dict()),
        "timeline": json.loads(otio.adapters.write_to_string(annotated, "otio_json")),
        "markers": host_markers(annotated, analysis),
        "partial": analysis.partial,
    }


def finite(value: Any) -> Any:
    """NaN/Infinity → None (JSON null), recursively: the wire protocol refuses non-finite numbers, and real
    analyses have them (pitch of an unvoiced window). ``TimelineAnalysis.from_dict`` reads null back as NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def guidance_function():
    """``emoguide.guidance.guide`` when that module is installed, else None."""
    try:
        from emoguide.guidance import guide  # type: ignore[attr-defined]
    except ImportError:
        return None
    return guide


def _plain(value: Any) -> Any:
    from emoguide.pipeline.results import _jsonable

    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return _jsonable(value)
