"""Reading the expression net where the face changes, not on every frame.

Brief-expression spotting needs a reading at the full frame rate, but a face
rarely changes between neighbouring frames: at 25-30 fps most readings are
the average of their neighbours give or take the classifier's own jitter, and
the six-net expression ensemble is the largest single cost of an analysis on
the CPU (~40 % of its CPU time). So each run of consecutive face frames is read
at *anchors* every :attr:`ExpressionGate.anchor_s`, and between two neighbouring
readings the gap is bisected (its middle frame read, both halves examined
again) while either

- the readings at its ends differ by more than ``max_prob_change`` in any
  class (the expression is moving), or
- some frame inside departs from the linear blend of the two end crops by more
  than ``max_block_change`` (mean absolute grey level, 0..1) in any
  ``block``×``block`` pixel block of the 48×48 crop: a local change such as a
  mouth corner or a brow that the ends do not show (a brief expression
  falling between anchors, a cut to another face).

Gaps that pass both tests take the readings linearly blended from their ends
(a convex blend, so still probabilities). The readings of one bisection level
go to the net in one call, so batching is kept. Measured on the real footage in
``../shared/data`` (``benchmarks/bench_expression_gate.py``, docs/performance.md):
the net reads about half the frames, and the brief expressions found are the
same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class ExpressionGate:
    """When a frame between two readings must be read rather than blended (see the module docstring)."""

    anchor_s: float = 0.125
    max_prob_change: float = 0.1
    max_block_change: float = 0.04
    block: int = 8

    def describe(self) -> str:
        """The gate's settings in words: part of every cache key (``Engine.versions``)."""
        return (f"anchors {self.anchor_s:g} s, bisect on dp>{self.max_prob_change:g} "
                f"or {self.block}px-block d>{self.max_block_change:g}")

    def anchor_step(self, frame_period_s: float) -> int:
        """Frames between anchors at this frame period; 1 (read every frame) at sampled rates."""
        if not frame_period_s > 0:
            return 1
        return max(1, int(round(self.anchor_s / frame_period_s)))


DEFAULT_GATE = ExpressionGate()


def gated_readings(crops: np.ndarray, frame_index: np.ndarray, step: int,
                   classify: Callable[[np.ndarray], np.ndarray], gate: ExpressionGate = DEFAULT_GATE,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Readings (N, C) of grey crops (N, H, W) of frames ``frame_index`` (N, ascending), and which were read.

    ``classify(crops) -> (n, C)`` is the expression net. A run is a stretch of
    consecutive frame numbers; nothing is blended across a gap (a frame with no
    face). ``step`` is the anchor spacing in frames (``gate.anchor_step``);
    with ``step`` 1 every crop is read.
    """
    n = len(crops)
    read = np.zeros(n, bool)
    if n == 0:
        return np.zeros((0, 0), np.float32), read
    frame_index = np.asarray(frame_index)
    if step <= 1:
        return np.asarray(classify(crops), np.float32), ~read
    run_starts = np.concatenate([[0], np.flatnonzero(np.diff(frame_index) != 1) + 1])
    run_ends = np.concatenate([run_starts[1:], [n]]) - 1
    anchors = set()
    for a, b in zip(run_starts, run_ends):
        anchors.update(range(int(a), int(b), step))
        anchors.add(int(b))
    todo = np.array(sorted(anchors))
    probs = None
    # every run's first and last crop are anchors, so no gap between two readings spans a frame without a face
    gaps = [(int(i), int(j)) for i, j in zip(todo[:-1], todo[1:]) if j - i > 1]
    while len(todo):
        out = np.asarray(classify(crops[todo]), np.float32)
        if probs is None:
            probs = np.zeros((n, out.shape[1]), np.float32)
        probs[todo], read[todo] = out, True
        split, gaps = _examine(crops, probs, gaps, gate)
        todo = np.array(sorted(split), dtype=np.int64)
    return probs, read


def _examine(crops: np.ndarray, probs: np.ndarray, gaps: list[tuple[int, int]], gate: ExpressionGate,
             ) -> tuple[list[int], list[tuple[int, int]]]:
    """Blend the gaps that pass both tests; return the middles to read next and the halves to examine after."""
    middles, halves = [], []
    for i, j in gaps:
        if _changes(crops, probs, i, j, gate):
            m = (i + j) // 2
            middles.append(m)
            halves += [g for g in ((i, m), (m, j)) if g[1] - g[0] > 1]
        else:
            w = _blend_weights(i, j)[:, None]
            probs[i + 1:j] = (1 - w) * probs[i] + w * probs[j]
    return middles, halves


def _changes(crops: np.ndarray, probs: np.ndarray, i: int, j: int, gate: ExpressionGate) -> bool:
    if float(np.abs(probs[i] - probs[j]).max()) > gate.max_prob_change:
        return True
    w = _blend_weights(i, j)[:, None, None]
    departure = np.abs(crops[i + 1:j] - ((1 - w) * crops[i] + w * crops[j]))
    return _block_means(departure, gate.block).max() > gate.max_block_change


def _blend_weights(i: int, j: int) -> np.ndarray:
    """Weight of the far end ``j`` for each frame strictly between ``i`` and ``j``."""
    return ((np.arange(i + 1, j) - i) / (j - i)).astype(np.float32)


def _block_means(images: np.ndarray, block: int) -> np.ndarray:
    """Mean of each whole ``block``×``block`` tile of (N, H, W); a remainder narrower than a tile is left
    out (48 px crops in 8 px tiles have none); the whole image's mean when it is smaller than a tile."""
    n, h, w = images.shape
    hb, wb = h // block, w // block
    if hb == 0 or wb == 0:
        return images.reshape(n, -1).mean(1)
    tiles = images[:, :hb * block, :wb * block].reshape(n, hb, block, wb, block)
    return tiles.mean(axis=(2, 4))
