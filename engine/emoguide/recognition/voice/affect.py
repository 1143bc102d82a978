"""Voice valence and arousal: the emotion classifier's category norms, shifted by a learned intensity.

Why this shape: category norms give every "angry" the same arousal, but actors
(and people) say the same emotion calmly or at full force; RAVDESS labels that
force (*normal* / *strong*) per clip. An earlier head regressed valence/arousal
directly; once the emotion classifier improved, the norms of its probabilities
fitted the target better than that head, which also needed CTranslate2's last
encoder layer (an extra encoder pass per audio block). So now only intensity is
learned, and everything else is the target's own definition:

* ``q = P(strong | features)`` from a small model (standardise → logistic
  regression or MLP, a few seeds averaged) on the *same* 776 pooled numbers
  the emotion classifier reads (same encoder layer, so no extra encoder work);
* ``s = 2q - 1`` is the expected intensity sign;
* for each common class ``c`` the target is ``V_c = norm_V(c)·(1 + VALENCE_SCALE·s)``,
  ``A_c = norm_A(c) + AROUSAL_SHIFT·s`` (neutral, calm included, keeps its norm);
  valence/arousal is the expectation ``Σ_c p_c (V_c, A_c)`` under the classifier's
  common-space probabilities ``p``, clipped to -1..1.

At ``q = 0.5`` this is exactly the norms row; the training target
(:func:`emoguide.training.vad_voice.targets_common`) is the same function at a
one-hot ``p`` and ``s = ±1``, so the two cannot drift apart. Dominance stays on
category norms (no corpus here rates it).

The file records ``kind``/``format`` (an older file is refused with
:class:`~emoguide.recognition.base.WeightsError`), the encoder layer its
features pooled (must equal the emotion head's: the recogniser pools once for
both) and the shift sizes it was trained with.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from emoguide.labels import VAD_MATRIX
from emoguide.recognition.base import WeightsError
from emoguide.recognition.voice.classifier import FEATURE_DIM

WEIGHTS_FILE = "voice_affect.pt"
KIND = "voice-affect/intensity-shift"
FORMAT = 2
#: target sizes (our choice, about a quarter of the norms' arousal range; see training/vad_voice.py)
AROUSAL_SHIFT = 0.15
VALENCE_SCALE = 0.25


def shifted_va(p7: np.ndarray, s: np.ndarray, arousal_shift: float = AROUSAL_SHIFT,
               valence_scale: float = VALENCE_SCALE) -> np.ndarray:
    """(N, 2) expected valence/arousal under common-space probabilities ``p7`` (N, 7) and intensity sign ``s`` (N,)."""
    p = np.asarray(p7, np.float64)
    s = np.asarray(s, np.float64)[:, None] * (np.arange(p.shape[1]) != 0)[None]  # neutral: no intensity
    norm = VAD_MATRIX[:, :2].astype(np.float64)
    v = (p * norm[None, :, 0] * (1.0 + valence_scale * s)).sum(1)
    a = (p * (norm[None, :, 1] + arousal_shift * s)).sum(1)
    return np.clip(np.stack([v, a], 1), -1.0, 1.0).astype(np.float32)


class IntensityHead(nn.Module):
    """Standardise → linear (``hidden=0``) or one-hidden-layer MLP → logit of *strong* intensity."""

    def __init__(self, hidden: int = 0, mean=None, std=None):
        super().__init__()
        self.register_buffer("mean", torch.zeros(FEATURE_DIM) if mean is None else torch.as_tensor(mean))
        self.register_buffer("std", torch.ones(FEATURE_DIM) if std is None else torch.as_tensor(std))
        layers = [nn.Dropout(0.2)]
        layers += ([nn.Linear(FEATURE_DIM, 1)] if hidden == 0 else
                   [nn.Linear(FEATURE_DIM, hidden), nn.GELU(), nn.Dropout(0.3), nn.Linear(hidden, 1)])
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)[:, 0]


class IntensityAffect(nn.Module):
    """The seeds' mean ``q`` and the valence/arousal it implies (:meth:`va`)."""

    def __init__(self, heads, encoder_layer: int | None, arousal_shift: float = AROUSAL_SHIFT,
                 valence_scale: float = VALENCE_SCALE):
        super().__init__()
        self.heads = nn.ModuleList(heads)
        #: Whisper layer whose frames the features pool; must match the emotion head's (same input)
        self.encoder_layer = encoder_layer
        self.arousal_shift, self.valence_scale = float(arousal_shift), float(valence_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``q`` (N,): mean over seeds of P(strong intensity)."""
        return torch.stack([torch.sigmoid(h(x)) for h in self.heads]).mean(0)

    def intensity(self, x: np.ndarray) -> np.ndarray:
        device = self.heads[0].mean.device
        with torch.inference_mode():
            return self(torch.as_tensor(np.asarray(x, np.float32), device=device)).cpu().numpy()

    def va(self, x: np.ndarray, p7: np.ndarray) -> np.ndarray:
        """(N, 2) valence/arousal from pooled features ``x`` (N, 776) and the classifier's common-space ``p7``."""
        if len(x) == 0:
            return np.zeros((0, 2), np.float32)
        return shifted_va(p7, 2.0 * self.intensity(x) - 1.0, self.arousal_shift, self.valence_scale)


def save_affect(heads, path, meta: dict, encoder_layer: int | None) -> None:
    """``encoder_layer``: which Whisper frames the features pooled (None: CTranslate2's last layer)."""
    from emoguide.recognition.base import save_weights

    hidden = heads[0].net[1].out_features if len(heads[0].net) > 2 else 0
    save_weights({"kind": KIND, "format": FORMAT, "hidden": int(hidden), "encoder_layer": encoder_layer,
                  "arousal_shift": AROUSAL_SHIFT, "valence_scale": VALENCE_SCALE, "outputs": ["valence", "arousal"],
                  "states": [{k: v.detach().cpu() for k, v in h.state_dict().items()} for h in heads],
                  "meta": dict(meta)}, path)


def load_affect(path, device: str = "cpu") -> IntensityAffect:
    """The shipped model in eval mode (loads with ``weights_only=True``); an older kind of file raises."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("kind") != KIND or blob.get("format") != FORMAT:
        found = (blob.get("kind"), blob.get("format")) if isinstance(blob, dict) else type(blob).__name__
        raise WeightsError(f"{path} is not a {KIND} v{FORMAT} head (found {found}; files without a kind are the "
                           "older direct valence/arousal regressor on CTranslate2's last layer). Retrain it with "
                           "`emoguide train vad`.")
    heads = []
    for state in blob["states"]:
        head = IntensityHead(hidden=blob["hidden"])
        head.load_state_dict(state)
        heads.append(head)
    return IntensityAffect(heads, blob["encoder_layer"], blob["arousal_shift"], blob["valence_scale"]).eval().to(device)
