"""Voice inference cost of the shipped encoder path vs the one before it (issues #7, #8).

The shipped heads read layer 2 of our PyTorch Whisper encoder on the clip's real
length (``LayeredBackbone`` without the last layer); before, every window also
needed CTranslate2's last layer, which pads each 30 s chunk. Timing only: the
"before" row feeds last-layer frames to today's heads, so its outputs mean nothing.

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
from emoguide.pipeline.huge_page_heap import restart_with_huge_pages
from emoguide.recognition.voice.recogniser import VoiceRecogniser
from emoguide.recognition.voice.whisper_torch import LayeredBackbone

CLIP = Path(__file__).resolve().parent.parent / "examples" / "media" / "cremad_1001_DFA_angry.mp4"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    restart_with_huge_pages()  # the heap the emoguide command runs with (pipeline/huge_page_heap.py)
    torch.set_num_threads(args.threads)
    voice = VoiceRecogniser.load("cpu")
    layered = voice.backbone if isinstance(voice.backbone, LayeredBackbone) else LayeredBackbone(voice.backbone, 2)
    short = read_audio_range(CLIP, 0, 2.5)
    long = np.tile(short, int(np.ceil(60 / 2.5)))[: 60 * 16000]
    for name, audio in (("2.5 s clip", short), ("60 s speech", long)):
        n = len(audio) / 16000
        starts = np.arange(0, max(n - 2.0, 0) + 1e-9, 1.0)
        ends = np.minimum(starts + 2.0, n)
        times = {"ct2 last layer (before)": [], "torch layer 2 (shipped)": []}
        for _ in range(args.repeats + 1):  # first round warms both up and is dropped
            for label, backbone in (("ct2 last layer (before)", layered.base), ("torch layer 2 (shipped)", layered)):
                voice.backbone = backbone
                t = time.perf_counter()
                voice.analyze_audio(audio, starts, ends)
                times[label].append(time.perf_counter() - t)
        med = {k: statistics.median(v[1:]) for k, v in times.items()}
        ratio = med["torch layer 2 (shipped)"] / med["ct2 last layer (before)"]
        print(f"{name}: analyze_audio " + "  ".join(f"{k} {v:.3f} s" for k, v in med.items()) + f"  ratio {ratio:.2f}x")
        words = []  # the pipeline also transcribes every clip with speech (CTranslate2, unchanged)
        for _ in range(args.repeats):
            t = time.perf_counter()
            voice.transcribe(audio)
            words.append(time.perf_counter() - t)
        w = statistics.median(words)
        before, shipped = med["ct2 last layer (before)"], med["torch layer 2 (shipped)"]
        print(f"{name}: with transcription {before + w:.3f} s -> {shipped + w:.3f} s  ratio "
              f"{(shipped + w) / (before + w):.2f}x")


if __name__ == "__main__":
    main()
