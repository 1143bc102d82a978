"""Decode ahead in a background thread feeding a bounded queue (PySceneDetect's pattern).

libav releases the GIL while decoding, so the next frames decode while the
models work on the current chunk. The queue bound keeps memory flat. The
thread starts on the first ``next()`` (a generator that is never iterated
never starts one), and closing the returned generator — explicitly, by
``break`` out of a ``for`` loop, or by garbage collection — stops the thread and
closes the source iterator in it (so its ``finally`` blocks close containers).
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()
#: seconds between checks of the stop flag while the queue is full
_POLL_S = 0.05


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(iterable: Iterable[T], maxsize: int = 8, join_timeout_s: float = 10.0) -> Iterator[T]:
    """Iterate ``iterable`` in a worker thread; items, and any exception, arrive in order."""
    q: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        iterator = None
        try:
            iterator = iter(iterable)
            for item in iterator:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def consume() -> Iterator[T]:
        thread = threading.Thread(target=work, name="emoguide-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            stop.set()
            thread.join(timeout=join_timeout_s)

    return consume()
