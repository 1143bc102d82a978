"""Voice modality: speech presence, prosody, the shipped head, words, and checksums."""

from __future__ import annotations

import shutil
import tracemalloc

import numpy as np
import pytest
from conftest import EXAMPLES

from emoguide.media.audio import read_audio_range
from emoguide.recognition.base import WeightsError, verified_weights
from emoguide.recognition.voice import prosody, vad
from emoguide.recognition.voice.prosody import frame_tracks, window_stats
from emoguide.recognition.voice.recogniser import VoiceRecogniser

SR = 16000


@pytest.fixture(scope="module")
def voice():
    return VoiceRecogniser.load("cpu")


def test_prosody_finds_the_pitch_of_a_tone():
    t = np.arange(2 * SR) / SR
    tone = sum(0.2 / k * np.sin(2 * np.pi * 220 * k * t) for k in (1, 2, 3)).astype(np.float32)
    tracks = frame_tracks(tone, 100)
    stats = window_stats(tracks, (np.arange(100) + 0.5) / 50, np.array([0.2]), np.array([1.8]))
    assert stats["pitch_hz"][0] == pytest.approx(220, rel=0.03)
    silent = window_stats(frame_tracks(np.zeros(SR, np.float32), 50), (np.arange(50) + 0.5) / 50,
                          np.array([0.0]), np.array([1.0]))
    assert np.isnan(silent["pitch_hz"][0])



