"""Learned valence for text: a linear head on the text recogniser's sentence vector.

Why a head at all: valence from category norms (:func:`emoguide.labels.vad_from_probs`)
can only say "how positive is the *expected category*"; words carry polarity the
7 categories lose (a polite refusal is neutral but negative, "no way, really?!"
is surprise and positive). MELD labels every utterance with a sentiment
(negative / neutral / positive), which is exactly a 3-level valence rating, so
we learn it from the recogniser's own mean-pooled vector (the input of its
7-class head) and nothing else: no second encoder pass, no new dependency.

The head is a 3-way softmax (multinomial logistic regression) over that
vector; valence is ``P(positive) - P(negative)``, the expected value of the
sentiment mapped to -1/0/+1, so it lies in -1..1 by construction. It was
trained on MELD train, chosen on MELD dev and measured on MELD test (see
``weights/vad.md``). Arousal and dominance for text stay on category norms:
no text corpus here rates them.

The head is tied to the exact text weights whose pooled vector it reads
(``text_sha256`` in the file); the recogniser only attaches it to those.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

WEIGHTS_FILE = "text_valence.pt"
SENTIMENTS = ("negative", "neutral", "positive")
SENTIMENT_VALUE = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


class TextValenceHead(nn.Module):
    """Standardise, then a linear 3-way sentiment layer; :meth:`valence` gives P(pos) - P(neg)."""

    def __init__(self, dim: int = 384, mean=None, std=None):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim) if mean is None else torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.ones(dim) if std is None else torch.as_tensor(std, dtype=torch.float32))
        self.linear = nn.Linear(dim, len(SENTIMENTS))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """Sentiment logits (N, 3) in :data:`SENTIMENTS` order."""
        return self.linear((pooled - self.mean) / self.std)

    def valence(self, pooled: np.ndarray) -> np.ndarray:
        """(N,) valence in -1..1 for (N, dim) pooled vectors."""
        if len(pooled) == 0:
            return np.zeros(0, np.float32)
        with torch.inference_mode():
            p = self(torch.as_tensor(np.asarray(pooled, np.float32))).softmax(-1).numpy()
        return (p[:, 2] - p[:, 0]).astype(np.float32)


def save_head(head: TextValenceHead, path, text_sha256: str, meta: dict) -> None:
    from emoguide.recognition.base import save_weights

    save_weights({"state": {k: v.detach().cpu() for k, v in head.state_dict().items()},
                  "dim": int(head.mean.numel()), "text_sha256": text_sha256, "meta": dict(meta)}, path)


def load_head(path) -> tuple[TextValenceHead, str]:
    """``(head, sha256 of the text weights it was trained on)``; loads with ``weights_only=True``."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    head = TextValenceHead(dim=blob["dim"])
    head.load_state_dict(blob["state"])
    return head.eval(), blob["text_sha256"]
