"""Job queue of the engine server: bounded, one worker thread, cancellable, results kept for late callers.

One worker thread owns the hot models (the runner), so jobs run one after the
other and never fight over the CPU/GPU; requests only enqueue and get a job id
back at once. The queue is bounded so a stuck host cannot pile up work; a full
queue is refused with ``queue_full`` rather than accepted and starved. Cancel
sets the job's ``threading.Event``, which the pipeline checks between chunks,
so a running job stops mid-clip. Finished jobs stay (up to ``keep_finished``)
so a host that subscribed late, or reconnected, can still ask ``status``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from emoguide.pipeline.progress import Cancelled, ProgressEvent
from emoguide.server.protocol import dumps, new_id

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)

Publish = Callable[[str, str, dict], None]  # (job_id, event type, content)


class QueueFull(RuntimeError):
    """The bounded queue has no room; the host should retry later."""


class JobError(RuntimeError):
    """A job failed for a reason the host should see (``code`` goes into the error reply)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Runner(Protocol):
    def prepare(self) -> None: ...
    def info(self) -> dict[str, Any]: ...
    def run(self, job: "Job", progress: Callable[[ProgressEvent], None]) -> dict[str, Any]: ...


@dataclass
class Job:
    id: str
    kind: str  # "analyze" | "guide"
    request: dict[str, Any]
    session: str = ""
    state: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    shutdown: bool = False  # cancelled because the engine is stopping, not by a request

    def summary(self) -> dict[str, Any]:
        """Everything but the (large) result: for ``list_jobs`` and events."""
        return {"job_id": self.id, "kind": self.kind, "state": self.state, "created": self.created,
                "started": self.started, "finished": self.finished, "progress": self.progress, "error": self.error}

    def status(self, include_result: bool = True) -> dict[str, Any]:
        out = self.summary()
        if include_result and self.state == DONE:
            out["result"] = self.result
        return out


class JobManager:
    def __init__(self, runner: Runner, publish: Publish, *, max_queue: int = 8, keep_finished: int = 32,
                 progress_interval_s: float = 0.1):
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.runner = runner
        self.publish = publish
        self.max_queue = max_queue
        self.keep_finished = keep_finished
        self.progress_interval_s = progress_interval_s
        self._jobs: "collections.OrderedDict[str, Job]" = collections.OrderedDict()
        self._queue: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._current: Job | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="emoguide-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel everything and join the worker (a running job stops at its next cancel check)."""
        with self._cond:
            self._stopping = True
            for job in list(self._queue) + ([self._current] if self._current is not None else []):
                job.shutdown = True
                job.cancel.set()
            dropped = list(self._queue)
            self._queue.clear()
            for job in dropped:
                self._finish(job, CANCELLED, error=_cancel_error(job))
            self._cond.notify_all()
        for job in dropped:
            self._emit_state(job)
        if self._thread is not None:
            self._thread.join(timeout)

    # -- requests (server thread) ----------------------------------------------------------------------------
    def submit(self, kind: str, request: dict[str, Any], session: str = "") -> Job:
        with self._cond:
            if self._stopping:
                raise QueueFull("the engine is shutting down")
            if len(self._queue) >= self.max_queue:
                raise QueueFull(f"{len(self._queue)} jobs already waiting (limit {self.max_queue}); try again when "
                                "one has finished")
            job = Job(id=new_id(), kind=kind, request=request, session=session)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._cond.notify_all()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        with self._cond:
            return list(self._jobs.values())

    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job at once, or ask a running one to stop; finished jobs are left as they are."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job.state in FINISHED:
                return job
            job.cancel.set()
            if job.state == QUEUED:
                self._queue.remove(job)
                self._finish(job, CANCELLED, error={"code": "cancelled", "message": "cancelled before it started"})
        if job.state == CANCELLED:
            self._emit_state(job)
        return job

    # -- worker thread ---------------------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            self.runner.prepare()
        except Exception:  # noqa: BLE001 - the runner reports its own failure through info()
            log.exception("engine failed to load")
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._queue.popleft()
                job.state, job.started = RUNNING, time.time()
                self._current = job
            self._emit_state(job)
            self._run(job)
            with self._cond:
                self._current = None
                self._prune()
            self._emit_state(job)

    def _run(self, job: Job) -> None:
        last = [0.0, ""]

        def progress(event: ProgressEvent) -> None:
            now = time.monotonic()
            if event.stage == last[1] and now - last[0] < self.progress_interval_s and event.stage not in ("clip_done", "done"):
                return  # throttled: hosts need a live bar, not every chunk
            last[0], last[1] = now, event.stage
            job.progress = event.as_dict()
            self.publish(job.id, "progress", {"job_id": job.id, **job.progress})

        try:
            result = self.runner.run(job, progress)
            _check_sendable(result)
        except Cancelled:
            self._finish(job, CANCELLED, error=_cancel_error(job))
        except JobError as exc:
            self._finish(job, FAILED, error={"code": exc.code, "message": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one bad job must not kill the worker
            log.exception("job %s failed", job.id)
            self._finish(job, FAILED, error={"code": "internal", "message": f"{type(exc).__name__}: {exc}"})
        else:
            if job.cancel.is_set():
                self._finish(job, CANCELLED, error=_cancel_error(job))
            else:
                job.result = result
                self._finish(job, DONE)
                self.publish(job.id, "result", {"job_id": job.id, "state": DONE, "result": result})

    def _finish(self, job: Job, state: str, error: dict[str, Any] | None = None) -> None:
        job.state, job.finished, job.error = state, time.time(), error

    def _emit_state(self, job: Job) -> None:
        self.publish(job.id, "state", job.summary())

    def _prune(self) -> None:
        """Forget the oldest finished jobs beyond ``keep_finished`` (their results are the big part)."""
        finished = [j for j in self._jobs.values() if j.state in FINISHED]
        for job in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[job.id]


def _cancel_error(job: Job) -> dict[str, str]:
    if job.shutdown:
        return {"code": "engine_unavailable", "message": "the engine shut down while this job ran; start it again "
                                                         "('emoguide serve') and send the timeline again"}
    return {"code": "cancelled", "message": "cancelled while running"}


def _check_sendable(result: Any) -> None:
    """Fail the job (not the server) when its result cannot travel: the wire refuses NaN and non-JSON values,
    and finding that out while replying would leave the client waiting for a result that never comes."""
    try:
        dumps(result)
    except (TypeError, ValueError) as exc:
        raise JobError("internal", f"the result cannot be sent ({exc}); please report this as a bug") from exc
