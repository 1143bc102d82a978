"""The voice emotion head: pooled Whisper-encoder frames plus prosody → RAVDESS's 8 classes.

Pooling is speech-weighted (frames the VAD calls silence barely count), so a
window with a pause reads the speech in it, not the gap. Inputs are
standardised with the training set's statistics, stored in the checkpoint so
training and inference cannot drift apart.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from emoguide.labels import LABEL_INDEX, NUM_CLASSES, to_common
from emoguide.recognition.voice.prosody import prosody_features

RAVDESS_CLASSES = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
#: (8, 7) matrix adding calm into neutral (labels.CORPUS_MAPS["ravdess"])
TO_COMMON = np.zeros((len(RAVDESS_CLASSES), NUM_CLASSES), np.float32)
for _i, _code in enumerate(("01", "02", "03", "04", "05", "06", "07", "08")):
    TO_COMMON[_i, LABEL_INDEX[to_common("ravdess", _code)]] = 1.0
FEATURE_DIM = 384 * 2 + 8


def pooled_features(frames: np.ndarray, tracks: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """(776,) speech-weighted mean and std of encoder frames, then 8 prosody numbers."""
    frames = np.asarray(frames, np.float32)
    if len(frames) == 0:
        return np.zeros(FEATURE_DIM, np.float32)
    w = np.asarray(speech, np.float64) + 0.05
    w = w / w.sum()
    mean = (frames * w[:, None]).sum(0)
    std = np.sqrt(np.maximum(((frames - mean) ** 2 * w[:, None]).sum(0), 0.0))
    return np.concatenate([mean, std, prosody_features(tracks, speech)]).astype(np.float32)


class VoiceHead(nn.Module):
    def __init__(self, hidden: int = 256, dropout: float = 0.5, mean=None, std=None):
        super().__init__()
        self.register_buffer("mean", torch.zeros(FEATURE_DIM) if mean is None else torch.as_tensor(mean))
        self.register_buffer("std", torch.ones(FEATURE_DIM) if std is None else torch.as_tensor(std))
        self.net = nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURE_DIM, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, len(RAVDESS_CLASSES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def load_head(path, device: str = "cpu") -> "Ensemble":
    """The ensemble; ``.encoder_layer`` says which frames it pools (None: CTranslate2's last layer)."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    heads = []
    for state in blob["states"]:
        head = VoiceHead(hidden=blob["hidden"])
        head.load_state_dict(state)
        heads.append(head.eval().to(device))
    ensemble = Ensemble(heads).eval().to(device)
    ensemble.encoder_layer = blob.get("encoder_layer")
    return ensemble


class Ensemble(nn.Module):
    """Mean of the members' softmax outputs (a few seeds: steadier on 4 unseen actors)."""

    def __init__(self, heads):
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.encoder_layer: int | None = None  # which Whisper layer's frames the members read

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([h(x).softmax(-1) for h in self.heads]).mean(0)
