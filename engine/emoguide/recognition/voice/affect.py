"""Learned valence and arousal from the voice: a small regressor on the emotion head's input.

Why learn it: category norms give every "angry" the same arousal, but actors
(and people) say the same emotion calmly or at full force; RAVDESS labels that
force (*normal* / *strong* intensity) per clip. The regression target is the
true category's norm shifted by the labelled intensity (defined once, in
:func:`emoguide.training.vad_voice.targets`), so what the head learns beyond
the category is intensity. It reads the same 776 pooled numbers as the
emotion head (speech-weighted Whisper frame statistics + prosody), so a
window costs one extra small matrix product.

Output: (N, 2) valence and arousal in -1..1 (tanh), the mean of a few seeds.
Dominance stays on category norms (no corpus here rates it). The file records
which encoder layer its features pooled (``None``: CTranslate2's last layer, the
30 s-padded frames), so the recogniser can feed it the frames it was trained on
even when the emotion head reads another layer.
"""

from __future__ import annotations

import torch
from torch import nn

from emoguide.recognition.voice.classifier import FEATURE_DIM

WEIGHTS_FILE = "voice_affect.pt"


class VoiceAffectHead(nn.Module):
    """Standardise → MLP → tanh (valence, arousal)."""

    def __init__(self, hidden: int = 64, dropout: float = 0.3, mean=None, std=None):
        super().__init__()
        self.register_buffer("mean", torch.zeros(FEATURE_DIM) if mean is None else torch.as_tensor(mean))
        self.register_buffer("std", torch.ones(FEATURE_DIM) if std is None else torch.as_tensor(std))
        self.net = nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURE_DIM, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net((x - self.mean) / self.std))


class AffectEnsemble(nn.Module):
    """Mean prediction of the members (seeds)."""

    def __init__(self, heads):
        super().__init__()
        self.heads = nn.ModuleList(heads)
        #: Whisper layer whose frames the features pool; must match the emotion head's (same input)
        self.encoder_layer: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([h(x) for h in self.heads]).mean(0)


def save_heads(heads, path, meta: dict, encoder_layer: int | None = None) -> None:
    """``encoder_layer``: which Whisper frames the features pooled (None: CTranslate2's last layer)."""
    torch.save({"states": [{k: v.detach().cpu() for k, v in h.state_dict().items()} for h in heads],
                "hidden": int(heads[0].net[1].out_features), "outputs": ["valence", "arousal"],
                "encoder_layer": encoder_layer, "meta": dict(meta)}, path)


def load_affect(path, device: str = "cpu") -> AffectEnsemble:
    """The shipped ensemble in eval mode (loads with ``weights_only=True``)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    heads = []
    for state in blob["states"]:
        head = VoiceAffectHead(hidden=blob["hidden"])
        head.load_state_dict(state)
        heads.append(head)
    ensemble = AffectEnsemble(heads).eval().to(device)
    ensemble.encoder_layer = blob.get("encoder_layer")
    return ensemble
