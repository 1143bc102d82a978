"""Shared fusion inputs and the comparison baselines (early, tensor, low-rank, averaging).

Every fusion here sees exactly what a :class:`ModalityResult` carries, stacked
into three arrays so the learned fusion and its baselines are compared on
identical inputs:

* ``P`` (N, M, 7) class distribution per modality (uniform where absent),
* ``mask`` (N, M) 1 where the modality is present,
* ``rel`` (N, M) reliability 0..1 (0 where absent),

with M = 3 modalities in :data:`~emoguide.recognition.fusion.MODALITIES` order.

The baselines follow the families the seed paper compares against (MMSA's
early/late/tensor fusions): *early fusion* concatenates the per-modality vectors
and masks into one MLP; *TFN* (Zadeh et al. 2017) takes the outer product of the
``[p; 1]`` vectors so every cross-modal interaction gets a weight; *LMF* (Liu et
al. 2018) factorises that tensor into low-rank modality factors; *averaging* is
the plain mean of the present distributions. They are trained and evaluated by
:mod:`emoguide.training.fusion`, never shipped.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from emoguide.labels import NUM_CLASSES
from emoguide.recognition.base import ModalityResult

MODALITIES = ("face", "voice", "text")
N_MOD = len(MODALITIES)


def stack_results(results: dict[str, ModalityResult]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(P, mask, rel)`` arrays from per-modality results; modalities not given are absent."""
    if not results:
        raise ValueError("fusion needs at least one modality's results (even if absent)")
    unknown = set(results) - set(MODALITIES)
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}; fusion knows {MODALITIES}")
    n = len(next(iter(results.values())).probs)
    P = np.full((n, N_MOD, NUM_CLASSES), 1.0 / NUM_CLASSES, dtype=np.float32)
    mask = np.zeros((n, N_MOD), dtype=np.float32)
    rel = np.zeros((n, N_MOD), dtype=np.float32)
    for j, name in enumerate(MODALITIES):
        res = results.get(name)
        if res is None:
            continue
        present = np.asarray(res.present, dtype=bool)
        P[present, j] = np.asarray(res.probs, dtype=np.float32)[present]
        mask[:, j] = present
        rel[:, j] = np.where(present, np.clip(np.asarray(res.reliability, dtype=np.float32), 0.0, 1.0), 0.0)
    return P, mask, rel


def average_probs(P: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Plain late fusion: the unweighted mean of the present distributions (uniform if none)."""
    m = mask[..., None]
    total = m.sum(axis=1)
    out = np.divide((P * m).sum(axis=1), total, out=np.full(P.shape[::2], 1.0 / NUM_CLASSES, dtype=np.float64),
                    where=total > 0)
    return out.astype(np.float32)


def _masked_inputs(P: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Absent modalities contribute a zero vector, not the uniform placeholder."""
    return P * mask.unsqueeze(-1)


class EarlyFusionNet(nn.Module):
    """Concatenate [p, present, reliability] of every modality → MLP → logits."""

    name = "early"

    def __init__(self, hidden: int = 32):
        super().__init__()
        d = N_MOD * (NUM_CLASSES + 2)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, NUM_CLASSES))

    def forward(self, P: torch.Tensor, mask: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        x = torch.cat([_masked_inputs(P, mask), mask.unsqueeze(-1), rel.unsqueeze(-1)], dim=-1)
        return self.mlp(x.flatten(1))


class TensorFusionNet(nn.Module):
    """TFN: outer product of the ``[p·present; 1]`` vectors (8×8×8) → MLP → logits."""

    name = "tfn"

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear((NUM_CLASSES + 1) ** N_MOD, hidden), nn.ReLU(),
                                 nn.Linear(hidden, NUM_CLASSES))

    def forward(self, P: torch.Tensor, mask: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        x = _masked_inputs(P, mask)
        ones = torch.ones(*x.shape[:2], 1, dtype=x.dtype, device=x.device)
        z = torch.cat([x, ones], dim=-1)  # (N, 3, 8)
        t = torch.einsum("ni,nj,nk->nijk", z[:, 0], z[:, 1], z[:, 2])
        return self.mlp(t.flatten(1))


class LowRankFusionNet(nn.Module):
    """LMF: the TFN tensor's weight factorised into rank-``r`` per-modality factors."""

    name = "lmf"

    def __init__(self, rank: int = 4, hidden: int = 16):
        super().__init__()
        self.factors = nn.Parameter(torch.randn(N_MOD, rank, NUM_CLASSES + 1, hidden) * 0.3)
        self.rank_weights = nn.Parameter(torch.full((rank,), 1.0 / rank))
        self.out = nn.Linear(hidden, NUM_CLASSES)

    def forward(self, P: torch.Tensor, mask: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        x = _masked_inputs(P, mask)
        ones = torch.ones(*x.shape[:2], 1, dtype=x.dtype, device=x.device)
        z = torch.cat([x, ones], dim=-1)  # (N, 3, 8)
        proj = torch.einsum("nmi,mrih->nmrh", z, self.factors)  # (N, 3, r, h)
        fused = proj.prod(dim=1)  # (N, r, h)
        h = torch.einsum("r,nrh->nh", self.rank_weights, fused)
        return self.out(torch.relu(h))


BASELINE_NETS = {"early": EarlyFusionNet, "tfn": TensorFusionNet, "lmf": LowRankFusionNet}
