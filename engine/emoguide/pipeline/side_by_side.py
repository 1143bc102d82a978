"""Run a clip's sound analysis beside its picture analysis, in two threads.

Why: the picture side (face detector, expression net) and the sound side
(Whisper encoder, transcription) are independent until fusion, and each runs
its models on one intra-op thread (``Engine`` gives torch the cores less one,
one on a 2-core machine). Run one after the other, a clip used one core while
the other idled: a minute of 640×360 speech took 30.8 s wall for 30.7 s CPU.
torch and CTranslate2 release the GIL while they compute, so two Python threads
are enough; results are identical because the two sides share no state.

Failure: the first side to raise stops the other (it sees a cancel request at
its next check) and its exception is the one re-raised; a cancel from the
caller stops both and raises :class:`Cancelled`.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional, TypeVar

from emoguide.pipeline.progress import Cancelled

A = TypeVar("A")
B = TypeVar("B")


class EitherEvent:
    """Looks set when the caller's cancel or the sibling's failure is set (all ``check_cancel`` asks)."""

    def __init__(self, cancel: Optional[threading.Event]):
        self.cancel = cancel
        self.failed = threading.Event()

    def is_set(self) -> bool:
        return self.failed.is_set() or (self.cancel is not None and self.cancel.is_set())


def run_side_by_side(main: Callable[[EitherEvent], A], side: Callable[[EitherEvent], B],
                     cancel: Optional[threading.Event] = None) -> tuple[A, B]:
    """``(main(stop), side(stop))`` with ``side`` in a helper thread; ``stop`` is their shared cancel."""
    stop = EitherEvent(cancel)
    box: dict[str, object] = {}

    def run_side() -> None:
        try:
            box["result"] = side(stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread below
            box["error"] = exc
            stop.failed.set()

    worker = threading.Thread(target=run_side, name="emoguide-sound", daemon=True)
    worker.start()
    try:
        main_result = main(stop)
    except BaseException as exc:
        stop.failed.set()
        worker.join()
        side_error = box.get("error")
        if isinstance(exc, Cancelled) and side_error is not None and not isinstance(side_error, Cancelled):
            raise side_error from None  # main only stopped because the side failed: report the cause
        raise
    worker.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return main_result, box["result"]  # type: ignore[return-value]
