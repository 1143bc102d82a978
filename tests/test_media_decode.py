"""PyAV decoding: exact frames and samples, libav downscaling, bad files, prefetch, stats."""

from __future__ import annotations

import threading
from fractions import Fraction

import numpy as np
import pytest
from media_fixtures import (make_audio_only, make_corrupt_file, make_indexed_video, make_truncated_copy,
                            make_vfr_video, make_zero_length, read_frame_index)

from emoguide.media.audio import iter_audio_chunks, read_audio_range
from emoguide.media.errors import EmptyRange, MediaCorrupt, MediaError, MediaOffline
from emoguide.media.prefetch import prefetch
from emoguide.media.probe import probe
from emoguide.media.stats import audio_window_stats, frame_stats, motion_energy
from emoguide.media.video import iter_video_frames, read_video_range, scaled_size

RATES = [Fraction(24000, 1001), Fraction(30000, 1001), Fraction(25), Fraction(60000, 1001)]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    out = {}
    for rate in RATES:
        tc = "01:00:00;00" if rate == Fraction(30000, 1001) else "01:00:00:00"
        out[rate] = make_indexed_video(folder / f"v{float(rate):.3f}.mov", rate, 72, timecode=tc)
    return out


@pytest.mark.parametrize("rate", RATES, ids=lambda r: f"{float(r):.3f}")
@pytest.mark.parametrize("first,last", [(0, 24), (13, 41), (47, 72)])
def test_decoded_range_is_frame_exact(videos, rate, first, last):
    frames, times, indices = read_video_range(videos[rate], first / rate, last / rate, max_side=160)
    seen = [read_frame_index(f) for f in frames]
    assert seen == list(range(first, last))
    assert list(indices) == seen
    assert times[0] == pytest.approx(first / float(rate), abs=1e-3)


def test_sampling_picks_nearest_frames_without_drift(videos):
    rate = Fraction(30000, 1001)
    frames, times, _ = read_video_range(videos[rate], 0.0, 2.0, sample_fps=4.0, max_side=160)
    seen = [read_frame_index(f) for f in frames]
    expected = [int(np.ceil(k / 4 * float(rate) - 0.5)) for k in range(8)]
    assert seen == expected


def test_downscale_happens_in_libav_and_keeps_aspect(videos):
    frames, _, _ = read_video_range(videos[Fraction(25)], 0, 0.2, max_side=100)
    assert frames.shape[1:] == (56, 100, 3)
    assert scaled_size(1920, 1080, 640) == (640, 360)
    assert scaled_size(320, 180, 640) == (320, 180)


def test_probe_reads_rate_timecode_and_streams(videos):
    info = probe(videos[Fraction(30000, 1001)])
    assert info.video_rate == Fraction(30000, 1001) and info.has_audio and info.has_video
    assert info.timecode == "01:00:00;00"
    assert info.n_frames == 72 and not info.is_vfr


def test_audio_is_exact_in_length_and_position(videos):
    path = videos[Fraction(25)]
    audio = read_audio_range(path, 0.5, 2.5, rate=16000)
    assert len(audio) == 32000
    click = int(np.argmax(audio > 0.3))
    assert click == 8000  # the click at 1.0 s of the file, 0.5 s into the range
    chunks = list(iter_audio_chunks(path, 0.5, 2.5, chunk_s=0.37, rate=16000))
    assert np.array_equal(np.concatenate(chunks), audio)  # drift-free chunking
    assert [len(c) for c in chunks][:3] == [5920, 5920, 5920]


def test_audio_past_the_end_is_padded_to_exact_length(videos):
    audio = read_audio_range(videos[Fraction(25)], 2.5, 3.5, rate=16000)
    assert len(audio) == 16000 and np.all(audio[-4000:] == 0)


def test_vfr_and_audio_only(tmp_path):
    vfr = make_vfr_video(tmp_path / "vfr.mp4")
    assert probe(vfr).is_vfr
    frames, times, _ = read_video_range(vfr, 0, 1.0, max_side=160)
    assert [read_frame_index(f) for f in frames] == list(range(len(frames)))
    assert np.all(np.diff(times) > 0)
    wav = make_audio_only(tmp_path / "a.wav")
    info = probe(wav)
    assert info.has_audio and not info.has_video
    assert len(read_audio_range(wav, 0, 1.0)) == 16000
    with pytest.raises(EmptyRange):
        next(iter_video_frames(wav, 0, 1))


def test_bad_inputs_raise_clear_media_errors(tmp_path, videos):
    with pytest.raises(MediaOffline, match="missing.mov"):
        probe(tmp_path / "missing.mov")
    with pytest.raises(MediaCorrupt, match="junk.mp4"):
        probe(make_corrupt_file(tmp_path / "junk.mp4"))
    with pytest.raises(MediaCorrupt, match="empty"):
        probe(make_zero_length(tmp_path / "zero.mov"))
    with pytest.raises(EmptyRange):
        next(iter_video_frames(videos[Fraction(25)], 1.0, 1.0))
    with pytest.raises(EmptyRange):
        next(iter_video_frames(videos[Fraction(25)], 30.0, 31.0))
    truncated = make_truncated_copy(videos[Fraction(25)], tmp_path / "cut.mov", keep=0.4)
    with pytest.raises(MediaError):  # moov atom at the end is gone: unreadable, clearly
        read_video_range(truncated, 0, 2)


def test_prefetch_keeps_order_propagates_errors_and_leaks_no_thread():
    assert list(prefetch(range(50), maxsize=3)) == list(range(50))

    def boom():
        yield 1
        raise ValueError("decode failed")

    with pytest.raises(ValueError, match="decode failed"):
        list(prefetch(boom()))
    before = threading.active_count()
    it = prefetch(iter(range(10_000)), maxsize=2)
    next(it)
    it.close()
    assert threading.active_count() <= before


def test_picture_and_sound_stats():
    dark = np.full((2, 8, 8, 3), 30, np.uint8)
    bright = np.full((2, 8, 8, 3), 220, np.uint8)
    assert frame_stats(bright)["brightness"][0] > frame_stats(dark)["brightness"][0]
    warm = np.zeros((1, 8, 8, 3), np.uint8)
    warm[..., 0] = 200
    assert frame_stats(warm)["warmth"][0] > 0.5 and frame_stats(warm)["saturation"][0] == pytest.approx(1.0)
    assert np.all(motion_energy(np.repeat(dark, 3, axis=0)) == 0)
    t = np.arange(32000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    rng = np.random.default_rng(0)
    syllables = (rng.normal(0, 0.3, len(t)) * (np.sin(2 * np.pi * 4 * t) > 0.3)).astype(np.float32)
    s = audio_window_stats(np.concatenate([tone, syllables]), np.array([0.0, 2.0]), np.array([2.0, 4.0]))
    assert s["music_prob"][0] > s["music_prob"][1]
    assert s["loudness_db"][0] == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.2)
