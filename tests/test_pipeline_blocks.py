"""Long media in bounded blocks gives the windows a whole-clip pass gives (memory flat with length).

The voice path reads long audio block by block (pipeline/audio_blocks.py); the
face path reduces frames to windows as they arrive and spots brief expressions
over a rolling buffer (pipeline/rolling.py). These tests force small blocks on
generated media and compare with a single block / a whole-clip pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import av
import numpy as np
import opentimelineio as otio
import pytest
from conftest import EXAMPLES

from emoguide.pipeline import audio_blocks
from emoguide.pipeline.rolling import FrameRoller, SpotStream, concat_results
from emoguide.pipeline.windows import AnalysisSettings, make_windows
from emoguide.recognition.face.spotting import spot_brief_expressions
from emoguide.recognition.voice.whisper_backbone import Word

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def _speech_wav(path, seconds: float) -> None:
    """The example clips' speech, looped to ``seconds``, as 16-bit 48 kHz mono WAV."""
    pieces = []
    for name in ("cremad_1001_DFA_angry", "cremad_1001_DFA_happy", "cremad_1001_DFA_sad", "crying_wolfganglanger"):
        with av.open(str(EXAMPLES / "media" / f"{name}.mp4")) as c:
            rs = av.AudioResampler(format="s16", layout="mono", rate=48000)
            pieces += [o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in rs.resample(f)]
    audio = np.resize(np.concatenate(pieces), int(seconds * 48000)).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=48000)
        stream.layout = "mono"
        for i in range(0, len(audio), 4800):
            frame = av.AudioFrame.from_ndarray(audio[None, i:i + 4800], format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, i
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)


def test_voice_in_blocks_matches_one_block(tmp_path):
    from emoguide.media.probe import probe
    from emoguide.pipeline.engine import Engine
    from emoguide.timeline.mapping import clip_jobs

    media = tmp_path / "speech.wav"
    _speech_wav(media, 75.0)
    clip = otio.schema.Clip(name="speech", media_reference=otio.schema.ExternalReference(target_url=str(media)),
                            source_range=TR(RT(0.5, 1), RT(74.0, 1)))
    tl = otio.schema.Timeline(name="t")
    tl.tracks.append(otio.schema.Track(kind="Audio"))
    tl.tracks[0].append(clip)
    (job,) = clip_jobs(tl, None)
    engine = Engine.load(modalities=("voice",))
    if "voice" not in engine.recognisers:
        pytest.skip(f"voice recogniser unavailable: {engine.unavailable}")
    settings = AnalysisSettings(transcribe=False)
    starts, ends = make_windows(job.media_start_s, job.media_end_s, settings)
    info = probe(media)
    one, one_stats, _ = audio_blocks.analyze_audio_blocks(job, info, engine, settings, starts, ends, block_s=math.inf)
    blocks, block_stats, _ = audio_blocks.analyze_audio_blocks(job, info, engine, settings, starts, ends, block_s=30.0)
    assert len(blocks.probs) == len(starts) == 73
    assert one.present.any() and (~one.present).any() or one.present.all()
    np.testing.assert_array_equal(blocks.present, one.present)
    np.testing.assert_allclose(blocks.probs, one.probs, atol=1e-3)
    np.testing.assert_allclose(blocks.reliability, one.reliability, atol=1e-3)
    for key in ("pitch_hz", "energy_db", "speech_rate", "voiced_frac", "speech_prob"):
        np.testing.assert_allclose(blocks.extras[key], one.extras[key], atol=1e-3, rtol=1e-3, equal_nan=True)
    for key, value in one_stats.items():
        np.testing.assert_allclose(block_stats[key], value, atol=1e-3, rtol=1e-3, equal_nan=True)


class _CountingVoice:
    """Transcribes the ramp ``audio[i] = second(i) / 1000`` into one word per whole second it holds."""

    def __init__(self):
        self.heard_s: list[float] = []  # length of each stretch it was handed

    def transcribe(self, audio):
        self.heard_s.append(len(audio) / 16000)
        seconds = np.round(audio[::16000] * 1000).astype(int)
        return [Word(k + 0.2, k + 0.7, f"w{sec}", 1.0) for k, sec in enumerate(seconds) if (k + 1) * 16000 <= len(audio)]


