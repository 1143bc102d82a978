"""The learned fusion: reliability-gated mixture of calibrated per-modality logits.

Why this shape. Paired audio-visual-text emotion data is scarce, so the fusion
must be tiny (under a thousand parameters) and must keep its weights
interpretable: editors see each modality's share. For every modality ``m``:

* a *calibration* ``z_m = W_m · log p_m + b_m`` (7×7 + 7): recognisers trained
  on different corpora are mis-calibrated in different ways (FER2013's rare
  disgust, MELD's neutral bias), and this undoes it;
* a *gate* score from ``[log p_m, reliability_m, max p_m, entropy_m,
  agreement with the other present modalities]`` through a 2-layer MLP.

The gates go through a softmax over the *present* modalities only; those softmax
weights ``α_m`` are the reported contributions (they sum to 1 over present
modalities and are exactly 0 for absent ones), and the fused logits are
``s · Σ α_m z_m``. The sharpness ``s`` grows with input coverage
(``1 - Π(1 - reliability)``) and with the gated modalities' evidence, so
agreeing trusted modalities sharpen the answer while one weak modality yields a
flat, low-confidence one. No modality present → uniform distribution,
confidence 0, contributions 0.

Trained by :mod:`emoguide.training.fusion` on held-out predictions of the three
recognisers with modality dropout and mismatch augmentation; see
``weights/fusion.md``. Importing this module registers ``FUSIONS["learned"]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from emoguide.labels import NUM_CLASSES
from emoguide.recognition.base import ModalityResult, sha256_of, weights_path_for
from emoguide.recognition.fusion import FUSIONS, Fusion, FusedResult, disagreement, fuse_vad
from emoguide.recognition.fusion_baselines import MODALITIES, N_MOD, stack_results

WEIGHTS_FILE = "fusion.pt"
_EPS = 1e-6


def gate_features(P: torch.Tensor, mask: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """(N, M, 11) per-modality gate inputs: log p, reliability, max p, entropy, agreement."""
    logp = torch.log(P.clamp_min(_EPS))
    maxp = P.max(dim=-1).values
    entropy = -(P * logp).sum(-1) / float(np.log(NUM_CLASSES))
    # agreement: 1 - JS(p_m, mean of the other present modalities), 0 when alone
    m = mask.unsqueeze(-1)
    total = (P * m).sum(1, keepdim=True)
    count = mask.sum(1, keepdim=True)
    others_n = (count - mask).clamp_min(0)
    others = (total - P * m) / others_n.unsqueeze(-1).clamp_min(1.0)
    mid = 0.5 * (P + others).clamp_min(_EPS)
    js = 0.5 * (P * (logp - mid.log())).sum(-1) + 0.5 * (others * (others.clamp_min(_EPS).log() - mid.log())).sum(-1)
    agree = torch.where(others_n > 0, 1.0 - js / float(np.log(2.0)), torch.zeros_like(js))
    return torch.cat([logp, rel.unsqueeze(-1), maxp.unsqueeze(-1), entropy.unsqueeze(-1), agree.unsqueeze(-1)], -1)


class GatedFusionNet(nn.Module):
    """Per-modality calibration + reliability-conditioned softmax gates (see module docstring)."""

    name = "learned"

    def __init__(self, hidden: int = 12):
        super().__init__()
        self.hidden = hidden
        self.calib_w = nn.Parameter(torch.eye(NUM_CLASSES).repeat(N_MOD, 1, 1))
        self.calib_b = nn.Parameter(torch.zeros(N_MOD, NUM_CLASSES))
        d = NUM_CLASSES + 4
        self.gate_w1 = nn.Parameter(torch.randn(N_MOD, d, hidden) * (1.0 / np.sqrt(d)))
        self.gate_b1 = nn.Parameter(torch.zeros(N_MOD, hidden))
        self.gate_w2 = nn.Parameter(torch.randn(N_MOD, hidden) * (1.0 / np.sqrt(hidden)))
        self.gate_b2 = nn.Parameter(torch.zeros(N_MOD))
        self.sharp_v = nn.Parameter(torch.zeros(N_MOD, hidden))
        self.sharp_a = nn.Parameter(torch.tensor(1.0))
        self.sharp_b = nn.Parameter(torch.tensor(0.5))

    def calibrated(self, logp: torch.Tensor) -> torch.Tensor:
        """(N, M, 7) each modality's calibrated logits ``z_m`` from its log-probabilities (N, M, 7).

        Training also scores each ``z_m`` on its own (``FitConfig.aux_weight``): with one modality
        present the fused answer *is* that modality's ``z_m``, so it must classify alone, not only
        complement the others.
        """
        return torch.einsum("nmc,mdc->nmd", logp, self.calib_w) + self.calib_b

    def forward(self, P: torch.Tensor, mask: torch.Tensor, rel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (N, 7), contributions (N, M))``; rows with nothing present get zero logits and weights."""
        feats = gate_features(P, mask, rel)
        z = self.calibrated(feats[..., :NUM_CLASSES])
        h = torch.tanh(torch.einsum("nmd,mdh->nmh", feats, self.gate_w1) + self.gate_b1)
        score = (h * self.gate_w2).sum(-1) + self.gate_b2
        present = mask > 0
        score = score.masked_fill(~present, -1e9)
        alpha = torch.softmax(score, dim=1) * present
        alpha = alpha / alpha.sum(1, keepdim=True).clamp_min(1e-12)
        coverage = 1.0 - torch.prod(1.0 - rel * mask, dim=1, keepdim=True)
        # evidence from several trusted modalities should sharpen the answer, a lone weak one flatten it
        evidence = (alpha * (h * self.sharp_v).sum(-1)).sum(1, keepdim=True)
        sharp = nn.functional.softplus(self.sharp_a * coverage + evidence + self.sharp_b)
        logits = sharp * (alpha.unsqueeze(-1) * z).sum(1)
        return logits, alpha


