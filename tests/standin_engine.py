"""A stand-in Engine for pipeline plumbing tests: it reads the generated frames' own indices.

Not a model: the "face" recogniser reports which frame numbers it was given
(decoded from the pattern media_fixtures draws), so tests can prove the
pipeline decoded exactly the frames the timeline uses. Real models are tested
in their own test files and in the end-to-end CLI test.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from media_fixtures import read_frame_index

from emoguide.labels import NUM_CLASSES
from emoguide.pipeline.engine import Engine
from emoguide.recognition.base import ModalityResult, RecogniserSpec
from emoguide.recognition.fusion import ReliabilityLateFusion


@dataclass
class IndexFrames:
    probs: np.ndarray
    present: np.ndarray
    reliability: np.ndarray
    index: np.ndarray


class IndexReadingFace:
    spec = RecogniserSpec("face", "standin", 2.0, 1.0, 4.0)

    def __init__(self):
        self.seen: list[int] = []
        self.arrived: list[int] = []
        self.intervals: list[int] = []  # detect_every of each chunk
        self.detector = SimpleNamespace(from_table=True)  # FaceDetector's switch, read by bench_analyze --ab-table
        self.from_table: list[bool] = []  # the switch's setting at each chunk

    def detect_arrived(self, frames, detect_every, detections):
        self.arrived.append(len(frames))  # how much of the chunk was in each time the pipeline offered it

    def analyze_frames(self, frames, times, detect_every=1, every_frame=False, detections=None):
        idx = np.array([read_frame_index(f) for f in frames])
        self.seen.extend(idx.tolist())
        self.intervals.append(detect_every)
        self.from_table.append(self.detector.from_table)
        probs = np.full((len(frames), NUM_CLASSES), 0.05, np.float32)
        probs[:, 1] = 0.7  # "happy" everywhere: the plumbing, not the model, is under test
        return IndexFrames(probs, np.ones(len(frames), bool), np.ones(len(frames), np.float32), idx)

    def aggregate(self, frames, times, starts, ends):
        n = len(starts)
        probs = np.tile(frames.probs[:1], (n, 1))
        return ModalityResult(probs=probs, confidence=np.full(n, 0.7, np.float32), present=np.ones(n, bool),
                              reliability=np.ones(n, np.float32))

    def spot(self, frames, times):
        return []


class SilentVoice:
    spec = RecogniserSpec("voice", "standin", 2.0, 1.0, 16000)

    def __init__(self):
        self.samples = 0

    def analyze_audio(self, audio, starts, ends):
        self.samples += len(audio)
        return ModalityResult.absent(len(starts))

    def transcribe(self, audio):
        return []


def standin_engine() -> Engine:
    engine = Engine(device="cpu")
    engine.recognisers = {"face": IndexReadingFace(), "voice": SilentVoice()}
    engine.fusion = ReliabilityLateFusion()
    return engine
