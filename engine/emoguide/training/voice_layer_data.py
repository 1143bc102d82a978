"""Every Whisper encoder layer's frames for each RAVDESS clip, cached per actor.

The CTranslate2 cache of :mod:`emoguide.training.voice_data` holds only the last
layer; this one runs :mod:`emoguide.recognition.voice.whisper_torch` and keeps
all five stages (embeddings + 4 layers, float16) so layer choices and pooling
heads can be compared from the cache in seconds. ``mode`` says how the encoder
saw the clip: ``"real"`` (only the clip's own length) or ``"pad30"`` (zero-padded
to 30 s, as CTranslate2 and the shipped head do).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from emoguide.training.voice_data import CACHE_DIR, list_clips, read_clip

log = logging.getLogger(__name__)


def _path(actor: int, mode: str) -> Path:
    return CACHE_DIR / f"ravdess_actor{actor:02d}_layers_{mode}.npz"


def extract(data_dir: Path, actor: int, mode: str = "real", encoder=None) -> Path:
    """Cache one actor's all-layer frames (skipped when present)."""
    from emoguide.recognition.voice.whisper_torch import encode_layers, load_encoder

    out = _path(actor, mode)
    if out.is_file():
        return out
    encoder = encoder or load_encoder()
    mine = [c for c in list_clips(data_dir) if c.actor == actor]
    layers = [encode_layers(read_clip(c.path), encoder, pad_to_30s=(mode == "pad30")).astype(np.float16)
              for c in mine]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp.npz")
    np.savez(tmp, names=np.array([c.path.name for c in mine]), lengths=np.array([x.shape[1] for x in layers]),
             frames=np.concatenate(layers, axis=1))
    tmp.replace(out)
    log.info("cached %s layer frames of actor %02d", mode, actor)
    return out


def load_layers(data_dir: Path, actor: int, mode: str = "real") -> dict[str, np.ndarray]:
    """``{clip file name: (L + 1, F, 384) float16}`` for one actor, extracting when missing."""
    blob = np.load(extract(data_dir, actor, mode))
    bounds = np.concatenate([[0], np.cumsum(blob["lengths"])])
    frames = blob["frames"]
    return {str(n): frames[:, bounds[i]: bounds[i + 1]] for i, n in enumerate(blob["names"])}


if __name__ == "__main__":
    import argparse

    import torch

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--mode", choices=("real", "pad30"), default="real")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    for a in sorted({c.actor for c in list_clips(args.data)}):
        extract(args.data, a, args.mode)
