"""Fitting and scoring fusion nets on paired windows (shared by training and evaluation).

Kept apart from :mod:`emoguide.training.fusion` so the evaluation can re-train
the baselines and the learning curves with exactly the recipe that trained the
shipped learned fusion: same pairs, same augmentation, same optimiser, same
epochs, fixed seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from emoguide.labels import LABELS, VAD_MATRIX, vad_from_probs
from emoguide.evaluation.metrics import ClassificationReport, classification_report
from emoguide.recognition.fusion import ReliabilityLateFusion
from emoguide.recognition.fusion_baselines import BASELINE_NETS, MODALITIES, average_probs
from emoguide.recognition.fusion_learned import GatedFusionNet
from emoguide.training.fusion_data import Augment, PairSet, Pool, augment


@dataclass(frozen=True)
class FitConfig:
    epochs: int = 60
    batch: int = 128
    lr: float = 1e-2
    weight_decay: float = 1e-4
    seed: int = 0
    # The next two apply to the learned fusion only (the baselines have no per-modality
    # calibration); both chosen by emoguide.training.fusion_select on fusion-train folds.
    #: weight of each present modality's own calibrated logits scored alone (see
    #: ``GatedFusionNet.calibrated``); 0 trains on the fused answer only
    aux_weight: float = 1.0
    #: pull on the calibrations toward "no change" (W = I, b = 0): the voice pool has 240 clips of
    #: 4 actors, and a free 7×7 map learns their confusions; 0 leaves them free
    identity_pull: float = 0.1


def new_net(kind: str) -> nn.Module:
    if kind == "learned":
        return GatedFusionNet()
    return BASELINE_NETS[kind]()


def _tensors(ps: PairSet):
    return (torch.as_tensor(ps.P), torch.as_tensor(ps.mask), torch.as_tensor(ps.rel), torch.as_tensor(ps.y))


def fit(kind: str, pairs: PairSet, pools: dict[str, Pool], cfg: FitConfig = FitConfig(),
        aug: Augment = Augment()) -> nn.Module:
    """Train a fusion net of ``kind`` on ``pairs`` with a fresh augmented copy every epoch."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = new_net(kind)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for _ in range(cfg.epochs):
        # half the epoch clean (all present), half augmented: the engine sees both
        ep = augment(pairs, pools, rng, aug)
        clean = rng.random(len(pairs)) < 0.25
        for name in ("P", "mask", "rel"):
            getattr(ep, name)[clean] = getattr(pairs, name)[clean]
        P, M, R, Y = _tensors(ep)
        order = torch.as_tensor(rng.permutation(len(pairs)))
        for start in range(0, len(order), cfg.batch):
            b = order[start:start + cfg.batch]
            out = net(P[b], M[b], R[b])
            logits = out[0] if isinstance(out, tuple) else out
            loss = loss_fn(logits, Y[b])
            if cfg.aux_weight and hasattr(net, "calibrated"):
                loss = loss + cfg.aux_weight * _alone_loss(net, P[b], M[b], Y[b])
            if cfg.identity_pull and hasattr(net, "calib_w"):
                eye = torch.eye(net.calib_w.shape[-1])
                loss = loss + cfg.identity_pull * (((net.calib_w - eye) ** 2).sum() + (net.calib_b ** 2).sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return net.eval()


def _alone_loss(net: nn.Module, P: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each present modality's calibrated logits on their own, averaged over them."""
    z = net.calibrated(torch.log(P.clamp_min(1e-6)))
    present = mask > 0
    return nn.functional.cross_entropy(z[present], y.unsqueeze(1).expand_as(mask)[present])


def net_probs(net: nn.Module, ps: PairSet) -> np.ndarray:
    """Fused probabilities; uniform where nothing is present (every method is scored the same way)."""
    with torch.inference_mode():
        out = net(*_tensors(ps)[:3])
        logits = out[0] if isinstance(out, tuple) else out
        probs = torch.softmax(logits, -1).numpy()
    return np.where(ps.mask.sum(1, keepdims=True) > 0, probs, 1.0 / len(LABELS))


def late_probs(ps: PairSet) -> np.ndarray:
    """The engine's transparent baseline (:class:`ReliabilityLateFusion`) on stacked arrays."""
    from emoguide.recognition.base import ModalityResult

    results = {m: ModalityResult(probs=ps.P[:, j], confidence=ps.rel[:, j], present=ps.mask[:, j] > 0,
                                 reliability=ps.rel[:, j]) for j, m in enumerate(MODALITIES)}
    return ReliabilityLateFusion().fuse(results).probs


def method_probs(method: str, ps: PairSet, nets: dict[str, nn.Module]) -> np.ndarray:
    if method == "average":
        return average_probs(ps.P, ps.mask)
    if method == "late":
        return late_probs(ps)
    return net_probs(nets[method], ps)


def report(task: str, ps: PairSet, probs: np.ndarray) -> ClassificationReport:
    """The seed paper's metrics plus valence/arousal MSE against the true class's category norms."""
    rep = classification_report(task, ps.y, probs, LABELS)
    vad = vad_from_probs(probs)
    target = VAD_MATRIX[ps.y]
    mse_v = float(np.mean((vad[:, 0] - target[:, 0]) ** 2))
    mse_a = float(np.mean((vad[:, 1] - target[:, 1]) ** 2))
    rep.notes.append(f"MSE valence {mse_v:.4f}  arousal {mse_a:.4f} (vs the true class's category norms; "
                     "no per-clip V/A ratings exist for these corpora)")
    return rep
