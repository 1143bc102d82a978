"""Train and evaluate the text emotion model (``python -m emoguide.training.text --data DIR``).

Recipe, chosen to fit ~30 CPU-minutes on 2 shared cores:

1. Run all-MiniLM-L6-v2's frozen bottom blocks once over every text and cache
   the token states (float16, variable length, under ``/tmp``).
2. Fine-tune the top ``n_top`` blocks + mean pooling + two heads on the cache,
   jointly: a 28-label GoEmotions head with positive-class-weighted BCE (rare
   labels matter for macro-F1) and a 7-class common-space head with
   class-weighted cross-entropy on GoEmotions comments whose labels fall in one
   Ekman group plus MELD train.
3. Pick the epoch on GoEmotions dev + MELD dev, quantise the weights as shipped,
   tune the 28 per-label thresholds on GoEmotions dev with the shipped weights.
4. :func:`evaluate` runs the shipped recogniser (full text path, no cache) on the
   official test splits, once.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

from emoguide.evaluation.metrics import ClassificationReport, classification_report
from emoguide.labels import LABELS, NUM_CLASSES
from emoguide.recognition.base import WEIGHTS_DIR, save_weights, sha256_of
from emoguide.recognition.text.classifier import TextEmotionHead, pack, unpack
from emoguide.recognition.text.data import TextSplit, goemotions_labels, read_all, read_goemotions, read_meld
from emoguide.recognition.text.encoder import MAX_LEN, MiniLMEncoder, model_dir

log = logging.getLogger(__name__)
DEFAULT_DATA = Path(os.environ.get("EMOGUIDE_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))
CACHE_DIR = Path(os.environ.get("EMOGUIDE_TEXT_CACHE", "/tmp/emoguide_text_cache"))


# ---------------------------------------------------------------- bottom-state cache
def cached_bottom(encoder: MiniLMEncoder, split: TextSplit, n_bottom: int) -> tuple[torch.Tensor, np.ndarray]:
    """Flat float16 token states (T, 384) and offsets (N+1,) of ``split`` after ``n_bottom`` blocks."""
    base = sha256_of(model_dir() / "model.safetensors")[:12]
    key = hashlib.sha256(f"{base}|{n_bottom}|{MAX_LEN}|{len(split.texts)}|{split.texts[:3]}".encode()).hexdigest()[:12]
    path = CACHE_DIR / f"{split.corpus}_{split.split}_{key}.pt"
    if path.is_file():
        blob = torch.load(path, weights_only=True)
        return blob["states"], blob["offsets"].numpy()
    chunks: list[torch.Tensor | None] = [None] * len(split.texts)
    with torch.inference_mode():
        for idx, enc in encoder.iter_batches(split.texts, 128):
            states = encoder.bottom_states(enc["input_ids"], enc["attention_mask"], n_bottom).half().cpu()
            lengths = enc["attention_mask"].sum(1).tolist()
            for row, i in enumerate(idx):
                chunks[i] = states[row, : lengths[row]].clone()
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
    states = torch.cat(chunks)  # type: ignore[arg-type]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    torch.save({"states": states, "offsets": torch.from_numpy(offsets)}, path)
    log.info("cached %s/%s: %d texts, %d tokens", split.corpus, split.split, len(chunks), len(states))
    return states, offsets


def padded(states: torch.Tensor, offsets: np.ndarray, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L, H) float32 batch and its (B, L) mask from the flat cache."""
    lengths = offsets[rows + 1] - offsets[rows]
    out = torch.zeros(len(rows), int(lengths.max()), states.shape[1])
    mask = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
    for b, (r, n) in enumerate(zip(rows, lengths)):
        out[b, :n] = states[offsets[r] : offsets[r] + n].float()
        mask[b, :n] = 1
    return out, mask


def cached_predict(head: TextEmotionHead, states: torch.Tensor, offsets: np.ndarray, batch: int = 256):
    """(probs28, probs7) for every text of a cached split."""
    head.eval()
    n = len(offsets) - 1
    order = np.argsort(offsets[1:] - offsets[:-1], kind="stable")
    p28 = np.zeros((n, head.head28.out_features), dtype=np.float32)
    p7 = np.zeros((n, NUM_CLASSES), dtype=np.float32)
    with torch.inference_mode():
        for s in range(0, n, batch):
            rows = order[s : s + batch]
            x, m = padded(states, offsets, rows)
            l28, l7 = head(x, m)
            p28[rows], p7[rows] = torch.sigmoid(l28).numpy(), torch.softmax(l7, -1).numpy()
    return p28, p7


