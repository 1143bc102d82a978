"""Per-frame rows in, per-window results out, holding only the frames an open window still needs.

Keeping every frame's reading until the end of a clip makes memory grow with
the media (and the window reductions quadratic); but a window ``[s, e)`` is
complete as soon as a frame at or after ``e`` has been seen, and a frame before
the earliest open window's start is never needed again. :class:`FrameRoller`
reduces complete windows as frames arrive and forgets old frames, so a
two-hour clip holds a few seconds of rows. Each window still sees exactly the
frames a whole-clip pass would give it, so results do not change.

Rows are a dataclass or a dict of arrays aligned with the frame times (what the
recognisers return); :func:`concat_rows` and :func:`take_rows` work on both.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from emoguide.recognition.base import ModalityResult


def _fields(rows) -> dict[str, Any]:
    return dict(rows) if isinstance(rows, dict) else {f.name: getattr(rows, f.name) for f in dataclasses.fields(rows)}


def _rebuild(like, values: dict[str, Any]):
    return values if isinstance(like, dict) else type(like)(**values)


def concat_rows(parts: list):
    """Concatenate per-frame rows field by field (non-array fields: the first part's)."""
    if len(parts) == 1:
        return parts[0]
    fields = [_fields(p) for p in parts]
    values = {k: np.concatenate([f[k] for f in fields]) if isinstance(v, np.ndarray) else v
              for k, v in fields[0].items()}
    return _rebuild(parts[0], values)


def take_rows(rows, index):
    """Rows ``index`` (a slice or mask) of every per-frame array field."""
    return _rebuild(rows, {k: v[index] if isinstance(v, np.ndarray) else v for k, v in _fields(rows).items()})


class FrameRoller:
    """Feeds ``reduce(rows, times, starts, ends)`` each window once all its frames have arrived.

    Frames must arrive in time order; windows' starts and ends must be non-decreasing
    (:func:`emoguide.pipeline.windows.make_windows` guarantees both).
    """

    def __init__(self, starts: np.ndarray, ends: np.ndarray, reduce: Callable):
        self.starts, self.ends, self.reduce = np.asarray(starts), np.asarray(ends), reduce
        self.done = 0
        self.times: list[np.ndarray] = []
        self.rows: list = []
        self.outputs: list = []

    def push(self, times: np.ndarray, rows) -> None:
        if len(times):
            self.times.append(np.asarray(times, np.float64))
            self.rows.append(rows)
            self.advance(float(times[-1]))

    def advance(self, seen_up_to: float) -> None:
        """Reduce the windows ending at or before ``seen_up_to`` (no later frame can fall in them)."""
        j = int(np.searchsorted(self.ends, seen_up_to, "right"))
        if j <= self.done or not self.times:
            return
        times, rows = np.concatenate(self.times), concat_rows(self.rows)
        self.outputs.append(self.reduce(rows, times, self.starts[self.done:j], self.ends[self.done:j]))
        self.done = j
        keep = times >= self.starts[j] if j < len(self.starts) else np.zeros(len(times), bool)
        self.times, self.rows = ([times[keep]], [take_rows(rows, keep)]) if keep.any() else ([], [])

    def finish(self) -> list:
        self.advance(np.inf)
        return self.outputs


def concat_results(parts: list[ModalityResult]) -> ModalityResult:
    """One :class:`ModalityResult` from consecutive runs of windows."""
    if len(parts) == 1:
        return parts[0]
    vads = [p.vad for p in parts]
    extras = {k: np.concatenate([np.asarray(p.extras[k]) for p in parts]) for k in parts[0].extras
              if all(k in p.extras for p in parts)}
    return ModalityResult(probs=np.concatenate([p.probs for p in parts]),
                          confidence=np.concatenate([p.confidence for p in parts]),
                          present=np.concatenate([p.present for p in parts]),
                          reliability=np.concatenate([p.reliability for p in parts]),
                          vad=np.concatenate(vads) if all(v is not None for v in vads) else None,
                          extras=extras)


def concat_dicts(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class SpotStream:
    """Brief-expression spotting over a rolling buffer, with overlap so no event is lost at an edge.

    An event depends on its frames and on a ±``context_s`` neighbourhood (the local
    baseline median plus the event's own length); each pass spots over the
    buffer, keeps events whose onset lies in ``[accepted_from, last − context)``
    and drops frames older than ``context_s`` before the next pass's first onset.
    """

    def __init__(self, spot: Callable, context_s: float = 4.0, every_s: float = 60.0):
        self.spot, self.context_s, self.every_s = spot, context_s, every_s
        self.times: list[np.ndarray] = []
        self.rows: list = []
        self.accepted_from = -np.inf
        self.events: list = []

    def push(self, times: np.ndarray, rows) -> None:
        if len(times):
            self.times.append(np.asarray(times, np.float64))
            self.rows.append(rows)
            if self.times[-1][-1] - self.times[0][0] >= self.every_s:
                self._pass(final=False)

    def _pass(self, final: bool) -> None:
        if not self.times:
            return
        times, rows = np.concatenate(self.times), concat_rows(self.rows)
        until = np.inf if final else times[-1] - self.context_s
        self.events.extend(e for e in self.spot(rows, times) if self.accepted_from <= e.onset_s < until)
        self.accepted_from = until
        keep = times >= until - self.context_s
        self.times, self.rows = ([times[keep]], [take_rows(rows, keep)]) if keep.any() and not final else ([], [])

    def finish(self) -> list:
        self._pass(final=True)
        return sorted(self.events, key=lambda e: e.apex_s)
