"""Fusion training data: held-out recogniser predictions, paired by label, augmented.

There is no corpus here with a face, a voice and words from the same person at
the same moment, so fusion examples are **paired by label across corpora**: a
"window" is one FER2013 face, one RAVDESS utterance and one MELD utterance that
share the same common-space class. The fusion therefore learns how much to trust
each recogniser's *output* (its calibration, confusions and reliability), not
real cross-modal timing; this is stated in the model card.

Every prediction comes from a split the recogniser never trained on:

============  ==========================  ==========================
modality      fusion-train pool           fusion-test pool
============  ==========================  ==========================
face          FER2013 PublicTest          FER2013 PrivateTest
voice         RAVDESS actors 17-20        RAVDESS actors 21-24
text          MELD dev                    MELD test
============  ==========================  ==========================

Pools are cached under ``/tmp`` keyed by the recogniser's weight version.
Augmentation (training only): modality dropout, mismatch (a modality replaced by
a sample of another class while the target stays the true class) and reliability
degradation (reliability scaled down, and the lower it goes the likelier that
modality's distribution is replaced by a wrong-class one), so that low
reliability means what it should.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoguide.labels import NUM_CLASSES
from emoguide.recognition.fusion_baselines import MODALITIES, N_MOD

log = logging.getLogger(__name__)
CACHE_DIR = Path(os.environ.get("EMOGUIDE_FUSION_CACHE", "/tmp/emoguide_fusion_cache"))


@dataclass
class Pool:
    """One modality's held-out predictions: ``probs`` (n, 7), ``rel`` (n,), ``y`` (n,), ``ids``."""

    modality: str
    split: str
    probs: np.ndarray
    rel: np.ndarray
    y: np.ndarray
    ids: list[str]
    version: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, probs=self.probs, rel=self.rel, y=self.y, ids=np.array(self.ids),
                 meta=np.array([self.modality, self.split, self.version]),
                 **{f"x_{k}": v for k, v in self.extra.items()})
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "Pool":
        z = np.load(path, allow_pickle=False)
        modality, split, version = [str(s) for s in z["meta"]]
        extra = {k[2:]: z[k] for k in z.files if k.startswith("x_")}
        return cls(modality, split, z["probs"].astype(np.float32), z["rel"].astype(np.float32),
                   z["y"].astype(np.int64), [str(s) for s in z["ids"]], version, extra)

    @property
    def present(self) -> np.ndarray:
        """(n,) bool: the recogniser found input (a face detector miss is absent, as in the engine)."""
        return self.extra["present"].astype(bool) if "present" in self.extra else np.ones(len(self.y), bool)

    def subset(self, idx: np.ndarray) -> "Pool":
        return Pool(self.modality, self.split, self.probs[idx], self.rel[idx], self.y[idx],
                    [self.ids[i] for i in idx], self.version, {k: v[idx] for k, v in self.extra.items()})


def by_class(pool: Pool, present_only: bool = False) -> dict[int, np.ndarray]:
    """Row indices per class (only rows where the recogniser found input, if asked)."""
    keep = pool.present if present_only else np.ones(len(pool.y), bool)
    return {c: np.flatnonzero((pool.y == c) & keep) for c in range(NUM_CLASSES) if ((pool.y == c) & keep).any()}


@dataclass
class PairSet:
    """Stacked fusion inputs for N paired windows (see :mod:`emoguide.recognition.fusion_baselines`)."""

    P: np.ndarray  # (N, 3, 7)
    mask: np.ndarray  # (N, 3)
    rel: np.ndarray  # (N, 3)
    y: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.y)

    def with_mask(self, mask: np.ndarray) -> "PairSet":
        mask = mask.astype(np.float32)
        P = np.where(mask[..., None] > 0, self.P, 1.0 / NUM_CLASSES).astype(np.float32)
        return PairSet(P, mask, self.rel * mask, self.y)

    def without(self, modality: str) -> "PairSet":
        mask = self.mask.copy()
        mask[:, MODALITIES.index(modality)] = 0
        return self.with_mask(mask)

    def only(self, modality: str) -> "PairSet":
        mask = np.zeros_like(self.mask)
        mask[:, MODALITIES.index(modality)] = self.mask[:, MODALITIES.index(modality)]
        return self.with_mask(mask)