@pytest.mark.parametrize("stretch_s", [30.0, 45.0, 125.0, math.inf])
@pytest.mark.parametrize("block_s, total_s", [(30, 95), (120, 250)])
def test_block_transcription_keeps_every_word_once_in_bounded_stretches(stretch_s, block_s, total_s):
    audio = (np.arange(16000 * total_s) // 16000).astype(np.float32) / 1000
    voice = _CountingVoice()
    t = audio_blocks._Transcriber(voice, stretch_s=stretch_s)
    bounds = list(range(0, len(audio), 16000 * block_s)) + [len(audio)]
    for k in range(len(bounds) - 1):
        t.feed(audio[bounds[k]:bounds[k + 1]], bounds[k], final=k == len(bounds) - 2, heard=True)
        if stretch_s != math.inf:
            assert len(t.pending) <= 16000 * stretch_s  # what waits for the next block stays bounded
    assert [w.text for w in t.words] == [f"w{s}" for s in range(total_s)]
    assert [w.start_s for w in t.words] == pytest.approx([s + 0.2 for s in range(total_s)])
    assert max(voice.heard_s) <= min(stretch_s, total_s)
    if stretch_s == math.inf:
        assert voice.heard_s == [total_s]  # the clip whole, once its last block is in


def test_transcription_stretches_skip_unheard_audio_and_reject_stretches_shorter_than_the_carry():
    audio = (np.arange(16000 * 90) // 16000).astype(np.float32) / 1000
    voice = _CountingVoice()
    t = audio_blocks._Transcriber(voice)
    t.feed(audio[:16000 * 60], 0, final=False, heard=False)  # music: nothing transcribed, 5 s carried
    assert voice.heard_s == [] and len(t.pending) == 16000 * audio_blocks.TRANSCRIBE_CARRY_S
    t.feed(audio[16000 * 60:], 16000 * 60, final=True, heard=True)
    assert [w.text for w in t.words] == [f"w{s}" for s in range(55, 90)]
    with pytest.raises(ValueError, match="longer than 10 s"):
        audio_blocks._Transcriber(voice, stretch_s=10.0)


@dataclass
class _Rows:
    probs: np.ndarray
    present: np.ndarray


def test_rolling_windows_and_spotting_match_a_whole_clip_pass():
    rng = np.random.default_rng(3)
    fps, seconds = 25.0, 150.0
    t = np.arange(int(fps * seconds)) / fps
    probs = np.full((len(t), 7), 0.1, np.float32) + rng.random((len(t), 7)).astype(np.float32) * 0.05
    present = rng.random(len(t)) > 0.05
    for apex in (10.0, 59.9, 60.0, 62.1, 119.8, 140.0):  # brief surprises, some near the rolling edges
        k = int(apex * fps)
        probs[k - 2:k + 3, 6] = 0.8
        present[k - 30:k + 30] = True
    starts, ends = make_windows(0.0, seconds, AnalysisSettings())

    def reduce(rows, times, s, e):
        from emoguide.recognition.base import ModalityResult
        from emoguide.recognition.windowing import window_slices

        lo, hi = window_slices(times, s, e)
        mean = np.stack([rows.probs[a:b].mean(0) if b > a else np.zeros(7, np.float32) for a, b in zip(lo, hi)])
        return ModalityResult(probs=mean, confidence=(hi - lo).astype(np.float32), present=hi > lo,
                              reliability=np.ones(len(s), np.float32))

    roller = FrameRoller(starts, ends, reduce)
    spotter = SpotStream(lambda rows, times: spot_brief_expressions(rows.probs, times, rows.present), every_s=20.0)
    for a in range(0, len(t), 200):  # 8 s chunks, as the pipeline decodes
        rows = _Rows(probs[a:a + 200], present[a:a + 200])
        roller.push(t[a:a + 200], rows)
        spotter.push(t[a:a + 200], rows)
        assert sum(len(x) for x in roller.times) <= 2 * 200 + 3 * fps  # only open windows' frames are held
    whole = reduce(_Rows(probs, present), t, starts, ends)
    rolled = concat_results(roller.finish())
    np.testing.assert_array_equal(rolled.probs, whole.probs)
    np.testing.assert_array_equal(rolled.confidence, whole.confidence)
    expected = spot_brief_expressions(probs, t, present)
    assert len(expected) >= 5
    assert spotter.finish() == expected