# ---------------------------------------------------------------- metrics helpers
def tune_thresholds(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-label threshold maximising that label's F1 (grid 0.02..0.95)."""
    grid = np.arange(0.02, 0.96, 0.01)
    best = np.full(y.shape[1], 0.5, dtype=np.float32)
    for j in range(y.shape[1]):
        f1s = [f1_score(y[:, j], p[:, j] >= t, zero_division=0) for t in grid]
        best[j] = grid[int(np.argmax(f1s))]
    return best


def multilabel_macro_f1(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> float:
    return float(f1_score(y, p >= thresholds, average="macro", zero_division=0))


def single7(split: TextSplit, probs7: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = split.y7 >= 0
    return split.y7[keep], probs7[keep]


# ---------------------------------------------------------------- training
def _batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length (sorted within random pools of 50 batches)."""
    perm = rng.permutation(len(lengths))
    out = []
    pool = batch * 50
    for s in range(0, len(perm), pool):
        chunk = perm[s : s + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out.extend(chunk[i : i + batch] for i in range(0, len(chunk), batch))
    rng.shuffle(out)
    return out


def train(data_dir: Path = DEFAULT_DATA, n_top: int = 2, epochs: int = 2, batch: int = 32, lr: float = 8e-5,
          head_lr: float = 2e-3, meld_weight: float = 3.0, threads: int = 1, seed: int = 0,
          limit: int | None = None, out: Path | None = None) -> Path:
    """Fine-tune, choose on dev, save weights + checksum; returns the weight file path."""
    t0 = time.time()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data_dir = Path(data_dir)
    labels28 = goemotions_labels(data_dir)
    splits = {k: v for k, v in read_all(data_dir).items() if k[1] != "test"}
    if limit:
        splits = {k: TextSplit(v.corpus, v.split, v.texts[:limit], v.y7[:limit], None if v.multi is None else v.multi[:limit])
                  for k, v in splits.items()}
    encoder = MiniLMEncoder("cpu")
    n_bottom = len(encoder.layers) - n_top
    cache = {k: cached_bottom(encoder, v, n_bottom) for k, v in splits.items()}
    log.info("bottom-state cache ready after %.0fs", time.time() - t0)

    # one flat training set: GoEmotions train then MELD train
    ge, me = splits[("goemotions", "train")], splits[("meld", "train")]
    states = torch.cat([cache[("goemotions", "train")][0], cache[("meld", "train")][0]])
    off_ge, off_me = cache[("goemotions", "train")][1], cache[("meld", "train")][1]
    offsets = np.concatenate([off_ge, off_me[1:] + off_ge[-1]])
    n_ge = len(ge.texts)
    multi = np.concatenate([ge.multi, np.zeros((len(me.texts), len(labels28)), np.float32)])
    has_multi = np.r_[np.ones(n_ge, bool), np.zeros(len(me.texts), bool)]
    y7 = np.concatenate([ge.y7, me.y7])
    w_row = np.r_[np.ones(n_ge), np.full(len(me.texts), meld_weight)].astype(np.float32)
    lengths = offsets[1:] - offsets[:-1]

    pos = ge.multi.sum(0)
    pos_weight = torch.tensor(np.clip(np.sqrt((n_ge - pos) / np.maximum(pos, 1)), 1.0, 30.0), dtype=torch.float32)
    counts7 = np.bincount(y7[y7 >= 0], minlength=NUM_CLASSES).astype(np.float64)
    cw7 = (counts7.sum() / np.maximum(counts7, 1)) ** 0.5
    cw7 = torch.tensor(cw7 / (cw7 * counts7).sum() * counts7.sum(), dtype=torch.float32)
    log.info("7-class counts %s, weights %s", counts7.astype(int).tolist(), np.round(cw7.numpy(), 2).tolist())

    base_top = list(encoder.layers[n_bottom:])
    head = TextEmotionHead(base_top, n_multi=len(labels28)).requires_grad_(True)
    opt = torch.optim.AdamW([{"params": head.top.parameters(), "lr": lr},
                             {"params": list(head.head28.parameters()) + list(head.head7.parameters()), "lr": head_lr}],
                            weight_decay=0.01)
    steps = epochs * int(np.ceil(len(lengths) / batch))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none")
    ce = torch.nn.CrossEntropyLoss(weight=cw7, reduction="none", ignore_index=-1)

    best, best_score = None, -1.0
    for epoch in range(epochs):
        head.train()
        te, total = time.time(), 0.0
        for i, rows in enumerate(_batches(lengths, batch, rng)):
            x, m = padded(states, offsets, rows)
            l28, l7 = head(x, m)
            hm = torch.from_numpy(has_multi[rows])
            loss28 = bce(l28, torch.from_numpy(multi[rows])).mean(1)
            loss28 = (loss28 * hm).sum() / hm.sum().clamp(min=1)
            target7 = torch.from_numpy(y7[rows])
            loss7 = (ce(l7, target7) * torch.from_numpy(w_row[rows])).sum() / (target7 >= 0).sum().clamp(min=1)
            loss = loss28 + loss7
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach())
            if i % 200 == 0:
                log.info("epoch %d step %d loss %.4f (%.0fs)", epoch, i, total / (i + 1), time.time() - te)
        score, msg = _dev_score(head, splits, cache)
        log.info("epoch %d done in %.0fs: %s", epoch, time.time() - te, msg)
        if score > best_score:
            best_score, best = score, {k: v.detach().clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best)

    # quantise exactly as shipped, then tune thresholds with the shipped weights
    blob = pack(head, base_top, np.full(len(labels28), 0.5), labels28, {})
    shipped = unpack(blob, base_top)
    p28, _ = cached_predict(shipped, *cache[("goemotions", "dev")])
    thresholds = tune_thresholds(splits[("goemotions", "dev")].multi, p28)
    score, msg = _dev_score(shipped, splits, cache, thresholds)
    log.info("shipped weights on dev: %s", msg)
    blob["thresholds28"] = torch.as_tensor(thresholds)
    blob["meta"] = {"n_top": str(n_top), "epochs": str(epochs), "batch": str(batch), "lr": str(lr), "head_lr": str(head_lr),
                    "meld_weight": str(meld_weight), "seed": str(seed), "limit": str(limit), "dev": msg,
                    "train_minutes": f"{(time.time() - t0) / 60:.1f}",
                    "base_model_sha256": sha256_of(model_dir() / "model.safetensors")}
    out = Path(out) if out else WEIGHTS_DIR / "text_emotion.pt"
    save_weights(blob, out)
    log.info("saved %s (%.1f MB) after %.1f min", out, out.stat().st_size / 1e6, (time.time() - t0) / 60)
    return out


def calibrate_bias7(weights: Path, data_dir: Path = DEFAULT_DATA, rounds: int = 3) -> np.ndarray:
    """Shift the 7-class head's biases to balance both dev sets; rewrite ``weights`` in place.

    Training uses class-weighted cross-entropy, which over-predicts rare classes on
    MELD (half its utterances are neutral). Seven logit offsets, chosen by coordinate
    ascent on MELD dev weighted-F1 + GoEmotions dev Ekman macro-F1 (dev only), trade
    the two off; they are folded into ``head7.bias`` so inference is unchanged.
    """
    blob = torch.load(weights, map_location="cpu", weights_only=True)
    encoder = MiniLMEncoder("cpu")
    n_bottom = len(encoder.layers) - int(blob["n_top"])
    head = unpack(blob, list(encoder.layers[n_bottom:]))
    ge, me = read_goemotions(Path(data_dir), "dev"), read_meld(Path(data_dir), "dev")
    y_ge, p_ge = single7(ge, cached_predict(head, *cached_bottom(encoder, ge, n_bottom))[1])
    p_me = cached_predict(head, *cached_bottom(encoder, me, n_bottom))[1]
    l_ge, l_me = np.log(p_ge + 1e-9), np.log(p_me + 1e-9)

    def score(off: np.ndarray) -> float:
        return float(f1_score(me.y7, (l_me + off).argmax(1), average="weighted", zero_division=0)
                     + f1_score(y_ge, (l_ge + off).argmax(1), average="macro", zero_division=0))

    off = np.zeros(NUM_CLASSES)
    best = score(off)
    start = best
    for _ in range(rounds):
        for c in range(NUM_CLASSES):
            for v in np.arange(-2.0, 2.01, 0.1):
                trial = off.copy()
                trial[c] = v
                s = score(trial)
                if s > best + 1e-6:
                    best, off = s, trial
    off -= off.mean()
    bias = blob["heads"]["head7.bias"].float() + torch.tensor(off, dtype=torch.float32)
    blob["heads"]["head7.bias"] = bias.half()
    ek = classification_report("ekman dev", y_ge, np.exp(l_ge + off), LABELS)
    md = classification_report("meld dev", me.y7, np.exp(l_me + off), LABELS)
    blob["meta"]["bias7"] = ", ".join(f"{c} {o:+.1f}" for c, o in zip(LABELS, off))
    blob["meta"]["dev_calibrated"] = (f"Ekman-7 macro-F1 {ek.macro_f1:.3f} acc {ek.accuracy:.3f} | "
                                      f"MELD weighted-F1 {md.weighted_f1:.3f} acc {md.accuracy:.3f}")
    save_weights(blob, Path(weights))
    log.info("7-class offsets %s: dev score %.3f -> %.3f (%s)", blob["meta"]["bias7"], start, best,
             blob["meta"]["dev_calibrated"])
    return off


def _dev_score(head, splits, cache, thresholds=None) -> tuple[float, str]:
    """Selection score on dev: GoEmotions 28-label macro-F1 (dev-tuned thresholds) + MELD weighted-F1."""
    ge = splits[("goemotions", "dev")]
    p28, p7 = cached_predict(head, *cache[("goemotions", "dev")])
    th = tune_thresholds(ge.multi, p28) if thresholds is None else thresholds
    f28 = multilabel_macro_f1(ge.multi, p28, th)
    ek = classification_report("ekman dev", *single7(ge, p7), LABELS)
    _, pm = cached_predict(head, *cache[("meld", "dev")])
    md = classification_report("meld dev", splits[("meld", "dev")].y7, pm, LABELS)
    msg = (f"GoEmotions-28 macro-F1 {f28:.3f} | Ekman-7 macro-F1 {ek.macro_f1:.3f} acc {ek.accuracy:.3f} | "
           f"MELD weighted-F1 {md.weighted_f1:.3f} acc {md.accuracy:.3f}")
    return f28 + md.weighted_f1, msg


# ---------------------------------------------------------------- evaluation (shipped weights, test splits)
def goemotions28_macro_f1(recogniser, split: TextSplit) -> tuple[float, dict[str, float]]:
    """Macro-F1 over the 27 emotions + neutral with the weights' dev-tuned thresholds."""
    _, p28 = recogniser.probabilities(split.texts)
    pred = p28 >= recogniser.thresholds28
    per = f1_score(split.multi, pred, average=None, zero_division=0)
    return float(per.mean()), dict(zip(recogniser.labels28, map(float, per)))


def evaluate(data_dir: Path = DEFAULT_DATA) -> list[ClassificationReport]:
    """Test-split reports with the shipped weights: GoEmotions Ekman-7 (28-label macro-F1 in its notes), MELD-7."""
    from emoguide.recognition.text.recogniser import TextRecogniser

    rec = TextRecogniser.load(device=None)
    ge, me = read_goemotions(Path(data_dir), "test"), read_meld(Path(data_dir), "test")
    f28, per = goemotions28_macro_f1(rec, ge)
    p7_ge, _ = rec.probabilities(ge.texts)
    ek = classification_report("GoEmotions test, Ekman-mapped single-group comments (7-class)", *single7(ge, p7_ge), LABELS)
    ek.notes.insert(0, f"GoEmotions 27+neutral multi-label macro-F1 (test, dev-tuned thresholds): {f28:.4f}")
    ek.notes.insert(1, "per-label F1: " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
    p7_me, _ = rec.probabilities(me.texts)
    md = classification_report("MELD test, utterance text only (7-class)", me.y7, p7_me, LABELS)
    log.info("GoEmotions 28-label macro-F1 %.4f", f28)
    return [ek, md]


def speed(n: int = 512, threads: int = 2, data_dir: Path = DEFAULT_DATA) -> float:
    """Sentences per second of ``TextRecogniser.predict`` on GoEmotions test comments (CPU)."""
    from emoguide.recognition.text.recogniser import TextRecogniser

    torch.set_num_threads(threads)
    rec = TextRecogniser.load(device="cpu")
    texts = read_goemotions(Path(data_dir), "test").texts[:n]
    rec.predict(texts[:64])
    t = time.time()
    rec.predict(texts)
    return n / (time.time() - t)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-top", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a loaded machine)")
    parser.add_argument("--meld-weight", type=float, default=3.0, help="loss weight of MELD rows (3 chosen on dev)")
    parser.add_argument("--limit", type=int, default=None, help="smoke test: first N texts per split, no card")
    parser.add_argument("--eval-only", action="store_true")
    parser.add_argument("--calibrate-only", action="store_true", help="redo the 7-class bias calibration, then eval")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.calibrate_only:
        calibrate_bias7(WEIGHTS_DIR / "text_emotion.pt", args.data)
    elif not args.eval_only:
        out = train(args.data, n_top=args.n_top, epochs=args.epochs, threads=args.threads,
                    meld_weight=args.meld_weight, limit=args.limit,
                    out=Path("/tmp/text_emotion_smoke.pt") if args.limit else None)
        calibrate_bias7(out, args.data)
        if args.limit:
            return
    torch.set_num_threads(args.threads)
    reports = evaluate(args.data)
    for r in reports:
        print(r.format(), "\n")
    sps = speed(threads=args.threads, data_dir=args.data)
    print(f"speed: {sps:.0f} sentences/s (CPU, {args.threads} threads)")
    from emoguide.recognition.text.card import write_card

    write_card(reports, sps, args.threads)


if __name__ == "__main__":
    main()