def _voiced_stretch(seconds: float) -> np.ndarray:
    """A gliding harmonic tone, amplitude-modulated like syllables, in faint noise: pitch, level and pauses vary."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 150 + 80 * np.sin(2 * np.pi * 0.07 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) * (np.sin(2 * np.pi * 0.05 * t) > -0.3)
    noise = np.random.default_rng(0).standard_normal(len(t)) * 0.002
    return (0.3 * syllables * (np.sin(phase) + 0.4 * np.sin(2 * phase)) + noise).astype(np.float32)


def test_frame_blocks_bound_memory_and_never_change_values(monkeypatch):
    """The sound side's per-frame analyses run in frame blocks: a 120 s stretch (the pipeline's audio
    block) must not hold its whole frame matrix at once (it did: 125 MB for prosody, 44 MB for the
    fallback speech detector), and no block size may change a value."""
    audio = _voiced_stretch(120.0)
    n_frames = len(audio) // prosody.HOP
    peaks = {}
    for name, run in (("tracks", lambda: frame_tracks(audio, n_frames)),
                      ("speech", lambda: vad.energy_speech_probs(audio))):
        tracemalloc.start()
        run()
        peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert peaks["tracks"] < 40 and peaks["speech"] < 24, peaks  # MiB; the audio itself is 7.3

    short = audio[: 37 * SR]
    tracks, speech = frame_tracks(short, 1850), vad.energy_speech_probs(short)
    assert tracks[:, 1].any() and not tracks[:, 1].all() and speech.max() > 0.5  # a stretch with content
    for constant, odd in (("YIN_BLOCK", 37), ("FRAME_BLOCK", 101)):
        monkeypatch.setattr(prosody, constant, odd)
    monkeypatch.setattr(vad, "SPECTRUM_BLOCK", 53)
    np.testing.assert_array_equal(frame_tracks(short, 1850), tracks)
    np.testing.assert_array_equal(vad.energy_speech_probs(short), speech)

def test_speech_is_present_and_silence_or_tone_is_not(voice):
    speech = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 2.0)
    t = np.arange(2 * SR) / SR
    chord = (0.2 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277 * t))).astype(np.float32)
    for audio, expected in ((speech, True), (np.zeros(2 * SR, np.float32), False), (chord, False)):
        result = voice.analyze_audio(audio, np.array([0.0]), np.array([2.0]))
        assert bool(result.present[0]) is expected
        if not expected:
            assert result.reliability[0] == 0 and np.allclose(result.probs, 1 / 7)
    assert result.extras["speech_prob"].shape == (1,)


def test_angry_voice_is_more_aroused_than_sad_on_unseen_actors(voice, shared_data):
    """RAVDESS test actors 21-24 (never trained on): strong angry vs strong sad, statement 1."""
    from emoguide.labels import VAD_MATRIX

    folder = shared_data / "ravdess_speech_16k"
    arousal = {}
    for emotion, code in (("angry", "05"), ("sad", "04")):
        values = []
        for actor in (21, 22, 23, 24):
            for path in sorted((folder / f"Actor_{actor:02d}").glob(f"03-01-{code}-02-01-*-{actor:02d}.flac")):
                audio = read_audio_range(path, 0, 3.0)
                r = voice.analyze_audio(audio, np.array([0.0]), np.array([3.0]))
                values.append(float((r.probs @ VAD_MATRIX)[0, 1]))
        arousal[emotion] = np.mean(values)
    assert arousal["angry"] > arousal["sad"] + 0.1


def test_transcription_gives_timed_words(voice):
    audio = read_audio_range(EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4", 0, 2.3)
    words = voice.transcribe(audio)
    assert [w.text.lower().strip(".") for w in words][:2] == ["don't", "forget"]
    assert all(b.start_s >= a.start_s for a, b in zip(words, words[1:]))
    assert voice.transcribe(np.zeros(SR, np.float32)) == []


def test_the_encoder_window_is_short_only_for_short_speech():
    from emoguide.recognition.voice.whisper_backbone import SHORT_WINDOW_MEL_FRAMES, encoder_window

    def padded(content):  # faster-whisper's window: log-mel of the speech, then exact zeros up to 30 s
        f = np.zeros((80, 3000), np.float32)
        f[:, :content] = -1.5  # digital silence after the log-mel normalisation is not zero
        f[3, content - 1] = 0.2
        return f

    assert encoder_window(padded(480)).shape == (80, SHORT_WINDOW_MEL_FRAMES)
    assert encoder_window(padded(500)).shape == (80, SHORT_WINDOW_MEL_FRAMES)
    assert encoder_window(padded(501)).shape == (80, 3000)
    assert encoder_window(padded(480), short_speech_frames=0).shape == (80, 3000)  # "always 30 s"
    assert encoder_window(np.zeros((80, 3000), np.float32), short_speech_frames=0).shape == (80, 3000)
    assert encoder_window(np.stack([padded(300), padded(900)])).shape == (2, 80, 3000)  # a batch: its longest
    np.testing.assert_array_equal(encoder_window(padded(300)), padded(300)[:, :SHORT_WINDOW_MEL_FRAMES])


def test_a_short_line_is_encoded_in_the_short_window_with_the_same_words(voice, monkeypatch):
    from emoguide.recognition.voice import whisper_backbone

    seen = []
    real = whisper_backbone.encoder_window

    def recorded(features, short_speech_frames):
        window = real(features, short_speech_frames)
        seen.append(window.shape[-1])
        return window

    monkeypatch.setattr(whisper_backbone, "encoder_window", recorded)
    lines = [read_audio_range(EXAMPLES / "media" / f"cremad_1001_DFA_{c}.mp4", 0, 2.3) for c in ("angry", "happy")]
    for audio in lines:
        seen.clear()
        short = [w.text for w in voice.transcribe(audio)]
        assert seen == [1000]
        with monkeypatch.context() as always_30s:
            always_30s.setattr(voice.backbone.model, "short_speech_frames", 0)
            seen.clear()
            assert [w.text for w in voice.transcribe(audio)] == short and seen == [3000]
    seen.clear()
    voice.transcribe(np.concatenate(lines * 3))  # six lines, ~13 s: more than 5 s of speech
    assert seen == [3000]


def test_the_cpu_transcribes_in_int8_with_the_float_weights_words(voice):
    from emoguide.recognition.voice.whisper_backbone import load_backbone

    if voice.backbone.device != "cpu":
        pytest.skip("int8 transcription is the CPU's precision")
    assert voice.backbone.model.model.compute_type.startswith("int8")  # what CTranslate2 really runs
    stored = load_backbone("cpu", "default")
    assert stored.model.model.compute_type == "float32"
    for clip in ("angry", "happy", "sad"):
        audio = read_audio_range(EXAMPLES / "media" / f"cremad_1001_DFA_{clip}.mp4", 0, 2.3)
        assert [w.text for w in voice.transcribe(audio)] == [w.text for w in stored.transcribe(audio)]


def test_weights_checksum_is_enforced(tmp_path, monkeypatch):
    import emoguide.recognition.base as base

    for name in ("voice_emotion.pt", "checksums.json"):
        shutil.copy(base.WEIGHTS_DIR / name, tmp_path / name)
    monkeypatch.setattr(base, "WEIGHTS_DIR", tmp_path)
    data = bytearray((tmp_path / "voice_emotion.pt").read_bytes())
    data[100] ^= 0x01
    (tmp_path / "voice_emotion.pt").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        verified_weights("voice_emotion.pt")
