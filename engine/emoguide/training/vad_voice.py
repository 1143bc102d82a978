"""Voice valence/arousal from RAVDESS intensity: targets, the intensity model, held-out comparison.

The regression target (stated once, used everywhere):

* take the true category's published norm (:data:`emoguide.labels.VAD_MATRIX`,
  RAVDESS calm counted as neutral, as the classifier does);
* **arousal** = norm arousal + 0.15 for *strong* intensity, - 0.15 for *normal*;
* **valence** = norm valence × 1.25 for *strong*, × 0.75 for *normal*
  (intensity pushes valence away from neutral, never across it);
* neutral and calm keep the norm (0, 0): RAVDESS has no strong neutral, and a
  "strongly calm" delivery is not higher arousal, so calm's intensity is ignored.

So per emotion the average target equals the norm, and the only thing the
target says beyond the category is the labelled intensity. The ±0.15 / ±25 %
sizes are our choice (about a quarter of the norms' arousal range), not a
published rating: MSE figures are against this target, and the correlation and
AUC with the raw intensity label are reported beside them because they do not
depend on that choice.

What is learned is only ``q = P(strong)`` (:mod:`emoguide.recognition.voice.affect`):
the output is the target's expectation under the emotion classifier's
probabilities and ``s = 2q - 1``. Because the classifier's probabilities enter
only at prediction time, the intensity model never sees them while fitting, so
no cross-fitting of the classifier is needed. It is fitted on the non-neutral,
non-calm clips (the only ones whose intensity the target uses), on the same
pooled encoder-layer features as the classifier.

Split by actor: 01-16 train, 17-20 choose (configuration, each seed's epoch) by
the final valence/arousal MSE, 21-24 test.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emoguide.labels import NUM_CLASSES, VAD_MATRIX, vad_from_probs
from emoguide.recognition.voice.affect import AROUSAL_SHIFT, VALENCE_SCALE, IntensityAffect, IntensityHead, shifted_va
from emoguide.recognition.voice.classifier import TO_COMMON
from emoguide.training.voice_data import TEST_ACTORS, TRAIN_ACTORS, VAL_ACTORS

log = logging.getLogger(__name__)
__all__ = ["AROUSAL_SHIFT", "VALENCE_SCALE", "add_probs", "compare", "dataset", "intensity_stats", "targets",
           "targets_common", "train"]  # the shift sizes live in recognition/voice/affect.py, re-exported
#: intensity-model configurations tried (hidden 0 = logistic regression; l2: penalty ``l2/2·||W||²`` beside the
#: mean cross-entropy), chosen by validation V/A MSE
CONFIGS = ({"hidden": 0, "l2": 0.3}, {"hidden": 0, "l2": 1.0}, {"hidden": 0, "l2": 3.0},
           {"hidden": 32, "l2": 0.1}, {"hidden": 32, "l2": 1.0})


def targets(emotion8: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """(N, 2) valence/arousal targets for RAVDESS clips (see module docstring)."""
    return targets_common(TO_COMMON[np.asarray(emotion8)].argmax(1), intensity)


def targets_common(common: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """:func:`targets` from common-space labels (calm already counted as neutral): the affect head's
    formula at a one-hot class and the labelled intensity sign (strong +1, normal -1)."""
    common = np.asarray(common)
    return shifted_va(np.eye(NUM_CLASSES)[common], np.where(np.asarray(intensity) == 2, 1.0, -1.0))


def dataset(data_dir: Path, layer: int | None = 2) -> dict[str, np.ndarray]:
    """Pooled features of every RAVDESS clip, as the emotion classifier reads them (``layer``: its
    ``encoder_layer``), with emotion, intensity, actor and targets."""
    from emoguide.training.voice import pooled_clips

    x, clips = pooled_clips(Path(data_dir), layer)
    emo = np.array([c.emotion for c in clips])
    inten = np.array([c.intensity for c in clips])
    return {"x": x, "emotion": emo, "intensity": inten, "actor": np.array([c.actor for c in clips]),
            "common": TO_COMMON[emo].argmax(1), "target": targets(emo, inten)}


def add_probs(data: dict[str, np.ndarray], classifier) -> dict[str, np.ndarray]:
    """``data["p7"]``: the emotion classifier's common-space probabilities for every clip."""
    with torch.inference_mode():
        data["p7"] = classifier(torch.tensor(data["x"])).numpy() @ TO_COMMON
    return data


def _va(heads, x: np.ndarray, p7: np.ndarray) -> np.ndarray:
    return IntensityAffect(heads, None).eval().va(x, p7)


