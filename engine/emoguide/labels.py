"""The one label space every recogniser, the fusion and the guidance speak.

Each corpus has its own labels; we map them all onto the seven categories the
datasets share (the ``../shared/data`` README calls this the common label space).
Choices made here, stated once so nobody has to rediscover them:

* RAVDESS ``calm`` maps to ``neutral`` (both low-arousal, mildly positive).
* GoEmotions maps through its own Ekman grouping (``ekman_labels.txt``).
* CREMA-D has no ``surprised``; its probability is simply never the target.

Valence/arousal/dominance (VAD) for a class distribution is derived from
published category norms when no model learned it directly: the PAD ratings of
Russell & Mehrabian (1977, "Evidence for a three-factor theory of emotions"),
as tabulated for emotion categories by Gebhard (2005, ALMA, table 2), on a -1..1
scale. ``neutral`` is the origin by definition. These are approximate
population norms, not per-person truths: the engine says ``vad_source="norms"``
when it uses them.
"""

from __future__ import annotations

import numpy as np

#: Canonical order of the common label space. Index positions are part of the
#: weight files' contract: never reorder, only append (and retrain).
LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
NUM_CLASSES = len(LABELS)
LABEL_INDEX = {name: i for i, name in enumerate(LABELS)}

#: Pleasure (valence), arousal, dominance per class, -1..1 (see module docstring).
CATEGORY_VAD: dict[str, tuple[float, float, float]] = {
    "neutral": (0.00, 0.00, 0.00),
    "happy": (0.40, 0.20, 0.15),  # ALMA "joy"
    "sad": (-0.40, -0.20, -0.50),  # ALMA "distress"
    "angry": (-0.51, 0.59, 0.25),
    "fearful": (-0.64, 0.60, -0.43),
    "disgust": (-0.60, 0.35, 0.11),
    "surprised": (0.20, 0.67, -0.13),  # Russell & Mehrabian "surprised", valence tempered
}
VAD_MATRIX = np.array([CATEGORY_VAD[name] for name in LABELS], dtype=np.float32)  # (7, 3)

#: Corpus label → common label. Unknown labels raise, so a new corpus is mapped on purpose.
CORPUS_MAPS: dict[str, dict[str, str]] = {
    "fer2013": {
        "angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
        "neutral": "neutral", "sad": "sad", "surprise": "surprised",
    },
    "ravdess": {
        "01": "neutral", "02": "neutral", "03": "happy", "04": "sad",
        "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
    },
    "crema_d": {
        "NEU": "neutral", "HAP": "happy", "SAD": "sad", "ANG": "angry",
        "FEA": "fearful", "DIS": "disgust",
    },
    "ekman": {
        "neutral": "neutral", "joy": "happy", "sadness": "sad", "anger": "angry",
        "fear": "fearful", "disgust": "disgust", "surprise": "surprised",
    },
    "meld": {
        "neutral": "neutral", "joy": "happy", "sadness": "sad", "anger": "angry",
        "fear": "fearful", "disgust": "disgust", "surprise": "surprised",
    },
}


def to_common(corpus: str, label: str) -> str:
    """Map one corpus label to the common space; raise ``KeyError`` naming both if unknown."""
    try:
        return CORPUS_MAPS[corpus][label]
    except KeyError as exc:
        raise KeyError(f"no common-space mapping for {corpus!r} label {label!r}") from exc


def vad_from_probs(probs: np.ndarray) -> np.ndarray:
    """Expected VAD under a class distribution: ``probs @ VAD_MATRIX``; shape (..., 3)."""
    return np.asarray(probs, dtype=np.float32) @ VAD_MATRIX


def dominant(probs: np.ndarray) -> tuple[str, float]:
    """The most probable class and its probability, for display."""
    probs = np.asarray(probs)
    i = int(np.argmax(probs))
    return LABELS[i], float(probs[i])
