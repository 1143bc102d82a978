"""Decode the next clip's picture while the models still work on this one.

Why: each clip used to start its own decode thread (``media.prefetch``) when its
analysis began, so at every clip boundary the models waited for the new clip's
first frames, and while they worked on a clip's last chunk the decoder had
nothing to do. Editors' timelines are mostly short clips, so that happened every
few seconds. Here one thread decodes the picture of every clip still to be
analysed, clip after clip, into one bounded buffer: when a clip's frames are all
decoded the thread goes straight on to the next clip's, and those are waiting
when its analysis starts.

What stays the same:

- the frames: each clip's come from the same iterator the clip would have made
  itself (``clip.picture_frames``), so results are identical;
- memory: the buffer holds at most the bound of the clip being decoded (about
  two seconds of its frames, as the per-clip prefetch did), across clips;
- errors: a clip whose decoding fails gets its exception when it asks for its
  frames, in its own analysis (a clip whose analysis never asks, having met the
  same error probing first, costs nothing more), and the thread goes on to the
  next clip.

A clip's analysis that stops early (a cancel, an error in the models) or never
asks for its frames (found in the cache after all) is skipped: the thread drops
the rest of that clip as soon as the next clip asks. ``close`` stops the thread.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

#: what ``PictureJob.open`` returns: the clip's frames and how many may wait in the buffer
Opened = tuple[Iterable, int]


@dataclass(frozen=True)
class PictureJob:
    """One clip whose picture is decoded ahead. ``key``: the clip's place in the run (ascending)."""

    key: int
    open: Callable[[], Opened]


class _End:
    """The last item of a clip: its frames are complete, or (``error`` set) stopped by an error."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


class _BoundedBuffer:
    """A FIFO whose producer waits while it holds ``limit`` items (the limit may change per put)."""

    def __init__(self):
        self._items: deque = deque()
        self._cond = threading.Condition()
        self.closed = False

    def put(self, item, limit: int) -> bool:
        """Append ``item`` once fewer than ``limit`` items wait; False if the buffer was closed meanwhile."""
        with self._cond:
            while len(self._items) >= max(1, limit) and not self.closed:
                self._cond.wait()
            if self.closed:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self):
        with self._cond:
            while not self._items:
                self._cond.wait()
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._items.clear()
            self._cond.notify_all()


class DecodeAhead:
    """One background thread decoding ``jobs``' pictures in order; each clip's analysis takes its frames.

    Use as a context manager (the thread starts on entry and stops on exit)::

        with DecodeAhead(jobs) as ahead:
            for key, clip in ...:
                frames = ahead.frames(key)  # None when the clip is not among ``jobs``
    """

    def __init__(self, jobs: Sequence[PictureJob], join_timeout_s: float = 10.0):
        keys = [job.key for job in jobs]
        if keys != sorted(set(keys)):
            raise ValueError("picture jobs must have distinct keys in ascending order")
        self._jobs = list(jobs)
        self._keys = set(keys)
        self._buffer = _BoundedBuffer()
        self._floor = keys[0] if keys else 0  # clips below this key are abandoned by their consumers
        self._pending = None  # an item of a later clip, read while looking for an earlier one
        self._join_timeout_s = join_timeout_s
        self._thread = threading.Thread(target=self._work, name="emoguide-decode-ahead", daemon=True)

    def __enter__(self) -> "DecodeAhead":
        if self._jobs:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread (it closes the clip's decoder it is in); waiting frames are dropped."""
        self._buffer.close()
        if self._thread.is_alive():
            self._thread.join(timeout=self._join_timeout_s)

    def frames(self, key: int) -> Iterator | None:
        """The frames of clip ``key`` as they are decoded, or None if it is not decoded ahead.

        Clips must ask in ascending key order; asking abandons every earlier clip.
        """
        if key not in self._keys or self._buffer.closed:
            return None
        return self._consume(key)

    # -- consumer side (the analysis thread)

    def _consume(self, key: int) -> Iterator:
        self._floor = max(self._floor, key)
        finished = False
        try:
            while True:
                item_key, payload = self._next_item()
                if item_key < key:  # what is left of a clip nobody wants any more
                    continue
                if item_key > key:  # a bug (keys asked out of order): fail this clip, keep the next clip's item
                    self._pending = (item_key, payload)
                    finished = True
                    raise RuntimeError(f"decode ahead: clip {key}'s frames were skipped (clips asked out of order)")
                if isinstance(payload, _End):
                    finished = True
                    if payload.error is not None:
                        raise payload.error
                    return
                yield payload
        finally:
            if not finished:
                self._floor = max(self._floor, key + 1)  # stopped early: the thread drops the rest

    def _next_item(self):
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        return self._buffer.get()

    # -- producer side (the decode thread)

    def _work(self) -> None:
        for job in self._jobs:
            if self._buffer.closed:
                return
            if job.key < self._floor:
                continue
            if not self._decode(job):
                return

    def _decode(self, job: PictureJob) -> bool:
        """Decode one clip into the buffer; False when the buffer was closed."""
        iterator = None
        try:
            source, limit = job.open()
            iterator = iter(source)
            for frame in iterator:
                if job.key < self._floor:
                    return True  # its consumer stopped early or never came: nobody will read the rest
                if not self._buffer.put((job.key, frame), limit):
                    return False
            return self._buffer.put((job.key, _End()), limit)
        except Exception as exc:  # noqa: BLE001 - handed to this clip's consumer, the next clip goes on
            return self._buffer.put((job.key, _End(exc)), 1 << 30)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # the decoder's own ``finally`` closes its container, in this thread
