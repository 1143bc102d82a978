"""Train and evaluate the voice emotion head on RAVDESS speech, split by actor.

Actors 01–16 train, 17–20 choose (epochs, model), 21–24 are reported once
(the shared data README's split; actor 05 is absent from the data).
Whisper tiny.en encoder frames and prosody tracks are extracted once into a
cache (``EMOGUIDE_VOICE_CACHE``, default /tmp/emoguide_voice_cache).

The head reads encoder layer 2 of 4 (``--layer 2``, the default since issue #8),
run on each clip's real length by the PyTorch copy of the encoder
(:mod:`emoguide.recognition.voice.whisper_torch`): on validation actors it beat
the last layer, which CTranslate2 exposes, by 5 points
(:mod:`emoguide.training.voice_layer_experiment`). ``--layer -1`` trains on
CTranslate2's last layer as before.

    python -m emoguide.training.voice --data ../shared/data     # minutes, most of it feature extraction
    emoguide eval --task voice --data ../shared/data
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emoguide.evaluation.metrics import ClassificationReport, classification_report
from emoguide.labels import LABELS
from emoguide.recognition.base import WEIGHTS_DIR, save_weights
from emoguide.recognition.voice.classifier import RAVDESS_CLASSES, TO_COMMON, VoiceHead, load_head, pooled_features
from emoguide.training.voice_data import TEST_ACTORS, TRAIN_ACTORS, VAL_ACTORS, load_features

log = logging.getLogger(__name__)
WEIGHTS_NAME = "voice_emotion.pt"


def pooled_clips(data_dir: Path, layer: int | None = None):
    """``(X (N, 776), clips)``: pooled features of every RAVDESS clip and its :class:`Clip` (emotion,
    intensity, actor), so heads that need more than the emotion label read the same features.

    ``layer=None`` pools CTranslate2's last encoder layer (30 s-padded); ``layer=k``
    pools layer ``k`` of the PyTorch encoder run on the clip's real length.
    """
    feats = load_features(Path(data_dir))
    frames = feats.frames
    if layer is not None:
        from emoguide.training.voice_layer_data import load_layers

        by_actor = {a: load_layers(Path(data_dir), a, "real") for a in sorted({c.actor for c in feats.clips})}
        frames = [by_actor[c.actor][c.path.name][layer, : len(p)] for c, p in zip(feats.clips, feats.prosody)]
    x = np.stack([pooled_features(f, p[: len(f)], s[: len(f)])
                  for f, p, s in zip(frames, feats.prosody, feats.speech)])
    return x, feats.clips


def dataset(data_dir: Path, layer: int | None = None):
    """``(X (N, 776), y (N,), actors (N,))`` of pooled features for every RAVDESS clip (see :func:`pooled_clips`)."""
    x, clips = pooled_clips(data_dir, layer)
    return x, np.array([c.emotion for c in clips]), np.array([c.actor for c in clips])


def train_epoch(head: torch.nn.Module, opt: torch.optim.Optimizer, xt: torch.Tensor, yt: torch.Tensor,
                batch: int = 64) -> None:
    """One epoch of the voice heads' recipe: feature noise scaled by the head's ``std`` (there are fewer
    speakers than feature dimensions, so the head must not memorise them) and label smoothing; leaves the
    head in eval mode for the validation pass."""
    head.train()
    order = torch.randperm(len(xt))
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        noisy = xt[idx] + 0.05 * torch.randn_like(xt[idx]) * head.std
        loss = F.cross_entropy(head(noisy), yt[idx], label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()


def _fit(x, y, x_val, y_val, seed: int, epochs: int = 60, hidden: int = 256, mean=None, std=None):
    torch.manual_seed(seed)
    head = VoiceHead(hidden=hidden, mean=torch.tensor(mean), std=torch.tensor(std))
    opt = torch.optim.AdamW(head.parameters(), lr=2e-4, weight_decay=5e-2)
    xt, yt = torch.tensor(x), torch.tensor(y)
    xv = torch.tensor(x_val)
    best, best_state, best_epoch = -1.0, None, 0
    for epoch in range(epochs):
        train_epoch(head, opt, xt, yt)
        with torch.inference_mode():
            acc = float((head(xv).argmax(1).numpy() == y_val).mean())
        if acc > best:
            best, best_epoch = acc, epoch + 1
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
    return best_state, best, best_epoch


def train(data_dir: Path, out_dir: Path = WEIGHTS_DIR, seeds: int = 5, hidden: int = 256,
          layer: int | None = 2) -> dict:
    torch.set_num_threads(1)
    x, y, actors = dataset(data_dir, layer)
    tr, va = np.isin(actors, TRAIN_ACTORS), np.isin(actors, VAL_ACTORS)
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-4
    states, vals = [], []
    for seed in range(seeds):
        state, acc, epoch = _fit(x[tr], y[tr], x[va], y[va], seed, hidden=hidden, mean=mean, std=std)
        states.append(state)
        vals.append((acc, epoch))
        log.warning("seed %d: validation accuracy %.3f at epoch %d", seed, acc, epoch)
    path = Path(out_dir) / WEIGHTS_NAME
    save_weights({"states": states, "hidden": hidden, "classes": list(RAVDESS_CLASSES), "validation": vals,
                  "encoder_layer": layer}, path)
    return {"path": str(path), "validation": vals}


def _probs(head, x) -> np.ndarray:
    with torch.inference_mode():
        return head(torch.tensor(x)).numpy()


def evaluate(data_dir: Path, weights: Path | None = None) -> list[ClassificationReport]:
    """8-class and common 7-class metrics on the test actors (21–24), plus validation for reference."""
    from emoguide.recognition.base import verified_weights

    head = load_head(weights or verified_weights(WEIGHTS_NAME))
    x, y, actors = dataset(data_dir, head.encoder_layer)
    reports = []
    for name, group in (("test actors 21-24", TEST_ACTORS), ("validation actors 17-20", VAL_ACTORS)):
        sel = np.isin(actors, group)
        p8 = _probs(head, x[sel])
        reports.append(classification_report(f"voice: RAVDESS {name}, 8 classes", y[sel], p8, RAVDESS_CLASSES))
        if group == TEST_ACTORS:
            y7 = TO_COMMON[y[sel]].argmax(1)
            reports.append(classification_report(f"voice: RAVDESS {name}, common 7 classes (calm → neutral)",
                                                 y7, p8 @ TO_COMMON, LABELS))
    return reports


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    p.add_argument("--layer", type=int, default=2, help="encoder layer to pool (0-4); -1: CTranslate2's last layer")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    t0 = time.time()
    result = train(args.data, args.out, seeds=args.seeds, layer=None if args.layer < 0 else args.layer)
    for report in evaluate(args.data, Path(result["path"])):
        print(report.format())
    print(f"trained in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
