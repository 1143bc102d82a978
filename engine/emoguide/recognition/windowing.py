"""Which frames fall in which analysis window, without an N-windows × T-frames scan.

Every recogniser reduces per-frame rows to windows ``[start, end)``. A boolean
mask per window costs O(windows × frames): nothing on a 10 s clip, but two hours
at 30 fps is 7 200 windows × 216 000 frames, minutes of pure comparison. With
the frame times sorted (they come from decoding, in presentation order) each
window is one contiguous slice found by binary search, and the slice holds
exactly the frames the mask would select.
"""

from __future__ import annotations

import numpy as np


def window_slices(times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` per window: frames ``lo[i]:hi[i]`` have ``starts[i] <= t < ends[i]``.

    ``times`` must be non-decreasing (callers sort once if they cannot promise it).
    """
    times = np.asarray(times, dtype=np.float64)  # compare in float64, as the masks did
    lo = np.searchsorted(times, np.asarray(starts, dtype=np.float64), "left")
    hi = np.searchsorted(times, np.asarray(ends, dtype=np.float64), "left")
    return lo, np.maximum(hi, lo)


def is_sorted(times: np.ndarray) -> bool:
    times = np.asarray(times)
    return len(times) < 2 or bool(np.all(times[1:] >= times[:-1]))
