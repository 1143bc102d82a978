"""Voice valence/arousal from RAVDESS intensity: targets, training, held-out comparison.

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

Split by actor: 01-16 train, 17-20 choose (configuration, epochs), 21-24 test.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emoguide.labels import VAD_MATRIX, vad_from_probs
from emoguide.recognition.voice.affect import VoiceAffectHead
from emoguide.recognition.voice.classifier import TO_COMMON, pooled_features
from emoguide.training.voice_data import TEST_ACTORS, TRAIN_ACTORS, VAL_ACTORS, load_features

log = logging.getLogger(__name__)
AROUSAL_SHIFT = 0.15
VALENCE_SCALE = 0.25
#: configurations tried, chosen by validation MSE (valence + arousal)
CONFIGS = ({"hidden": 64, "wd": 5e-2}, {"hidden": 256, "wd": 5e-2}, {"hidden": 64, "wd": 0.3})


def targets(emotion8: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """(N, 2) valence/arousal targets for RAVDESS clips (see module docstring)."""
    return targets_common(TO_COMMON[np.asarray(emotion8)].argmax(1), intensity)


def targets_common(common: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """:func:`targets` from common-space labels (calm already counted as neutral)."""
    common = np.asarray(common)
    norm = VAD_MATRIX[common, :2].astype(np.float64)
    s = np.where(np.asarray(intensity) == 2, 1.0, -1.0) * (common != 0)
    return np.stack([norm[:, 0] * (1.0 + VALENCE_SCALE * s), norm[:, 1] + AROUSAL_SHIFT * s], 1).astype(np.float32)


def dataset(data_dir: Path) -> dict[str, np.ndarray]:
    """Whole-clip pooled features (CTranslate2's last encoder layer, 30 s-padded, as the engine computes
    them for this head) with emotion, intensity, actor and targets for every RAVDESS clip."""
    feats = load_features(Path(data_dir))
    x = np.stack([pooled_features(f, p, s) for f, p, s in zip(feats.frames, feats.prosody, feats.speech)])
    emo = np.array([c.emotion for c in feats.clips])
    inten = np.array([c.intensity for c in feats.clips])
    return {"x": x, "emotion": emo, "intensity": inten, "actor": np.array([c.actor for c in feats.clips]),
            "common": TO_COMMON[emo].argmax(1), "target": targets(emo, inten)}


def _fit(x, y, xv, yv, seed: int, hidden: int, wd: float, mean, std, epochs: int = 80):
    torch.manual_seed(seed)
    head = VoiceAffectHead(hidden=hidden, mean=torch.tensor(mean), std=torch.tensor(std))
    opt = torch.optim.AdamW(head.parameters(), lr=5e-4, weight_decay=wd)
    xt, yt, xvt = torch.tensor(x), torch.tensor(y), torch.tensor(xv)
    best, best_state, best_epoch = np.inf, None, 0
    for epoch in range(epochs):
        head.train()
        order = torch.randperm(len(xt))
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            noisy = xt[idx] + 0.05 * torch.randn_like(xt[idx]) * head.std  # few speakers, many dims
            loss = F.mse_loss(head(noisy), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        head.eval()
        with torch.inference_mode():
            val = float(((head(xvt).numpy() - yv) ** 2).mean())
        if val < best:
            best, best_epoch = val, epoch + 1
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    return head.eval(), best, best_epoch


def predict(heads, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return torch.stack([h(torch.tensor(x)) for h in heads]).mean(0).numpy()


def train(data: dict[str, np.ndarray], seeds: int = 5) -> tuple[list, dict]:
    """Fit every configuration on train actors, keep the one with the lowest validation MSE."""
    torch.set_num_threads(1)
    tr, va = np.isin(data["actor"], TRAIN_ACTORS), np.isin(data["actor"], VAL_ACTORS)
    x, y = data["x"], data["target"]
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-4
    best = None
    search = []
    for cfg in CONFIGS:
        heads, epochs = [], []
        for seed in range(seeds):
            head, _, epoch = _fit(x[tr], y[tr], x[va], y[va], seed, cfg["hidden"], cfg["wd"], mean, std)
            heads.append(head)
            epochs.append(epoch)
        val = float(((predict(heads, x[va]) - y[va]) ** 2).mean())
        search.append({**cfg, "val_mse": val, "epochs": epochs})
        log.warning("voice affect %s: validation MSE (V+A mean) %.4f, epochs %s", cfg, val, epochs)
        if best is None or val < best[1]:
            best = (heads, val, cfg)
    return best[0], {"config": best[2], "val_mse": best[1], "search": search}


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


def compare(data: dict[str, np.ndarray], heads, classifier, actors=TEST_ACTORS, x_classifier=None) -> dict:
    """Learned vs norms-of-classifier-probs (and the true-class norms for scale) on ``actors``.

    ``x_classifier``: the classifier's own features when it pools another encoder layer than
    the affect head (default: the same ``data["x"]``).
    """
    sel = np.isin(data["actor"], actors)
    x, y = data["x"][sel], data["target"][sel]
    xc = (data["x"] if x_classifier is None else x_classifier)[sel]
    with torch.inference_mode():
        p7 = classifier(torch.tensor(xc)).numpy() @ TO_COMMON
    rows = {"learned (RAVDESS intensity head)": predict(heads, x),
            "category norms of the voice classifier's probs": vad_from_probs(p7)[:, :2],
            "true-category norms (oracle class, no intensity)": VAD_MATRIX[data["common"][sel], :2]}
    out = {"n": int(sel.sum()), "rows": {}}
    for name, pred in rows.items():
        err = (pred - y) ** 2
        out["rows"][name] = {"mse_valence": float(err[:, 0].mean()), "mse_arousal": float(err[:, 1].mean()),
                             **intensity_stats(pred[:, 1], data["intensity"][sel], data["common"][sel])}
    return out
