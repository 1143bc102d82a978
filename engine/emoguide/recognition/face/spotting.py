"""Spotting brief facial expressions: short onset–apex–offset events at full frame rate.

Brief (≤ 0.5 s) expressions are what an editor cuts on: a flash of surprise, a
suppressed smile. Following the micro-expression spotting literature's
"feature difference" idea (Moilanen et al. 2014), each non-neutral class's
probability is compared with its local baseline (the median over a window
several times longer than the event); an event is a run where it rises by at
least ``min_rise`` above baseline to at least ``min_peak`` (the class
clearly dominates the face at its apex: single-frame classifier noise does
not), lasts no longer than ``max_duration_s`` and
falls back. Slow build-ups (a smile that stays) are not brief and are left to
the windowed emotion reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoguide.labels import LABELS


@dataclass(frozen=True)
class BriefExpression:
    onset_s: float
    apex_s: float
    offset_s: float
    label: str
    strength: float  # apex probability rise above the local baseline


def spot_brief_expressions(probs: np.ndarray, times: np.ndarray, present: np.ndarray, *, min_rise: float = 0.3,
                           min_peak: float = 0.5,
                           max_duration_s: float = 0.5, min_duration_s: float = 0.04, baseline_s: float = 2.0,
                           ) -> list[BriefExpression]:
    """Events in per-frame class probabilities ``probs`` (T, 7) at ``times`` (T,) where a face is ``present``."""
    probs = np.asarray(probs, np.float32)
    times = np.asarray(times, np.float64)
    present = np.asarray(present, bool)
    if len(times) < 3:
        return []
    dt = float(np.median(np.diff(times)))
    half = max(2, int(round(baseline_s / dt / 2)))
    events: list[BriefExpression] = []
    for c, label in enumerate(LABELS):
        if label == "neutral":
            continue
        p = np.where(present, probs[:, c], np.nan)
        baseline = _local_median(p, half, present)
        rise = np.nan_to_num(p - baseline, nan=0.0)
        above = rise >= min_rise
        i = 0
        while i < len(above):
            if not above[i]:
                i += 1
                continue
            j = i
            while j < len(above) and above[j]:
                j += 1
            onset, offset = max(0, i - 1), min(len(times) - 1, j)
            duration = times[offset] - times[onset]
            returned = j < len(above) and present[j]  # it fell back while the face was still there
            apex = i + int(np.argmax(rise[i:j]))
            if (min_duration_s <= duration <= max_duration_s and returned and i > 0
                    and probs[apex, c] >= min_peak):
                events.append(BriefExpression(float(times[onset]), float(times[apex]), float(times[offset]), label,
                                              float(rise[apex])))
            i = j
    return sorted(events, key=lambda e: e.apex_s)


def _local_median(p: np.ndarray, half: int, present: np.ndarray, block: int = 4096) -> np.ndarray:
    """``nanmedian(p[i-half : i+half+1])`` (clipped at the ends) where ``present[i]``, NaN elsewhere.

    One vectorised median per block of frames instead of one Python call per frame (the
    NaN padding at the ends stands for the clipped part, which nanmedian ignores).
    """
    out = np.full(len(p), np.nan)
    padded = np.concatenate([np.full(half, np.nan), p, np.full(half, np.nan)])
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    for b0 in range(0, len(p), block):
        rows = np.flatnonzero(present[b0:b0 + block]) + b0
        if len(rows):
            out[rows] = np.nanmedian(view[rows], axis=1)
    return out
