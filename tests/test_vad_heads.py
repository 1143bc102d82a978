"""Learned valence/arousal: shipped heads verify and load, recognisers fill ``vad``, fusion names the source."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import EXAMPLES, copy_weights, flip_a_byte

from emoguide.labels import NUM_CLASSES, vad_from_probs
from emoguide.media.audio import read_audio_range
from emoguide.recognition import base
from emoguide.recognition.base import ModalityResult, WeightsError, verified_weights
from emoguide.recognition.fusion import ReliabilityLateFusion
from emoguide.recognition.text.valence import WEIGHTS_FILE as VALENCE_FILE
from emoguide.recognition.text.valence import load_head as load_valence
from emoguide.recognition.voice.affect import WEIGHTS_FILE as AFFECT_FILE
from emoguide.recognition.voice.affect import IntensityAffect, IntensityHead, load_affect, shifted_va

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
    flip_a_byte(copy_weights(tmp_path, monkeypatch, name))
    with pytest.raises(WeightsError, match="checksum"):
        verified_weights(name)


def _probs(rng, n: int) -> np.ndarray:
    p = rng.random((n, NUM_CLASSES)) ** 3
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


def test_intensity_one_half_gives_exactly_the_norms():
    p = _probs(np.random.default_rng(0), 50)
    np.testing.assert_allclose(shifted_va(p, np.zeros(50)), vad_from_probs(p)[:, :2], atol=1e-6)
    # through the model: a head whose logit is 0 everywhere (q = 0.5) must give the norms row
    head = IntensityHead(hidden=0)
    for param in head.parameters():
        param.data.zero_()
    model = IntensityAffect([head, head], encoder_layer=2).eval()
    x = np.random.default_rng(1).normal(size=(50, 776)).astype(np.float32)
    np.testing.assert_allclose(model.intensity(x), 0.5)
    np.testing.assert_allclose(model.va(x, p), vad_from_probs(p)[:, :2], atol=1e-6)


def test_training_target_is_the_head_formula_at_a_known_class_and_intensity():
    from emoguide.labels import LABEL_INDEX, VAD_MATRIX
    from emoguide.training.vad_voice import targets, targets_common

    angry, neutral = LABEL_INDEX["angry"], LABEL_INDEX["neutral"]
    got = targets_common(np.array([angry, angry, neutral, neutral]), np.array([2, 1, 2, 1]))
    v, a = VAD_MATRIX[angry, :2]
    np.testing.assert_allclose(got, [[v * 1.25, a + 0.15], [v * 0.75, a - 0.15], [0, 0], [0, 0]], atol=1e-6)
    # RAVDESS calm (index 1) counts as neutral: its intensity is ignored
    np.testing.assert_allclose(targets(np.array([1, 1]), np.array([1, 2])), 0.0)


def test_more_intensity_raises_arousal_of_an_emotion_and_leaves_neutral_alone():
    from emoguide.labels import LABEL_INDEX

    s = np.linspace(-1, 1, 9)
    for name in ("angry", "sad", "happy", "surprised"):
        va = shifted_va(np.tile(np.eye(NUM_CLASSES)[LABEL_INDEX[name]], (9, 1)), s)
        assert np.all(np.diff(va[:, 1]) > 0), name  # arousal rises with intensity
        assert np.all(np.diff(np.abs(va[:, 0])) > 0), name  # valence moves away from 0, never across
        assert np.all(np.sign(va[:, 0]) == np.sign(va[4, 0])), name
    neutral = shifted_va(np.tile(np.eye(NUM_CLASSES)[LABEL_INDEX["neutral"]], (9, 1)), s)
    np.testing.assert_array_equal(neutral, 0.0)
    mixed = shifted_va(np.tile(np.float32([0.5, 0, 0, 0.5, 0, 0, 0]), (9, 1)), s)  # half neutral, half angry
    np.testing.assert_allclose(np.diff(mixed[:, 1]), 0.5 * 0.15 * np.diff(s), atol=1e-6)


def test_shipped_affect_head_reads_the_classifiers_layer():
    from emoguide.recognition.voice.classifier import load_head

    affect = load_affect(verified_weights(AFFECT_FILE))
    classifier = load_head(verified_weights("voice_emotion.pt"))
    assert affect.encoder_layer == classifier.encoder_layer == 2
    assert (affect.arousal_shift, affect.valence_scale) == (0.15, 0.25)
    mean, std = affect.heads[0].mean.numpy(), affect.heads[0].std.numpy()  # inputs like the training clips'
    q = affect.intensity(mean + std * np.random.default_rng(0).normal(size=(20, 776)).astype(np.float32))
    assert q.shape == (20,) and np.all((q >= 0) & (q <= 1)) and q.std() > 0.05


def test_an_old_affect_file_is_refused_with_a_clear_error(tmp_path):
    import torch

    old = tmp_path / AFFECT_FILE  # the previous format: a direct regressor, no kind, CTranslate2's last layer
    torch.save({"states": [], "hidden": 64, "outputs": ["valence", "arousal"], "encoder_layer": None, "meta": {}}, old)
    with pytest.raises(WeightsError, match="older direct valence/arousal regressor.*emoguide train vad"):
        load_affect(old)


def test_affect_head_on_another_layer_than_the_classifier_is_refused(tmp_path, monkeypatch):
    import torch

    from emoguide.recognition.voice.affect import save_affect
    from emoguide.recognition.voice.recogniser import VoiceRecogniser

    shutil.copy(verified_weights("voice_emotion.pt"), tmp_path / "voice_emotion.pt")
    save_affect([IntensityHead(hidden=0)], tmp_path / AFFECT_FILE, {}, encoder_layer=None)
    sums = {n: base.sha256_of(tmp_path / n) for n in ("voice_emotion.pt", AFFECT_FILE)}
    (tmp_path / "checksums.json").write_text(json.dumps(sums))
    monkeypatch.setattr(base, "WEIGHTS_DIR", tmp_path)
    torch.set_num_threads(1)
    with pytest.raises(WeightsError, match="layer CTranslate2's last but voice_emotion.pt reads 2"):
        VoiceRecogniser.load("cpu")


def test_voice_runs_without_the_ctranslate2_encoder(voice, monkeypatch):
    """Both heads read layer 2, so CTranslate2's encoder (the last layer) must not run at all."""
    from emoguide.recognition.voice.whisper_backbone import WhisperBackbone
    from emoguide.recognition.voice.whisper_torch import LayeredBackbone

    def refuse(*_args, **_kwargs):
        raise AssertionError("CTranslate2 encoder called")

    monkeypatch.setattr(WhisperBackbone, "encode", refuse)
    assert isinstance(voice.backbone, LayeredBackbone) and not voice.backbone.with_last
    audio = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 30.0)
    starts = np.arange(0.0, max(len(audio) / SR - 2.0, 0.0) + 1e-6, 1.0)
    res = voice.analyze_audio(audio, starts, starts + 2.0)
    frames, _ = voice.backbone.encode(audio)
    assert frames.shape == (int(np.ceil(len(audio) / 320)), 384)
    assert res.present.any() and np.all(np.isfinite(res.vad)) and np.all(np.abs(res.vad) <= 1.0)
    # the output is the norms shifted by one intensity sign s in [-1, 1], the same s for valence and arousal
    p, va = res.probs[res.present], res.vad[res.present, :2]
    norms = vad_from_probs(p)[:, :2]
    s = (va[:, 1] - norms[:, 1]) / (0.15 * (1.0 - p[:, 0]))
    assert np.all(np.abs(s) <= 1.0 + 1e-4) and np.ptp(s) > 0
    np.testing.assert_allclose(va[:, 0], norms[:, 0] * (1.0 + 0.25 * s), atol=1e-4)


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
