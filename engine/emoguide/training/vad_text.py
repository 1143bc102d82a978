"""Text valence from MELD's sentiment labels: data, training and the held-out comparison.

Target: MELD's per-utterance ``Sentiment`` mapped negative → -1, neutral → 0,
positive → +1 (the only valence rating in our text data). Official splits as
given (MELD assigns whole dialogues to one split): fit on train, choose the
L2 strength on dev, report test once.

Input: the shipped text recogniser's mean-pooled sentence vector (what its
7-class head reads), computed once per split and cached under ``/tmp``.
Compared on the same test utterances: category-norm valence of the
recogniser's 7-class probabilities (what the engine used before), the same
rescaled by a least-squares line fitted on train (fair to norms whose scale is
not -1..1), and VADER's compound score.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emoguide.labels import vad_from_probs
from emoguide.recognition.text.valence import SENTIMENT_VALUE, SENTIMENTS, TextValenceHead

log = logging.getLogger(__name__)
CACHE_DIR = Path(os.environ.get("EMOGUIDE_VAD_CACHE", "/tmp/emoguide_vad_cache"))
L2_GRID = (1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0)
#: class weighting tried: "balanced" (MELD is half neutral) or "none"
WEIGHTINGS = ("none", "balanced")


def read_meld_sentiment(data_dir: Path, split: str) -> tuple[list[str], np.ndarray]:
    """``(utterances, valence target -1/0/+1)`` of one official MELD split."""
    path = Path(data_dir) / "text" / "meld" / f"{split}_sent_emo.csv"
    texts, target = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["Utterance"])
            target.append(SENTIMENT_VALUE[row["Sentiment"].strip().lower()])
    return texts, np.array(target, np.float32)


def split_features(rec, data_dir: Path, split: str) -> dict[str, np.ndarray]:
    """Pooled vectors, 7-class probs, VADER and targets of a MELD split, cached per text-weights hash."""
    texts, target = read_meld_sentiment(data_dir, split)
    key = hashlib.sha256(f"{rec.spec.version[:12]}|{len(texts)}|{texts[:3]}".encode()).hexdigest()[:12]
    path = CACHE_DIR / f"meld_{split}_{key}.npz"
    if path.is_file():
        return dict(np.load(path))
    p7, _, pooled = rec.forward_texts(texts)
    vader = np.array([rec._vader.polarity_scores(t)["compound"] for t in texts], np.float32)
    out = {"pooled": pooled, "p7": p7, "vader": vader, "target": target}
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    log.info("cached MELD %s text features (%d utterances)", split, len(texts))
    return out


def fit_head(pooled: np.ndarray, target: np.ndarray, l2: float, weighting: str = "none", epochs: int = 300,
             seed: int = 0) -> TextValenceHead:
    """Full-batch multinomial logistic regression (L-BFGS) on standardised pooled vectors."""
    torch.manual_seed(seed)
    mean, std = pooled.mean(0), pooled.std(0) + 1e-4
    head = TextValenceHead(pooled.shape[1], mean, std)
    x = torch.as_tensor(pooled, dtype=torch.float32)
    y = torch.as_tensor(np.round(target).astype(np.int64) + 1)  # -1/0/+1 → 0/1/2
    counts = torch.bincount(y, minlength=len(SENTIMENTS)).float()
    weight = counts.sum() / (len(SENTIMENTS) * counts.clamp(min=1)) if weighting == "balanced" else None
    opt = torch.optim.LBFGS(head.linear.parameters(), lr=0.5, max_iter=epochs, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(head(x), y, weight=weight) + l2 * head.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head.eval()


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


def train(rec, data_dir: Path) -> tuple[TextValenceHead, dict]:
    """Fit on MELD train for each class weighting and L2 strength, keep the lowest dev MSE."""
    tr, dev = split_features(rec, data_dir, "train"), split_features(rec, data_dir, "dev")
    search = []
    best = None
    for weighting in WEIGHTINGS:
        for l2 in L2_GRID:
            head = fit_head(tr["pooled"], tr["target"], l2, weighting)
            dev_mse = mse(head.valence(dev["pooled"]), dev["target"])
            search.append((weighting, l2, dev_mse))
            log.warning("text valence %s l2=%g: dev MSE %.4f", weighting, l2, dev_mse)
            if best is None or dev_mse < best[1]:
                best = (head, dev_mse, l2, weighting)
    return best[0], {"l2": best[2], "weighting": best[3], "dev_mse": best[1], "search": search,
                     "n_train": len(tr["target"])}


def compare(rec, head: TextValenceHead, data_dir: Path) -> dict:
    """Test MSE (and Pearson r) of learned valence vs the norm-based and lexicon alternatives."""
    tr, te = split_features(rec, data_dir, "train"), split_features(rec, data_dir, "test")
    y = te["target"]
    norms = vad_from_probs(te["p7"])[:, 0]
    slope, icpt = np.polyfit(vad_from_probs(tr["p7"])[:, 0], tr["target"], 1)
    rows = {
        "learned (MELD sentiment head)": head.valence(te["pooled"]),
        "category norms of the 7-class probs": norms,
        "category norms, line fitted on train": np.clip(slope * norms + icpt, -1, 1),
        "VADER compound (lexicon)": te["vader"],
    }
    out = {"n": len(y), "rows": {}}
    for name, pred in rows.items():
        r = float(np.corrcoef(pred, y)[0, 1]) if np.std(pred) > 0 else 0.0
        out["rows"][name] = {"mse": mse(pred, y), "pearson": r}
    out["sign_accuracy_nonneutral"] = float(np.mean(np.sign(rows["learned (MELD sentiment head)"][y != 0]) == y[y != 0]))
    return out
