"""Which Whisper encoder layers, input length and pooling make the best voice emotion head?

Issue #8 experiment, validation actors 17-20 only (test actors are not read
here). Every configuration trains the same kind of ensemble as
:mod:`emoguide.training.voice` (MLP heads, feature noise, label smoothing,
early stopping on validation per seed) so the numbers compare with the shipped
head's validation 0.671. Features come from the all-layer cache of
:mod:`emoguide.training.voice_layer_data`; prosody and speech probability from
:mod:`emoguide.training.voice_data`'s cache.

    python -m emoguide.training.voice_layer_experiment --data ../shared/data
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emoguide.recognition.voice.prosody import prosody_features
from emoguide.training.voice import train_epoch
from emoguide.training.voice_data import TRAIN_ACTORS, VAL_ACTORS, extract_tracks, list_clips
from emoguide.training.voice_layer_data import load_layers

log = logging.getLogger(__name__)


def weighted_stats(frames: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Speech-weighted mean and std over frames (last-but-one axis) — the shipped head's pooling."""
    w = np.asarray(speech, np.float64) + 0.05
    w = w / w.sum()
    x = frames.astype(np.float32)
    mean = np.tensordot(w, x, axes=([0], [-2]))
    var = np.tensordot(w, (x - np.expand_dims(mean, -2)) ** 2, axes=([0], [-2]))
    return np.concatenate([mean, np.sqrt(np.maximum(var, 0))], -1).astype(np.float32)


def load_split(data_dir: Path, actors, mode: str):
    """Per clip: all-layer frames, prosody tracks, speech probability, label."""
    clips = list_clips(data_dir)
    items = []
    for actor in sorted({c.actor for c in clips} & set(actors)):  # actor 05 is absent
        layers = load_layers(data_dir, actor, mode)
        tracks = np.load(extract_tracks(clips, actor))
        bounds = np.concatenate([[0], np.cumsum(tracks["lengths"])])
        by_name = {c.path.name: c for c in clips}
        for i, name in enumerate(tracks["names"]):
            frames = layers[str(name)]
            n = min(frames.shape[1], bounds[i + 1] - bounds[i])
            items.append((frames[:, :n], tracks["prosody"][bounds[i]: bounds[i] + n],
                          tracks["speech"][bounds[i]: bounds[i] + n], by_name[str(name)].emotion))
    return items


def pooled(items, layers) -> np.ndarray:
    """(N, len(layers) * 768 + 8): weighted mean+std of the chosen layers, then prosody."""
    return np.stack([np.concatenate([weighted_stats(f[list(layers)], s).reshape(-1), prosody_features(p, s)])
                     for f, p, s, _ in items]).astype(np.float32)


class Head(nn.Module):
    """The shipped MLP (standardise, dropout, hidden GELU layer), any input width."""

    def __init__(self, dim: int, mean, std, hidden: int = 256, dropout: float = 0.5):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean))
        self.register_buffer("std", torch.as_tensor(std))
        self.net = nn.Sequential(nn.Dropout(0.2), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 8))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def fit_ensemble(x, y, xv, yv, seeds: int = 5, epochs: int = 60, lr: float = 2e-4, wd: float = 5e-2,
                 hidden: int = 256):
    """Per-seed best validation accuracy and the ensemble's (mean softmax of the per-seed best states)."""
    mean, std = x.mean(0), x.std(0) + 1e-4
    xt, yt, xvt = torch.tensor(x), torch.tensor(y), torch.tensor(xv)
    probs, accs = [], []
    for seed in range(seeds):
        torch.manual_seed(seed)
        head = Head(x.shape[1], mean, std, hidden)
        opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=wd)
        best, best_p = -1.0, None
        for _ in range(epochs):
            train_epoch(head, opt, xt, yt)
            with torch.inference_mode():
                p = head(xvt).softmax(-1).numpy()
            acc = float((p.argmax(1) == yv).mean())
            if acc > best:
                best, best_p = acc, p
        probs.append(best_p)
        accs.append(best)
    return float(np.mean(accs)), float((np.mean(probs, 0).argmax(1) == yv).mean())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--modes", default="real,pad30")
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    configs = [("last layer", (4,)), ("layer 0 (embeddings)", (0,)), ("layer 1", (1,)), ("layer 2", (2,)),
               ("layer 3", (3,)), ("layers 2+3", (2, 3)), ("layers 1-4", (1, 2, 3, 4)), ("all 0-4", (0, 1, 2, 3, 4))]
    for mode in args.modes.split(","):
        train = load_split(args.data, TRAIN_ACTORS, mode)
        val = load_split(args.data, VAL_ACTORS, mode)
        y, yv = np.array([it[3] for it in train]), np.array([it[3] for it in val])
        for name, layers in configs:
            seed_acc, ens_acc = fit_ensemble(pooled(train, layers), y, pooled(val, layers), yv, seeds=args.seeds)
            print(f"{mode:5s} {name:22s} val: seeds mean {seed_acc:.3f}  ensemble {ens_acc:.3f}", flush=True)


if __name__ == "__main__":
    main()