def _fit(data, tr, va, seed: int, hidden: int, l2: float, mean, std, epochs: int = 60):
    """One seed on the train actors' non-neutral clips; the epoch with the lowest validation V/A MSE is kept."""
    torch.manual_seed(seed)
    emo = tr & (data["common"] != 0)
    xt = torch.tensor(data["x"][emo])
    yt = torch.tensor((data["intensity"][emo] == 2).astype(np.float32))
    head = IntensityHead(hidden=hidden, mean=torch.tensor(mean), std=torch.tensor(std))
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    weights = [m.weight for m in head.net if isinstance(m, torch.nn.Linear)]
    best, best_state, best_epoch = np.inf, None, 0
    for epoch in range(epochs):
        head.train()
        order = torch.randperm(len(xt))
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            noisy = xt[idx] + 0.05 * torch.randn_like(xt[idx]) * head.std  # few speakers, many dims
            loss = F.binary_cross_entropy_with_logits(head(noisy), yt[idx])
            loss = loss + 0.5 * l2 * sum((w ** 2).sum() for w in weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
        head.eval()
        val = float(((_va([head], data["x"][va], data["p7"][va]) - data["target"][va]) ** 2).mean())
        if val < best:
            best, best_epoch = val, epoch + 1
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    return head.eval(), best, best_epoch


def train(data: dict[str, np.ndarray], seeds: int = 5) -> tuple[list, dict]:
    """Fit every configuration on train actors, keep the one with the lowest validation V/A MSE.

    ``data`` needs ``p7`` (:func:`add_probs`): the validation MSE is that of the final output."""
    torch.set_num_threads(1)
    tr, va = np.isin(data["actor"], TRAIN_ACTORS), np.isin(data["actor"], VAL_ACTORS)
    x = data["x"]
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-4
    best, search = None, []
    for cfg in CONFIGS:
        fits = [_fit(data, tr, va, seed, cfg["hidden"], cfg["l2"], mean, std) for seed in range(seeds)]
        heads = [f[0] for f in fits]
        val = float(((_va(heads, x[va], data["p7"][va]) - data["target"][va]) ** 2).mean())
        search.append({**cfg, "val_mse": val, "epochs": [f[2] for f in fits]})
        log.warning("voice intensity %s: validation V/A MSE %.4f, epochs %s", cfg, val, search[-1]["epochs"])
        if best is None or val < best[1]:
            best = (heads, val, cfg)
    return best[0], {"config": best[2], "val_mse": best[1], "search": search, "seeds": list(range(seeds))}


def _auc(pos_score: np.ndarray, neg_score: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties half (Mann-Whitney)."""
    diff = pos_score[:, None] - neg_score[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def intensity_stats(arousal: np.ndarray, intensity: np.ndarray, common: np.ndarray) -> dict[str, float]:
    """How well an arousal estimate tracks labelled intensity on non-neutral clips."""
    from scipy.stats import pearsonr, spearmanr

    emo = common != 0
    a, strong = arousal[emo], intensity[emo] == 2
    within = [_auc(a[(common[emo] == c) & strong], a[(common[emo] == c) & ~strong]) for c in np.unique(common[emo])]
    return {"spearman": float(spearmanr(a, strong)[0]), "pearson": float(pearsonr(a, strong.astype(float))[0]),
            "auc": _auc(a[strong], a[~strong]), "auc_within_emotion": float(np.mean(within))}


def compare(data: dict[str, np.ndarray], affect: IntensityAffect, actors=TEST_ACTORS) -> dict:
    """Learned vs norms-of-classifier-probs (and the true-class norms for scale) on ``actors``; ``data`` has ``p7``."""
    sel = np.isin(data["actor"], actors)
    x, y, p7 = data["x"][sel], data["target"][sel], data["p7"][sel]
    rows = {"learned (norms + RAVDESS intensity shift)": affect.va(x, p7),
            "category norms of the voice classifier's probs": vad_from_probs(p7)[:, :2],
            "true-category norms (oracle class, no intensity)": VAD_MATRIX[data["common"][sel], :2]}
    out = {"n": int(sel.sum()), "rows": {}}
    for name, pred in rows.items():
        err = (pred - y) ** 2
        out["rows"][name] = {"mse_valence": float(err[:, 0].mean()), "mse_arousal": float(err[:, 1].mean()),
                             **intensity_stats(pred[:, 1], data["intensity"][sel], data["common"][sel])}
    return out
