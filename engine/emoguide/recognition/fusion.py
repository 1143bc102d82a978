"""Combining face, voice and text into one reading per window.

Every fusion takes the per-modality :class:`ModalityResult` s of a set of
windows and returns a :class:`FusedResult`. Missing modalities are the normal
case in edited video (no face on screen, music instead of speech, no captions),
so a fusion must give a sensible answer from any subset, including none.

Two things are measured alongside the fused distribution because editors ask
for them: each modality's *contribution* (its weight in the result) and a
*disagreement* score, the largest emotional conflict between any two present
modalities (Jensen-Shannon divergence, base 2 so 0..1, of their non-neutral
readings, weighted by how emotional both are): a smiling face over a sad voice
scores high, neutral words under an angry voice do not.

:class:`ReliabilityLateFusion` is the transparent baseline (a reliability-
weighted average of distributions, "late fusion"). Learned fusions register in
:data:`FUSIONS` and are preferred by :func:`default_fusion` when their weights ship.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from emoguide.labels import NUM_CLASSES, vad_from_probs
from emoguide.recognition.base import ModalityResult

MODALITIES = ("face", "voice", "text")


@dataclass
class FusedResult:
    probs: np.ndarray  # (N, 7)
    vad: np.ndarray  # (N, 3)
    confidence: np.ndarray  # (N,)
    contributions: dict[str, np.ndarray]  # modality → (N,) weight, rows sum to 1 where anything is present
    disagreement: np.ndarray  # (N,) 0..1
    disagreeing_pair: list[str]  # per window "face~voice" or ""
    method: str
    vad_source: str = "norms"
    extras: dict[str, np.ndarray] = field(default_factory=dict)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise Jensen-Shannon divergence in bits (0 = identical, 1 = disjoint)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0)
    q = np.clip(np.asarray(q, dtype=np.float64), 1e-12, 1.0)
    m = 0.5 * (p + q)
    kl = lambda a, b: np.sum(a * np.log2(a / b), axis=-1)  # noqa: E731
    return np.clip(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0, 1.0)


def emotional_conflict(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """JS divergence between the *emotional* parts of two readings, scaled by how emotional both are.

    A neutral reading carries no emotion to contradict: neutral words under an
    angry voice are ordinary speech, not a mixed signal, whereas a smiling face
    over a sad voice is. So neutral mass is removed, the rest renormalised, and
    the divergence weighted by the smaller of the two non-neutral masses.
    """
    from emoguide.labels import LABEL_INDEX

    n = LABEL_INDEX["neutral"]
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    ep, eq = 1.0 - p[:, n], 1.0 - q[:, n]
    pe, qe = np.delete(p, n, axis=1), np.delete(q, n, axis=1)
    pe = pe / np.maximum(pe.sum(1, keepdims=True), 1e-12)
    qe = qe / np.maximum(qe.sum(1, keepdims=True), 1e-12)
    return (js_divergence(pe, qe) * np.minimum(ep, eq)).astype(np.float32)


def disagreement(results: dict[str, ModalityResult]) -> tuple[np.ndarray, list[str]]:
    """Largest pairwise JS divergence among modalities present in each window, and which pair."""
    names = [m for m in MODALITIES if m in results]
    n = len(next(iter(results.values())).probs) if results else 0
    best = np.zeros(n)
    pair = [""] * n
    for a, b in itertools.combinations(names, 2):
        both = results[a].present & results[b].present
        if not both.any():
            continue
        d = np.where(both, emotional_conflict(results[a].probs, results[b].probs), 0.0)
        for i in np.nonzero(d > best)[0]:
            pair[i] = f"{a}~{b}"
        best = np.maximum(best, d)
    return best.astype(np.float32), pair


class Fusion:
    """Base class: ``fuse`` maps modality results to a :class:`FusedResult`."""

    name = "base"
    version = "0"

    def fuse(self, results: dict[str, ModalityResult]) -> FusedResult:
        raise NotImplementedError


class ReliabilityLateFusion(Fusion):
    """Weighted average of the present modalities' distributions.

    A modality's weight in a window is ``prior × reliability`` (0 when absent).
    The priors encode how far each recogniser can be trusted on held-out people
    (roughly its accuracy over chance); they are parameters, not learned here.
    """

    name = "late"
    version = "late-1"

    def __init__(self, priors: dict[str, float] | None = None):
        self.priors = priors or {"face": 1.0, "voice": 1.0, "text": 0.6}

    def fuse(self, results: dict[str, ModalityResult]) -> FusedResult:
        if not results:
            raise ValueError("fusion needs at least one modality's results (even if absent)")
        n = len(next(iter(results.values())).probs)
        weights = {}
        for name, res in results.items():
            w = self.priors.get(name, 0.5) * np.clip(res.reliability, 0.0, 1.0) * res.present
            weights[name] = w.astype(np.float64)
        total = sum(weights.values())
        anything = total > 0
        fused = np.zeros((n, NUM_CLASSES))
        for name, res in results.items():
            weights[name] = np.divide(weights[name], total, out=np.zeros(n), where=anything)
            fused += weights[name][:, None] * res.probs
        probs = np.where(anything[:, None], fused, 1.0 / NUM_CLASSES)
        vad, vad_source = fuse_vad(results, weights, probs)
        coverage = np.clip(total, 0.0, 1.0)
        confidence = probs.max(axis=1) * coverage
        dis, pair = disagreement(results)
        return FusedResult(
            probs=probs.astype(np.float32),
            vad=vad,
            confidence=confidence.astype(np.float32),
            contributions={k: v.astype(np.float32) for k, v in weights.items()},
            disagreement=dis,
            disagreeing_pair=pair,
            method=self.name,
            vad_source=vad_source,
        )


def fuse_vad(results: dict[str, ModalityResult], weights: dict[str, np.ndarray], fused_probs: np.ndarray):
    """VAD per window: contribution-weighted learned VAD where modalities provide it, else norms.

    Returns ``(vad (N, 3), source)`` with source "learned", "norms" or "mixed". The source
    counts only modalities that carry weight somewhere: an audio-only clip read by a voice
    recogniser with a learned head is "learned", even if a face recogniser ran and found nothing.
    """
    covered = sum(weights.values()) > 0
    # nothing observed: "no reading" is the neutral origin, not the VAD of a uniform guess
    from_norms = np.where(covered[:, None], vad_from_probs(fused_probs), 0.0)
    learned = [k for k, r in results.items() if r.vad is not None]
    if not learned:
        return from_norms.astype(np.float32), "norms"
    vad = np.zeros_like(from_norms, dtype=np.float64)
    for name, res in results.items():
        own = res.vad if res.vad is not None else vad_from_probs(res.probs)
        vad += weights[name][:, None] * own
    vad = np.where(covered[:, None], vad, from_norms)
    used = [k for k in results if np.any(weights[k] > 0)]
    n_learned = sum(k in learned for k in used)
    source = "norms" if not n_learned else ("learned" if n_learned == len(used) else "mixed")
    return vad.astype(np.float32), source


#: name → factory. Learned fusions add themselves here when their weights load.
FUSIONS: dict[str, Callable[[], Fusion]] = {"late": ReliabilityLateFusion}


def default_fusion(name: str | None = None) -> Fusion:
    """The named fusion, else the learned one if registered, else the late-fusion baseline."""
    if "learned" not in FUSIONS:
        try:  # registers FUSIONS["learned"]; its weights are only read when the factory runs
            import emoguide.recognition.fusion_learned  # noqa: F401
        except ImportError:  # torch missing: the baseline still works
            pass
    if name:
        if name not in FUSIONS:
            raise KeyError(f"unknown fusion {name!r}; available: {', '.join(sorted(FUSIONS))}")
        return FUSIONS[name]()
    for preferred in ("learned", "late"):
        if preferred in FUSIONS:
            try:
                return FUSIONS[preferred]()
            except Exception:  # learned weights missing or corrupt: fall back, visibly in `method`
                continue
    return ReliabilityLateFusion()
