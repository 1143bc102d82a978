"""Late fusion and the disagreement score on constructed modality results."""

from __future__ import annotations

import numpy as np
import pytest

from emoguide.labels import LABEL_INDEX, NUM_CLASSES, VAD_MATRIX
from emoguide.recognition.base import ModalityResult
from emoguide.recognition.fusion import ReliabilityLateFusion, js_divergence


def onehot(label, n=1, p=0.9):
    probs = np.full((n, NUM_CLASSES), (1 - p) / (NUM_CLASSES - 1), dtype=np.float32)
    probs[:, LABEL_INDEX[label]] = p
    return probs


def result(label, present=True, reliability=1.0, n=1):
    return ModalityResult(probs=onehot(label, n), confidence=np.full(n, 0.9, np.float32),
                          present=np.full(n, present), reliability=np.full(n, reliability, np.float32))


def test_missing_modality_is_ignored_not_averaged_in():
    fused = ReliabilityLateFusion().fuse({"face": result("happy"), "voice": ModalityResult.absent(1)})
    assert fused.probs[0].argmax() == LABEL_INDEX["happy"]
    assert fused.contributions["face"][0] == pytest.approx(1.0)
    assert fused.contributions["voice"][0] == 0.0


def test_nothing_present_gives_uniform_zero_confidence():
    fused = ReliabilityLateFusion().fuse({"face": ModalityResult.absent(2), "voice": ModalityResult.absent(2)})
    assert np.allclose(fused.probs, 1 / NUM_CLASSES)
    assert np.all(fused.confidence == 0)
    assert np.allclose(fused.vad, 0.0)


def test_reliability_shifts_the_weights():
    fused = ReliabilityLateFusion().fuse({"face": result("happy", reliability=0.2), "voice": result("sad", reliability=1.0)})
    assert fused.probs[0].argmax() == LABEL_INDEX["sad"]
    assert fused.contributions["voice"][0] > fused.contributions["face"][0]


def test_disagreement_flags_smiling_face_over_sad_voice():
    agree = ReliabilityLateFusion().fuse({"face": result("sad"), "voice": result("sad")})
    clash = ReliabilityLateFusion().fuse({"face": result("happy"), "voice": result("sad")})
    assert agree.disagreement[0] < 0.05
    assert clash.disagreement[0] > 0.5
    assert clash.disagreeing_pair[0] == "face~voice"


def test_neutral_words_do_not_contradict_an_emotional_voice():
    calm_words = ReliabilityLateFusion().fuse({"voice": result("angry"), "text": result("neutral")})
    assert calm_words.disagreement[0] < 0.1


def test_vad_from_norms_when_no_modality_learned_it():
    fused = ReliabilityLateFusion().fuse({"face": result("angry")})
    expected = fused.probs[0] @ VAD_MATRIX
    assert np.allclose(fused.vad[0], expected, atol=1e-5)
    assert fused.vad_source == "norms"


def test_js_divergence_bounds():
    p = onehot("happy", p=1.0)
    q = onehot("sad", p=1.0)
    assert js_divergence(p, p)[0] == pytest.approx(0.0, abs=1e-6)
    assert js_divergence(p, q)[0] == pytest.approx(1.0, abs=1e-3)
