"""Progress as events, not prints (pyannote's hook idea).

The pipeline calls one ``progress(event)`` callback; the CLI turns events into a
terminal bar, the server publishes them on its PUB socket, tests collect them.
``cancel`` is the other direction: a ``threading.Event`` the pipeline checks
between chunks of work, so a job stops mid-clip without killing the process.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # "timeline" | "clip" | "decode" | "infer" | "clip_done" | "done" | "warning"
    done: float  # work units finished (seconds of media for decode/infer, clips otherwise)
    total: float
    clip_id: str = ""
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


ProgressCallback = Callable[[ProgressEvent], None]


class Cancelled(RuntimeError):
    """The caller asked the analysis to stop (``cancel`` event set)."""


def check_cancel(cancel: Optional[threading.Event]) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("analysis cancelled")


def emit(progress: Optional[ProgressCallback], *args, **kwargs) -> None:
    """Send an event if anyone listens; a listener's failure never stops the analysis."""
    if progress is None:
        return
    try:
        progress(ProgressEvent(*args, **kwargs))
    except Exception:  # noqa: BLE001 - a broken progress bar must not lose the work
        import logging

        logging.getLogger(__name__).debug("progress callback failed", exc_info=True)
