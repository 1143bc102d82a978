"""Learned valence/arousal heads: ``emoguide train vad`` and ``emoguide eval --task vad``.

Two small heads, each where a labelled signal exists (issue #3: "learned VAD where
labels exist, otherwise category norms; say which"):

* **voice** (``voice_affect.pt``): valence + arousal = the voice classifier's
  category norms shifted by a learned P(strong intensity) (RAVDESS labels; target
  and model in :mod:`emoguide.training.vad_voice`), on the classifier's own
  features; actors 01-16 train, 17-20 choose, 21-24 test. A 12-clip CREMA-D check
  (other corpus, intensity unspecified) is printed beside it.
* **text** (``text_valence.pt``): valence from MELD's sentiment labels
  (:mod:`emoguide.training.vad_text`), official train/dev/test.

Dominance (both) and text arousal stay on category norms. Every comparison is
against the norms-only VAD the engine produced before, on the same held-out
people and utterances.

    python -m emoguide.training.vad --data ../shared/data    # ≈ 2 min once the voice/text caches exist
    python -m emoguide.training.vad --data ../shared/data --voice-only   # leaves text_valence.pt as it is
    emoguide eval --task vad --data ../shared/data
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from emoguide.recognition.base import WEIGHTS_DIR, sha256_of, verified_weights

log = logging.getLogger(__name__)
DEFAULT_DATA = Path("../shared/data")


def _text_recogniser():
    import torch

    from emoguide.recognition.text.recogniser import TextRecogniser

    torch.set_num_threads(1)
    return TextRecogniser.load(device="cpu")


def _voice_data(data_dir: Path):
    """``(classifier, data with its probabilities)``: RAVDESS pooled as the shipped emotion head reads it."""
    from emoguide.recognition.voice.classifier import load_head
    from emoguide.training import vad_voice

    classifier = load_head(verified_weights("voice_emotion.pt"))
    data = vad_voice.dataset(data_dir, classifier.encoder_layer)
    return classifier, vad_voice.add_probs(data, classifier)


def train(data_dir: Path, out_dir: Path = WEIGHTS_DIR, seeds: int = 5, text: bool = True) -> dict[str, str]:
    """Fit the voice intensity model (and the text head unless ``text=False``), write them (and their
    checksums when ``out_dir`` is the shipped folder)."""
    from emoguide.recognition.voice.affect import WEIGHTS_FILE as AFFECT_FILE
    from emoguide.recognition.voice.affect import save_affect
    from emoguide.training import vad_voice

    out_dir = Path(out_dir)
    classifier, data = _voice_data(data_dir)
    heads, info = vad_voice.train(data, seeds=seeds)
    voice_path = out_dir / AFFECT_FILE
    emotion_sha = sha256_of(verified_weights("voice_emotion.pt"))
    save_affect(heads, voice_path, {**info, "date": time.strftime("%Y-%m-%d"), "voice_emotion_sha256": emotion_sha,
                                    "target": f"arousal norm ±{vad_voice.AROUSAL_SHIFT}, valence norm ×(1±"
                                              f"{vad_voice.VALENCE_SCALE}) by RAVDESS intensity"},
                encoder_layer=classifier.encoder_layer)  # the classifier's features: one pooling serves both
    out = {"voice": str(voice_path), "voice_config": str(info["config"])}
    if text:
        from emoguide.recognition.text.recogniser import WEIGHTS_FILE as TEXT_FILE
        from emoguide.recognition.text.valence import WEIGHTS_FILE as VALENCE_FILE
        from emoguide.recognition.text.valence import save_head
        from emoguide.training import vad_text

        rec = _text_recogniser()
        head, tinfo = vad_text.train(rec, data_dir)
        text_path = out_dir / VALENCE_FILE
        save_head(head, text_path, sha256_of(verified_weights(TEXT_FILE)),
                  {**tinfo, "date": time.strftime("%Y-%m-%d")})
        out.update(text=str(text_path), text_l2=str(tinfo["l2"]))
    return out


# ------------------------------------------------------------------ evaluate
def _fmt_voice(title: str, res: dict) -> str:
    lines = [f"== {title} (n={res['n']})",
             f"{'method':50s} {'MSE V':>7s} {'MSE A':>7s} {'rho(A,int)':>10s} {'AUC':>6s} {'AUC|emo':>7s}"]
    for name, r in res["rows"].items():
        lines.append(f"{name:50s} {r['mse_valence']:7.4f} {r['mse_arousal']:7.4f} {r['spearman']:10.3f} "
                     f"{r['auc']:6.3f} {r['auc_within_emotion']:7.3f}")
    lines.append("target: true category's norm, arousal ±0.15 and valence ×(1±0.25) by labelled intensity "
                 "(neutral/calm: the norm). rho = Spearman of arousal with strong (1) vs normal (0), AUC = "
                 "strong vs normal by arousal, AUC|emo = the same within each emotion, averaged; all on "
                 "non-neutral clips")
    return "\n".join(lines)


def _fmt_text(res: dict) -> str:
    lines = [f"== text valence: MELD test utterances (n={res['n']}), target sentiment -1/0/+1",
             f"{'method':40s} {'MSE V':>7s} {'Pearson r':>9s}"]
    for name, r in res["rows"].items():
        lines.append(f"{name:40s} {r['mse']:7.4f} {r['pearson']:9.3f}")
    lines.append(f"learned valence has the right sign on {res['sign_accuracy_nonneutral']:.1%} of non-neutral "
                 "test utterances")
    return "\n".join(lines)


def crema_check(data_dir: Path, voice, details: dict | None = None) -> str:
    """12 CREMA-D clips (actors 1001/1002, intensity unspecified): MSE vs category norms, ρ with crowd level."""
    import csv

    from scipy.stats import spearmanr

    from emoguide.labels import LABEL_INDEX, VAD_MATRIX, to_common, vad_from_probs
    from emoguide.training.voice_data import read_clip

    root = Path(data_dir) / "crema_d_sample"
    levels = {}
    with open(root / "summaryTable.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            levels[row["FileName"]] = float(row["VoiceLevel"].split(":")[0])
    learned, norms, target, level = [], [], [], []
    for wav in sorted((root / "AudioWAV16k").glob("*.wav")):
        audio = read_clip(wav)
        res = voice.analyze_audio(audio, np.array([0.0]), np.array([len(audio) / 16000.0]))
        learned.append(res.vad[0, :2] if res.vad is not None else vad_from_probs(res.probs)[0, :2])
        norms.append(vad_from_probs(res.probs)[0, :2])
        target.append(VAD_MATRIX[LABEL_INDEX[to_common("crema_d", wav.stem.split("_")[2])], :2])
        level.append(levels.get(wav.stem, np.nan))
    learned, norms, target, level = map(np.array, (learned, norms, target, level))
    lines = [f"== voice on CREMA-D sample (n={len(target)} clips, actors 1001/1002; intensity XX = unspecified, "
             "so the target is the true category's norm)",
             f"{'method':50s} {'MSE V':>7s} {'MSE A':>7s} {'rho(A, crowd VoiceLevel)':>25s}"]
    for name, pred in (("learned (norms + RAVDESS intensity shift)", learned),
                       ("category norms of the voice classifier's probs", norms)):
        err = (pred - target) ** 2
        rho = spearmanr(pred[:, 1], level)[0]
        lines.append(f"{name:50s} {err[:, 0].mean():7.4f} {err[:, 1].mean():7.4f} {rho:25.3f}")
        if details is not None:
            details.setdefault("crema", {})[name] = {"mse_valence": float(err[:, 0].mean()),
                                                     "mse_arousal": float(err[:, 1].mean()), "n": len(target)}
    lines.append("12 clips of 2 speakers: a cross-corpus sanity check, not a measurement")
    return "\n".join(lines)


def evaluate(data_dir: Path = DEFAULT_DATA, crema: bool = True, details: dict | None = None) -> list[str]:
    """Held-out comparisons with the shipped heads (checksums verified): voice test actors, MELD test, CREMA-D.

    ``details``, when given, receives the voice comparisons as numbers (``"test"``, ``"val"``, ``"crema"``)
    for the card."""
    import torch

    from emoguide.recognition.text.valence import WEIGHTS_FILE as VALENCE_FILE
    from emoguide.recognition.text.valence import load_head as load_valence
    from emoguide.recognition.voice.affect import WEIGHTS_FILE as AFFECT_FILE
    from emoguide.recognition.voice.affect import load_affect
    from emoguide.training import vad_text, vad_voice
    from emoguide.training.voice_data import TEST_ACTORS, VAL_ACTORS

    torch.set_num_threads(1)
    data_dir = Path(data_dir)
    affect = load_affect(verified_weights(AFFECT_FILE))
    classifier, data = _voice_data(data_dir)
    layer = classifier.encoder_layer
    if affect.encoder_layer != layer:
        raise RuntimeError(f"{AFFECT_FILE} reads encoder layer {affect.encoder_layer}, voice_emotion.pt {layer}: "
                           "retrain the affect head")
    used = (f"voice_emotion.pt sha256 {sha256_of(verified_weights('voice_emotion.pt'))[:12]}… and {AFFECT_FILE} "
            f"sha256 {sha256_of(verified_weights(AFFECT_FILE))[:12]}…, both on encoder layer "
            f"{'CTranslate2 last' if layer is None else layer}")
    test, val = vad_voice.compare(data, affect, TEST_ACTORS), vad_voice.compare(data, affect, VAL_ACTORS)
    if details is not None:
        details.update(test=test, val=val)
    out = [_fmt_voice("voice valence/arousal: RAVDESS test actors 21-24", test) + "\n" + used,
           _fmt_voice("(for reference) validation actors 17-20, used to choose the configuration", val)]
    rec = _text_recogniser()
    head, _ = load_valence(verified_weights(VALENCE_FILE))
    out.append(_fmt_text(vad_text.compare(rec, head, data_dir)))
    if crema and (data_dir / "crema_d_sample").is_dir():
        from emoguide.recognition.voice.recogniser import VoiceRecogniser

        out.append(crema_check(data_dir, VoiceRecogniser.load("cpu"), details))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--eval-only", action="store_true")
    p.add_argument("--voice-only", action="store_true", help="retrain voice_affect.pt only, keep text_valence.pt")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    t0 = time.time()
    if not args.eval_only:
        print(train(args.data, seeds=args.seeds, text=not args.voice_only))
    details: dict = {}
    results = evaluate(args.data, details=details)
    for block in results:
        print(block, "\n")
    from emoguide.training.vad_card import write_card

    print(f"wrote {write_card(results, details)}  ({(time.time() - t0) / 60:.1f} min)")


if __name__ == "__main__":
    main()
