"""Learned valence/arousal: shipped heads verify and load, recognisers fill ``vad``, fusion names the source."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import EXAMPLES

from emoguide.labels import NUM_CLASSES, vad_from_probs
from emoguide.media.audio import read_audio_range
from emoguide.recognition import base
from emoguide.recognition.base import ModalityResult, WeightsError, verified_weights
from emoguide.recognition.fusion import ReliabilityLateFusion
from emoguide.recognition.text.valence import WEIGHTS_FILE as VALENCE_FILE
from emoguide.recognition.text.valence import load_head as load_valence
from emoguide.recognition.voice.affect import WEIGHTS_FILE as AFFECT_FILE
from emoguide.recognition.voice.affect import load_affect

SR = 16000


@pytest.fixture(scope="module")
def voice():
    from emoguide.recognition.voice.recogniser import VoiceRecogniser

    return VoiceRecogniser.load("cpu")


@pytest.fixture(scope="module")
def text():
    import torch

    from emoguide.recognition.text.recogniser import TextRecogniser

    torch.set_num_threads(1)
    return TextRecogniser.load(device="cpu")


@pytest.mark.parametrize("name", [AFFECT_FILE, VALENCE_FILE])
def test_shipped_heads_verify_and_a_flipped_byte_fails(name, tmp_path, monkeypatch):
    path = verified_weights(name)
    head = load_affect(path) if name == AFFECT_FILE else load_valence(path)[0]
    assert sum(p.numel() for p in head.parameters()) > 100
    sums = json.loads((base.WEIGHTS_DIR / "checksums.json").read_text())
    shutil.copy(path, tmp_path / name)
    (tmp_path / "checksums.json").write_text(json.dumps({name: sums[name]}))
    data = bytearray((tmp_path / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / name).write_bytes(bytes(data))
    monkeypatch.setattr(base, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsError, match="checksum"):
        verified_weights(name)


def test_voice_vad_is_learned_in_range_and_origin_when_silent(voice):
    assert voice.affect is not None and "+a" in voice.spec.version
    speech = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 2.0)
    audio = np.concatenate([speech, np.zeros(2 * SR, np.float32)])
    res = voice.analyze_audio(audio, np.array([0.0, 2.0]), np.array([2.0, 4.0]))
    np.testing.assert_array_equal(res.present, [True, False])
    assert res.vad.shape == (2, 3) and np.all(np.abs(res.vad) <= 1.0)
    np.testing.assert_array_equal(res.vad[1], 0.0)
    # learned valence/arousal are not the norms of the probabilities; dominance is
    assert not np.allclose(res.vad[0, :2], vad_from_probs(res.probs[0])[:2], atol=1e-4)
    assert res.vad[0, 2] == pytest.approx(float(vad_from_probs(res.probs[0])[2]), abs=1e-5)
    fused = ReliabilityLateFusion().fuse({"voice": res, "face": ModalityResult.absent(2)})
    assert fused.vad_source == "learned"  # the face found nothing, so nothing came from norms
    np.testing.assert_allclose(fused.vad[0], res.vad[0], atol=1e-5)


def test_text_valence_sign_and_absent_rows(text):
    assert text.valence_head is not None and "+v" in text.spec.version
    res = text.predict(["I love this, what a wonderful surprise!", "This is awful, I hate all of it.", ""])
    v = res.vad[:, 0]
    assert v[0] > 0.3 and v[1] < -0.3, v
    assert np.all(np.abs(res.vad) <= 1.0)
    np.testing.assert_array_equal(res.vad[2], 0.0)
    np.testing.assert_allclose(res.vad[:2, 1:], vad_from_probs(res.probs[:2])[:, 1:], atol=1e-6)  # norms A, D


def test_fusion_vad_source_counts_contributing_modalities():
    n = 3
    probs = np.tile(np.eye(NUM_CLASSES)[1], (n, 1)).astype(np.float32)  # happy
    on = np.ones(n, bool)
    learned = ModalityResult(probs, np.ones(n, np.float32), on, np.ones(n, np.float32),
                             vad=np.tile(np.float32([0.9, 0.8, 0.1]), (n, 1)))
    normed = ModalityResult(probs, np.ones(n, np.float32), on, np.ones(n, np.float32))
    fuse = ReliabilityLateFusion({"face": 1.0, "voice": 1.0}).fuse
    assert fuse({"voice": learned}).vad_source == "learned"
    mixed = fuse({"voice": learned, "face": normed})
    assert mixed.vad_source == "mixed"
    np.testing.assert_allclose(mixed.vad[0], 0.5 * (np.float32([0.9, 0.8, 0.1]) + vad_from_probs(probs[0])), atol=1e-5)
    assert fuse({"face": normed, "voice": ModalityResult.absent(n)}).vad_source == "norms"


@pytest.mark.shared_data
def test_arousal_head_ranks_strong_above_normal_for_an_unseen_actor(voice, shared_data):
    """RAVDESS actor 21 (test split), statement 1, repetition 1: each non-neutral emotion at both intensities."""
    from emoguide.training.voice_data import read_clip

    folder = shared_data / "ravdess_speech_16k" / "Actor_21"
    arousal = {1: [], 2: []}
    for code in ("03", "04", "05", "06", "07", "08"):
        for intensity in (1, 2):
            audio = read_clip(folder / f"03-01-{code}-{intensity:02d}-01-01-21.flac")  # whole clip, as trained
            res = voice.analyze_audio(audio, np.array([0.0]), np.array([len(audio) / SR]))
            arousal[intensity].append(float(res.vad[0, 1]))
    strong, normal = np.array(arousal[2]), np.array(arousal[1])
    assert strong.mean() > normal.mean(), (strong.round(2), normal.round(2))
    assert np.mean(strong > normal) >= 0.5  # paired by emotion
