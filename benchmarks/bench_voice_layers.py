"""Voice inference cost of the layer-2 emotion head (issue #8): CTranslate2 frames only vs + PyTorch layer 2.

Runs ``VoiceRecogniser.analyze_audio`` on a short clip and on 60 s of speech
(the demo's CREMA-D clip repeated), alternating the two backbones so load from
other jobs hits both alike, and prints the median time of each and the ratio,
alone and with the transcription the pipeline runs on the same audio.

    python benchmarks/bench_voice_layers.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from emoguide.media.audio import read_audio_range
from emoguide.recognition.voice.recogniser import VoiceRecogniser
from emoguide.recognition.voice.whisper_torch import LayeredBackbone

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "cremad_1001_DFA_angry.mp4"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    voice = VoiceRecogniser.load("cpu")
    layered = voice.backbone if isinstance(voice.backbone, LayeredBackbone) else LayeredBackbone(voice.backbone, 2)
    short = read_audio_range(CLIP, 0, 2.5)
    long = np.tile(short, int(np.ceil(60 / 2.5)))[: 60 * 16000]
    for name, audio in (("2.5 s clip", short), ("60 s speech", long)):
        n = len(audio) / 16000
        starts = np.arange(0, max(n - 2.0, 0) + 1e-9, 1.0)
        ends = np.minimum(starts + 2.0, n)
        times = {"ct2 last layer only": [], "ct2 + torch layer 2": []}
        for _ in range(args.repeats + 1):  # first round warms both up and is dropped
            for label, backbone in (("ct2 last layer only", layered.base), ("ct2 + torch layer 2", layered)):
                voice.backbone = backbone
                t = time.perf_counter()
                voice.analyze_audio(audio, starts, ends)
                times[label].append(time.perf_counter() - t)
        med = {k: statistics.median(v[1:]) for k, v in times.items()}
        ratio = med["ct2 + torch layer 2"] / med["ct2 last layer only"]
        print(f"{name}: analyze_audio " + "  ".join(f"{k} {v:.3f} s" for k, v in med.items()) + f"  ratio {ratio:.2f}x")
        words = []  # the pipeline also transcribes every clip with speech (CTranslate2, unchanged)
        for _ in range(args.repeats):
            t = time.perf_counter()
            voice.transcribe(audio)
            words.append(time.perf_counter() - t)
        w = statistics.median(words)
        print(f"{name}: with transcription {med['ct2 last layer only'] + w:.3f} s -> "
              f"{med['ct2 + torch layer 2'] + w:.3f} s  ratio "
              f"{(med['ct2 + torch layer 2'] + w) / (med['ct2 last layer only'] + w):.2f}x")


if __name__ == "__main__":
    main()