def make_pairs(pools: dict[str, Pool], n: int, seed: int) -> tuple[PairSet, np.ndarray]:
    """``n`` label-paired windows (class drawn uniformly among classes every pool has) and the pool indices (n, 3)."""
    rng = np.random.default_rng(seed)
    groups = {m: by_class(pools[m]) for m in MODALITIES}
    classes = sorted(set.intersection(*(set(g) for g in groups.values())))
    y = rng.choice(classes, size=n)
    idx = np.zeros((n, N_MOD), dtype=np.int64)
    for j, m in enumerate(MODALITIES):
        for c in classes:
            rows = np.flatnonzero(y == c)
            idx[rows, j] = rng.choice(groups[m][c], size=len(rows))
    P = np.stack([pools[m].probs[idx[:, j]] for j, m in enumerate(MODALITIES)], axis=1).astype(np.float32)
    rel = np.stack([pools[m].rel[idx[:, j]] for j, m in enumerate(MODALITIES)], axis=1).astype(np.float32)
    mask = np.stack([pools[m].present[idx[:, j]] for j, m in enumerate(MODALITIES)], axis=1).astype(np.float32)
    return PairSet(P, np.ones((n, N_MOD), np.float32), rel, y.astype(np.int64)).with_mask(mask), idx


@dataclass(frozen=True)
class Augment:
    """Augmentation rates (per modality per example unless said otherwise)."""

    p_drop: float = 0.35  # modality removed
    p_mismatch: float = 0.15  # modality replaced by another class's sample, reliability kept
    p_degrade: float = 0.30  # reliability scaled by u~U(0.05, 1); wrong-class replacement with prob (1-u)·0.8


def augment(pairs: PairSet, pools: dict[str, Pool], rng: np.random.Generator, aug: Augment = Augment()) -> PairSet:
    """One random augmented copy of ``pairs`` (targets unchanged)."""
    n = len(pairs)
    P, rel = pairs.P.copy(), pairs.rel.copy()
    groups = {m: by_class(pools[m], present_only=True) for m in MODALITIES}
    for j, m in enumerate(MODALITIES):
        pool = pools[m]
        degrade = rng.random(n) < aug.p_degrade
        u = rng.uniform(0.05, 1.0, size=n)
        rel[degrade, j] *= u[degrade]
        wrong = (rng.random(n) < aug.p_mismatch) | (degrade & (rng.random(n) < (1.0 - u) * 0.8))
        for i in np.flatnonzero(wrong):
            others = [c for c in groups[m] if c != pairs.y[i]]
            k = rng.choice(groups[m][rng.choice(others)])
            P[i, j] = pool.probs[k]
    keep = (rng.random((n, N_MOD)) >= aug.p_drop) & (pairs.mask > 0)
    for i in np.flatnonzero(~keep.any(1)):  # never drop everything that was there
        there = np.flatnonzero(pairs.mask[i] > 0)
        if len(there):
            keep[i, rng.choice(there)] = True
    mask = keep.astype(np.float32)
    return PairSet(P, mask, rel, pairs.y).with_mask(mask)


def cached_pool(modality: str, split: str, version: str, build) -> Pool:
    """Load ``/tmp`` cache for (modality, split, version) or call ``build()`` and store it."""
    path = CACHE_DIR / f"{modality}_{split}_{version}.npz"
    if path.is_file():
        return Pool.load(path)
    log.info("computing %s predictions on %s (cached to %s)", modality, split, path)
    pool = build()
    pool.version = version
    pool.save(path)
    return pool
