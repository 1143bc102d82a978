"""Batch analysis of many timelines on a Ray cluster: clips are the unit of work.

Why Ray: it already does what a home-made scheduler would get wrong - placing
workers on machines by CPU/GPU resources, shipping arguments and results,
restarting a worker process that died. We use its actors: each worker is a Ray
actor that builds one :class:`Engine` when it starts and keeps it (models stay
hot for every clip it is given), exactly like the CLI's one engine per run.

The driver (the machine running ``emoguide analyze --ray``) keeps everything
that is not model work, with the same functions the local loop uses:
planning (:class:`TimelinePlan`), clips the timeline rules out, the analysis
cache (looked up before dispatch, filled as results return - the cache lives
on the driver, workers never touch it), progress events and the assembly of
each :class:`TimelineAnalysis`. Workers only run :func:`analyze_media` and send
back the cache's JSON form of the clip, so a Ray result and a cache entry are
the same thing.

Dispatch is one clip in flight per worker over ``ray.wait``, rather than
``ray.util.ActorPool``: when a worker process dies, the pool cannot say which
clip it was running (and drops the actor even though Ray restarts it), and
the promise here is an error on *that* clip while the batch goes on.

Media paths travel as they are: on a real cluster every node must see the
media (and the timeline's relative paths) at the same absolute path - a shared
or identically mounted filesystem.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import opentimelineio as otio

from emoguide.pipeline.analyze import (analyze_media, clip_cache_key, clip_from_dict, clip_to_dict,
                                       internal_error_message, unanalysable)
from emoguide.pipeline.cache import AnalysisCache
from emoguide.pipeline.engine import Engine
from emoguide.pipeline.plan import TimelinePlan
from emoguide.pipeline.progress import Cancelled, ProgressCallback, ProgressEvent, emit
from emoguide.pipeline.results import ClipAnalysis, TimelineAnalysis
from emoguide.pipeline.windows import AnalysisSettings

log = logging.getLogger(__name__)

WAIT_S = 0.5  # how often the driver looks at ``cancel`` while clips run


class RayUnavailable(RuntimeError):
    """Ray is not installed (it is the optional ``ray`` extra)."""


def require_ray():
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable("--ray needs Ray: pip install 'emoguide[ray]' (or pip install ray)") from exc
    return ray


def connect(address: str | None = None, **init_kwargs: Any) -> None:
    """Join the cluster at ``address`` (or $RAY_ADDRESS, e.g. "auto"), else start a local Ray instance.

    A process that already called ``ray.init`` (a test, a notebook) keeps its connection.
    """
    ray = require_ray()
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, **init_kwargs)
    else:
        ray.init(include_dashboard=False, **init_kwargs)


@dataclass
class BatchItem:
    """One timeline of a batch; ``base_dir`` resolves its relative media, ``progress`` gets its events."""

    timeline: otio.schema.Timeline
    base_dir: str | Path | None = None
    progress: ProgressCallback | None = None


class ClipWorker:
    """The body of one Ray actor: one Engine, built once, analysing one clip per call."""

    def __init__(self, engine_factory: Callable[[], Engine]):
        self.engine = engine_factory()

    def describe(self) -> dict[str, Any]:
        import socket

        return {"models": self.engine.versions(), "unavailable": dict(self.engine.unavailable),
                "device": self.engine.device, "node": socket.gethostname()}

    def analyze(self, job, settings: AnalysisSettings) -> tuple[dict, list[str]]:
        """(the clip's cache-form dict, warning messages to replay on the driver)."""
        events: list[ProgressEvent] = []
        clip = analyze_media(job, self.engine, settings, progress=events.append)
        if clip.status == "offline":
            clip = dataclasses.replace(clip, message=offline_on_worker(clip.message))
        return clip_to_dict(clip), [e.message for e in events if e.stage == "warning"]


def offline_on_worker(message: str) -> str:
    """An offline message that says where: the driver saw the media when it planned, this worker does not.

    The usual cause on a real cluster is a path that exists on the driver only (a local disk, a
    different mount point), and "media offline" alone would send the editor looking at the file.
    """
    import socket

    return (f"{message} (on Ray worker {socket.gethostname()}: every node must see the media at the same "
            "absolute path)")


@dataclass
class _Tracked:
    """A timeline in flight: its plan, its clips as they resolve, its progress listener.

    It assembles its :class:`TimelineAnalysis` (and says "done") as soon as its own last clip
    is back, not when the whole batch is, so a listener sees each timeline finish.
    """

    plan: TimelinePlan
    progress: ProgressCallback | None
    models: dict[str, str]
    settings: AnalysisSettings
    clips: list[ClipAnalysis | None] = field(default_factory=list)
    resolved: int = 0
    result: TimelineAnalysis | None = None

    def __post_init__(self) -> None:
        self.clips = [None if ok else self.plan.skipped(job) for job, ok in zip(self.plan.jobs, self.plan.analysable)]
        emit(self.progress, "timeline", 0, self.plan.n_analysable, message=self.plan.name)

    def resolve(self, index: int, clip: ClipAnalysis, warnings: list[str] = ()) -> None:
        job = self.plan.jobs[index]
        self.clips[index] = clip
        self.resolved += 1
        emit(self.progress, "clip", self.resolved - 1, len(self.plan.jobs), job.clip_id, job.clip_name)
        for message in warnings:
            emit(self.progress, "warning", 0, 0, job.clip_id, message)
        emit(self.progress, "clip_done", self.resolved, len(self.plan.jobs), job.clip_id, clip.status)
        self.finish_when_complete()

    def finish_when_complete(self) -> None:
        if self.result is not None or self.resolved < self.plan.n_analysable:
            return
        self.result = self.plan.assemble(self.clips, self.models, self.settings)
        n = len(self.plan.jobs)
        emit(self.progress, "done", n, n, message="partial" if self.result.partial else "ok")


class RayBatch:
    """Workers on a Ray cluster that analyse the clips of many timelines.

    ``engine_factory`` is called once inside each worker (it must be picklable:
    e.g. ``functools.partial(Engine.load, modalities=("face", "voice"))``).
    Workers start on the first :meth:`analyze` and stay up, models loaded,
    until :meth:`close`. A worker whose process dies is replaced up to
    ``max_restarts`` times per worker slot. Connect to Ray first (:func:`connect`).
    """

    def __init__(self, engine_factory: Callable[[], Engine], workers: int | None = None, *,
                 cpus_per_worker: float = 1.0, gpus_per_worker: float = 0.0, max_restarts: int = 1):
        self.engine_factory = engine_factory
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self.max_restarts = max_restarts
        self.actors: list = []  # Ray actor handles, one per worker slot
        self.models: dict[str, str] = {}  # the workers' model versions: part of every cache key
        self.crashes: dict[int, int] = {}  # worker slot → how many of its processes died
        self._remote = None  # ClipWorker as a Ray actor class with this batch's resources

    def start(self) -> None:
        if self.actors:
            return
        ray = require_ray()
        n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // max(self.cpus_per_worker, 1e-3)))
        # No Ray-side restarts: a restarting actor fails the calls sent to it meanwhile ("may or may not
        # have run"), so the driver replaces a dead worker itself and knows which clip died with it.
        self._remote = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker,
                                  max_restarts=0, max_task_retries=0)(ClipWorker)
        self.actors = [self._remote.remote(self.engine_factory) for _ in range(n)]
        try:
            described = ray.get([a.describe.remote() for a in self.actors])
        except ray.exceptions.RayActorError as exc:  # the engine factory raised, or the process died loading
            self.close()
            raise RuntimeError(f"Ray workers could not load the engine: {_first_line(exc)}") from exc
        versions = {tuple(sorted(d["models"].items())) for d in described}
        if len(versions) != 1:
            self.close()
            raise RuntimeError("Ray workers loaded different model versions; install the same emoguide on every "
                               f"node ({sorted(versions)})")
        self.models = described[0]["models"]
        for name, reason in described[0]["unavailable"].items():
            log.warning("%s modality unavailable on the workers (%s): analysing without it", name, reason)
        log.info("%d Ray workers ready on %s", n, ", ".join(sorted({d['node'] for d in described})))

    def close(self) -> None:
        if self.actors:
            ray = require_ray()
            for actor in self.actors:
                ray.kill(actor)
        self.actors = []
        self.crashes = {}

    def analyze(self, items: list[BatchItem], settings: AnalysisSettings | None = None,
                cache: AnalysisCache | None = None, cancel: threading.Event | None = None) -> list[TimelineAnalysis]:
        """Every timeline's analysis, in the order of ``items``: the same results the local loop gives."""
        settings = settings or AnalysisSettings()
        cache = cache if cache is not None else AnalysisCache(enabled=False)
        self.start()
        tracked = [_Tracked(TimelinePlan.of(i.timeline, i.base_dir), i.progress, self.models, settings)
                   for i in items]
        todo: deque[tuple[int, int]] = deque()
        for t, tr in enumerate(tracked):
            for j, job in enumerate(tr.plan.jobs):
                if not tr.plan.analysable[j]:
                    continue
                known = unanalysable(job)
                cached = cache.get(clip_cache_key(job, self.models, settings)) if known is None else None
                if known is not None or cached is not None:
                    tr.resolve(j, known or clip_from_dict(job, cached))
                else:
                    todo.append((t, j))
            tr.finish_when_complete()  # nothing to analyse at all
        self._dispatch(tracked, todo, settings, cache, cancel)
        return [tr.result for tr in tracked]

    def _dispatch(self, tracked, todo, settings, cache, cancel) -> None:
        """Keep every worker busy with one clip until ``todo`` is empty and every result is back."""
        ray = require_ray()
        from ray.exceptions import RayActorError, RayTaskError

        idle = [w for w in range(len(self.actors)) if self.crashes.get(w, 0) <= self.max_restarts]
        running: dict[Any, tuple[tuple[int, int], int]] = {}
        while todo or running:
            if cancel is not None and cancel.is_set():
                for ref in running:
                    try:
                        ray.cancel(ref)
                    except Exception:  # noqa: BLE001 - best effort: the clip's result is dropped anyway
                        log.debug("could not cancel %s", ref, exc_info=True)
                raise Cancelled("analysis cancelled")
            while idle and todo:
                ticket, worker = todo.popleft(), idle.pop()
                job = _absolute(tracked[ticket[0]].plan.jobs[ticket[1]])
                running[self.actors[worker].analyze.remote(job, settings)] = (ticket, worker)
            if not running:  # every worker is gone: what is left cannot run
                while todo:
                    t, j = todo.popleft()
                    job = tracked[t].plan.jobs[j]
                    tracked[t].resolve(j, ClipAnalysis(job=job, status="error",
                                                       message="not analysed: every Ray worker crashed"))
                break
            ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                (t, j), worker = running.pop(ref)
                job = tracked[t].plan.jobs[j]
                warnings: list[str] = []
                try:
                    payload, warnings = ray.get(ref)
                    clip = clip_from_dict(job, payload, from_cache=False)
                    if clip.status == "ok":
                        cache.put(clip_cache_key(job, self.models, settings), payload)
                    idle.append(worker)
                except RayActorError as exc:  # the worker process died (crash, out of memory, node lost)
                    clip = ClipAnalysis(job=job, status="error",
                                        message=f"Ray worker crashed while analysing this clip: {_first_line(exc)}")
                    self.crashes[worker] = self.crashes.get(worker, 0) + 1
                    if self.crashes[worker] <= self.max_restarts:  # a fresh worker takes its place
                        self.actors[worker] = self._remote.remote(self.engine_factory)
                        idle.append(worker)
                except RayTaskError as exc:  # a bug outside analyze_media (which reports its own, as locally)
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    clip = ClipAnalysis(job=job, status="error", message=internal_error_message(cause))
                    idle.append(worker)
                tracked[t].resolve(j, clip, warnings)


def _absolute(job):
    """The job with its media path made absolute on the driver: a worker's working folder is not ours."""
    if job.source is None or job.source.path.is_absolute():
        return job
    return dataclasses.replace(job, source=dataclasses.replace(job.source, path=job.source.path.resolve()))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
