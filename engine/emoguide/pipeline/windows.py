"""Cutting a clip's used media range into overlapping analysis windows.

Windows start at the clip's first used media second and step by ``hop_s``; the
last window is clipped to the range, and a clip shorter than one window gets a
single window covering all of it, so every used frame belongs to a window.
Positions are computed from the index (``start + k * hop``), never by
accumulating floats, so there is no drift on hour-long clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnalysisSettings:
    """Every knob that changes results (all of it goes into the cache key)."""

    window_s: float = 2.0
    hop_s: float = 1.0
    sample_fps: float = 4.0  # face frames per second for the regular windows
    spot_brief: bool = True  # full frame rate around faces for brief-expression spotting
    #: at full frame rate, the expression net reads every frame instead of anchors and the frames where
    #: the face changes (recognition/face/expression_gate.py): ~2× its cost, readings within ~1 % per window
    expression_every_frame: bool = False
    max_side: int = 640  # decode-time downscale (libav), longest side in pixels
    transcribe: bool = True  # speech-to-text when no captions exist
    #: pictures decoded without H.264's and HEVC's deblocking filter (``LOOP_FILTER_SKIPS`` in
    #: media/video.py). "bidir", B-pictures: their differences stay inside a group of B-pictures and
    #: all but vanish at 640 px (PSNR ≥ 48 dB on real footage); the decoder's own work falls 5-22 %,
    #: face windows move ≤ 0.008 (benchmarks/bench_loop_filter.py). "none" decodes exactly
    skip_loop_filter: str = "bidir"

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.hop_s <= 0 or self.sample_fps <= 0:
            raise ValueError("window, hop and sample rate must be positive")
        if self.hop_s > self.window_s:
            raise ValueError("hop longer than the window would leave media unanalysed")
        from emoguide.media.video import LOOP_FILTER_SKIPS

        if self.skip_loop_filter not in LOOP_FILTER_SKIPS:
            raise ValueError(f"skip_loop_filter must be one of {', '.join(LOOP_FILTER_SKIPS)}")


def make_windows(start_s: float, end_s: float, settings: AnalysisSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` in media seconds covering ``[start_s, end_s)``; empty for an empty range."""
    length = end_s - start_s
    if length <= 0:
        return np.zeros(0), np.zeros(0)
    if length <= settings.window_s:
        return np.array([start_s]), np.array([end_s])
    n = int(math.ceil((length - settings.window_s) / settings.hop_s - 1e-9)) + 1
    starts = start_s + settings.hop_s * np.arange(n)
    ends = np.minimum(starts + settings.window_s, end_s)
    return starts, ends
