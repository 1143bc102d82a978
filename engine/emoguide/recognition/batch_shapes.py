"""Few distinct batch shapes: pad a batch's length up to a multiple of a step.

Why: torch's CPU kernels (oneDNN for float convolutions, the x86 int8 engine for
the quantised expression nets) compile and cache code and scratch buffers per
input shape, and keep up to a thousand of them. The face side's batches had a
new length almost every time (faces found in an 8 s chunk, candidate boxes
passed to the detector's second and third stage), so that cache filled for the
whole of a long clip: a face-only 6-minute clip's heap in use rose ~30 MB while
nothing Python-side grew, and 400 expression batches of random length raised
the floor ~95 MB (still rising) where 400 of one length raised it 6 MB. Padding to a multiple
of :data:`STEP` bounds the shapes (and saves the compile of each new one); the
padded rows are zeros and are dropped, and every row is computed on its own,
so the real rows' results do not change.

The step is a trade: the padded rows are wasted work. Expression batches of
150-256 faces (an 8 s chunk), CPU time per face against unpadded: step 16 the
same within noise (±3 %), step 32 8-12 % more. Random lengths, 150 batches: the
floor stayed at +22 MB with step 16, +13 MB with 32.

Batches shorter than the step are padded to the next power of two instead (1,
2, 4, 8, 16): four more shapes, and a small batch no longer pays for a full
step. The expression gate (``face/expression_gate.py``) reads a few faces per
bisection level, and every one of those calls cost as much as 16 faces: on the
CPU the six int8 nets took ~280 ms for 1 face or 16 padded, 31 ms for 1 face
and 150 ms for 8 unpadded, so on some footage the gate read 43 % fewer faces
for no time saved at all.
"""

from __future__ import annotations

import torch

#: batch lengths of ``STEP`` rows or more are padded up to a multiple of this; shorter ones to a power of two
STEP = 16


def padded_length(n: int, step: int = STEP) -> int:
    """The smallest multiple of ``step`` that is ≥ ``n``; below ``step``, the smallest power of two ≥ ``n``
    (never more than ``step``); 0 stays 0."""
    if 0 < n < step:
        return min(1 << (n - 1).bit_length(), step)
    return -(-n // step) * step


def pad_rows(x: torch.Tensor, step: int = STEP) -> torch.Tensor:
    """``x`` with zero rows appended along dim 0 up to :func:`padded_length`; ``x`` itself when none are needed."""
    extra = padded_length(len(x), step) - len(x)
    if extra == 0:
        return x
    return torch.cat([x, x.new_zeros((extra, *x.shape[1:]))])