def coverage_of(mask: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """Probability-style union of the present modalities' reliabilities, 0..1."""
    return 1.0 - np.prod(1.0 - rel * mask, axis=1)


class LearnedFusion(Fusion):
    """:class:`Fusion` wrapper around :class:`GatedFusionNet` with shipped, checksummed weights."""

    name = "learned"

    def __init__(self, net: GatedFusionNet, version: str):
        self.net = net.eval()
        self.version = f"learned-{version}"

    @classmethod
    def load(cls, weights_path: Path | None = None, expected_sha256: str | None = None) -> "LearnedFusion":
        """Load the shipped weights (checksum-verified), or another file checked against ``expected_sha256``."""
        path = weights_path_for(WEIGHTS_FILE, weights_path, expected_sha256)
        blob = torch.load(path, map_location="cpu", weights_only=True)
        net = GatedFusionNet(hidden=int(blob["config"]["hidden"]))
        net.load_state_dict(blob["state_dict"])
        return cls(net, sha256_of(path)[:12])

    def forward_arrays(self, P: np.ndarray, mask: np.ndarray, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(probs (N, 7), contributions (N, M))`` from stacked arrays; uniform/zero where nothing is present."""
        with torch.inference_mode():
            logits, alpha = self.net(torch.as_tensor(P, dtype=torch.float32), torch.as_tensor(mask, dtype=torch.float32),
                                     torch.as_tensor(rel, dtype=torch.float32))
            probs = torch.softmax(logits, dim=-1).numpy()
        anything = mask.sum(1) > 0
        probs = np.where(anything[:, None], probs, 1.0 / NUM_CLASSES).astype(np.float32)
        return probs, alpha.numpy().astype(np.float32)

    def fuse(self, results: dict[str, ModalityResult]) -> FusedResult:
        P, mask, rel = stack_results(results)
        probs, alpha = self.forward_arrays(P, mask, rel)
        weights = {name: alpha[:, MODALITIES.index(name)].astype(np.float64) for name in results}
        vad, vad_source = fuse_vad(results, weights, probs)
        confidence = probs.max(axis=1) * coverage_of(mask, rel)
        dis, pair = disagreement(results)
        return FusedResult(
            probs=probs,
            vad=vad,
            confidence=confidence.astype(np.float32),
            contributions={k: v.astype(np.float32) for k, v in weights.items()},
            disagreement=dis,
            disagreeing_pair=pair,
            method=self.name,
            vad_source=vad_source,
        )


def _factory() -> LearnedFusion:
    return LearnedFusion.load()


FUSIONS["learned"] = _factory
