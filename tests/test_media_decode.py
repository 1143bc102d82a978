"""PyAV decoding: exact frames and samples, libav downscaling, bad files, prefetch, stats.

Every generated frame shows its own index (media_fixtures), so "frame-exact"
is checked by reading the decoded pictures, not by trusting our own timestamps.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media_fixtures import (default_video_codec, make_audio_only, make_corrupt_file, make_indexed_video,
                            make_static_video, make_truncated_copy, make_unsupported_codec, make_vfr_video,
                            make_zero_length, read_frame_index, vfr_time)

import emoguide.media.video as video_mod
from emoguide.media.audio import chunk_bounds, iter_audio_chunks, read_audio_range
from emoguide.media.errors import EmptyRange, MediaCorrupt, MediaError, MediaOffline, UnsupportedCodec
from emoguide.media.prefetch import prefetch
from emoguide.media.probe import probe
from emoguide.media.stats import audio_window_stats, frame_stats, motion_energy
from emoguide.media.video import iter_video_frames, read_video_range, scaled_size

RATES = [Fraction(24000, 1001), Fraction(30000, 1001), Fraction(25), Fraction(60000, 1001)]
N = 72  # frames per generated video (≤ 3 s at every rate)


def ids(rate: Fraction) -> str:
    return f"{float(rate):.3f}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def videos(folder):
    out = {}
    for rate in RATES:
        tc = "01:00:00;00" if rate == Fraction(30000, 1001) else "01:00:00:00"
        out[rate] = make_indexed_video(folder / f"v{float(rate):.3f}.mov", rate, N, timecode=tc)
    return out


def decoded_indices(frames) -> list[int]:
    return [read_frame_index(f) for f in frames]


# --- video: frame exactness -------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES, ids=ids)
@pytest.mark.parametrize("first,last", [(0, 24), (13, 41), (47, 72)])
def test_decoded_range_is_frame_exact(videos, rate, first, last):
    frames, times, indices = read_video_range(videos[rate], first / rate, last / rate, max_side=160)
    assert decoded_indices(frames) == list(range(first, last))
    assert list(indices) == list(range(first, last))
    np.testing.assert_allclose(times, np.arange(first, last) / float(rate), atol=1e-3)


@pytest.mark.parametrize("rate", [Fraction(24000, 1001), Fraction(60000, 1001)], ids=ids)
@pytest.mark.parametrize("start_f,end_f", [(10.3, 30.7), (10.6, 30.2), (33.49, 50.51)])
def test_range_between_frames_rounds_to_nearest_frame(videos, rate, start_f, end_f):
    """A range in seconds that falls between frames: first = round(start·r), last = round(end·r) − 1."""
    start_s, end_s = start_f / float(rate), end_f / float(rate)
    frames, _, indices = read_video_range(videos[rate], start_s, end_s, max_side=96)
    expected = list(range(round(start_s * float(rate)), round(end_s * float(rate))))
    assert decoded_indices(frames) == expected and list(indices) == expected


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".ts"])
def test_late_starting_containers_count_from_the_first_frame(folder, suffix):
    """Timestamps starting at 1.5 s (camera files, MPEG-TS): t = 0 is still frame 0, audio follows."""
    rate = Fraction(30000, 1001)
    path = make_indexed_video(folder / f"late{suffix}", rate, N, first_pts_s=1.5)
    info = probe(path)
    assert info.start_offset_s == pytest.approx(1.5, abs=0.01)
    assert info.duration_s == pytest.approx(N / float(rate), abs=0.05)
    assert info.n_frames == N
    frames, times, indices = read_video_range(path, 13 / rate, 41 / rate, max_side=96)
    assert decoded_indices(frames) == list(range(13, 41)) == list(indices)
    assert times[0] == pytest.approx(13 / float(rate), abs=2e-3)
    audio = read_audio_range(path, 0.5, 2.2)
    # the click at 1.0 s of the source; mp4 edit lists and Matroska store times to the ms
    assert abs(int(np.argmax(audio > 0.3)) - 8000) <= 8


def test_sampling_picks_nearest_frames_without_drift(videos):
    rate = Fraction(30000, 1001)
    frames, times, indices = read_video_range(videos[rate], 0.0, 2.4, sample_fps=4.0, max_side=96, skip_nonref=False)
    # nearest frame to each instant k/4 s (ties go to the earlier frame); 9.6 instants → 10 frames
    expected = [int(np.ceil(k / 4 * float(rate) - 0.5)) for k in range(10)]
    assert decoded_indices(frames) == expected == list(indices)
    frames, _, indices = read_video_range(videos[rate], 0.5, 1.5, sample_fps=7.0, max_side=96, skip_nonref=False)
    expected = [int(np.ceil((0.5 + k / 7) * float(rate) - 0.5)) for k in range(7)]
    assert decoded_indices(frames) == expected


def test_sampling_faster_than_the_frame_rate_yields_each_frame_once(videos):
    rate = Fraction(25)
    frames, _, _ = read_video_range(videos[rate], 0.4, 1.0, sample_fps=100.0, max_side=96)
    assert decoded_indices(frames) == list(range(10, 25))


def test_nonref_skipping_stays_near_the_sampling_instants(videos):
    rate = Fraction(60000, 1001)
    frames, _, indices = read_video_range(videos[rate], 0.0, 1.2, sample_fps=2.0, max_side=96, skip_nonref=True)
    assert decoded_indices(frames) == list(indices)
    ideal = np.array([round(k / 2 * float(rate)) for k in range(len(indices))])
    assert len(indices) in (2, 3) and np.all(np.abs(np.asarray(indices) - ideal) <= 3)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.mark.skipif(default_video_codec() != "libx264", reason="needs an H.264 encoder: mpeg4 has no loop filter")
def test_skipping_the_loop_filter_keeps_the_frames_and_changes_only_their_deblocking(videos):
    """The option reaches the decoder (skipping it everywhere changes most pictures; skipping it on
    B-pictures changes a few), every level yields the very same frames at the same times, and what
    changes is a deblocking difference: each picture within 35 dB of the exact decode."""
    path = videos[Fraction(25)]
    exact, times, indices = read_video_range(path, 0.0, 2.0, max_side=320)
    changed = {}
    for level in ("noref", "bidir", "all"):
        frames, t, i = read_video_range(path, 0.0, 2.0, max_side=320, skip_loop_filter=level)
        assert list(i) == list(indices) and np.array_equal(t, times)
        assert decoded_indices(frames) == decoded_indices(exact) == list(range(50))
        assert min(_psnr(a, b) for a, b in zip(exact, frames)) > 35.0
        changed[level] = sum(not np.array_equal(a, b) for a, b in zip(exact, frames))
    assert 1 <= changed["bidir"] < changed["all"] and changed["all"] > len(exact) // 2


def test_a_codec_without_a_loop_filter_decodes_the_same_at_every_level(folder):
    path = make_indexed_video(folder / "mpeg4.mp4", Fraction(25), 24, codec="mpeg4", audio=False)
    exact, _, _ = read_video_range(path, 0.0, 0.96, max_side=96)
    for level in ("bidir", "all"):
        frames, _, _ = read_video_range(path, 0.0, 0.96, max_side=96, skip_loop_filter=level)
        assert np.array_equal(frames, exact)


def test_an_unknown_loop_filter_level_is_refused_before_decoding(videos):
    with pytest.raises(ValueError, match="skip_loop_filter must be one of"):
        next(iter_video_frames(videos[Fraction(25)], 0.0, 1.0, skip_loop_filter="some"))


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_variable_frame_rate_indices_and_times(folder, suffix):
    path = make_vfr_video(folder / f"vfr{suffix}", n_frames=40)
    info = probe(path)
    assert info.is_vfr and info.n_frames == 40
    frames, times, indices = read_video_range(path, 0.3, 1.5, max_side=96)
    seen = decoded_indices(frames)
    assert seen == list(indices)  # indices count frames, not time × average rate
    half = 0.5 / float(info.video_rate)  # rounding tolerance: half an average frame
    assert seen == [i for i in range(40) if 0.3 - half <= vfr_time(i) < 1.5 - half]
    np.testing.assert_allclose(times, [vfr_time(i) for i in seen], atol=1e-3)
    frames, _, indices = read_video_range(path, 0.0, 2.0, sample_fps=4.0, max_side=96)
    assert list(indices) == [4 * k for k in range(8)]  # frame 4k sits exactly at k/4 s


def test_constant_rate_files_are_not_vfr(videos):
    assert not any(probe(p).is_vfr for p in videos.values())


# --- video: scaling ---------------------------------------------------------------------------------------


def test_downscale_keeps_aspect_and_even_sizes(videos):
    frames, _, _ = read_video_range(videos[Fraction(25)], 0, 0.2, max_side=100)
    assert frames.shape[1:] == (56, 100, 3) and frames.dtype == np.uint8
    frames, _, _ = read_video_range(videos[Fraction(25)], 0, 0.2, max_side=640)  # never upscaled
    assert frames.shape[1:] == (180, 320, 3)
    assert scaled_size(1920, 1080, 640) == (640, 360)
    assert scaled_size(1080, 1920, 640) == (360, 640)
    assert scaled_size(1440, 1080, 640) == (640, 480)
    assert all(v % 2 == 0 for v in scaled_size(1001, 333, 500))


# --- probe ------------------------------------------------------------------------------------------------


def test_probe_reads_rate_timecode_and_streams(videos, folder):
    info = probe(videos[Fraction(30000, 1001)])
    assert info.video_rate == Fraction(30000, 1001) and info.has_audio and info.has_video
    assert info.timecode == "01:00:00;00"  # drop-frame survives
    assert info.n_frames == N and info.start_offset_s == 0.0
    assert (info.width, info.height, info.audio_rate) == (320, 180, 48000)
    assert info.video_codec in ("h264", "mpeg4") and info.audio_codec == "aac"
    assert info.duration_s == pytest.approx(N * 1001 / 30000, abs=1e-3)
    assert probe(videos[Fraction(24000, 1001)]).timecode == "01:00:00:00"
    mkv = make_indexed_video(folder / "tc.mkv", Fraction(25), 10, timecode="10:00:00:00", audio=False)
    assert probe(mkv).timecode == "10:00:00:00"  # Matroska writes TIMECODE in capitals
    assert probe(videos[Fraction(25)]) is probe(str(videos[Fraction(25)]))  # cached per path/size/mtime


# --- audio ------------------------------------------------------------------------------------------------


def test_audio_is_exact_in_length_and_position(videos):
    path = videos[Fraction(25)]
    audio = read_audio_range(path, 0.5, 2.5, rate=16000)
    assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) == 32000
    assert int(np.argmax(audio > 0.3)) == 8000  # the click at 1.0 s of the file, 0.5 s into the range
    for start, end in [(0.1234, 1.9876), (1 / 3, 2 / 3 + 1.0), (0.00003, 0.00009 + 1)]:
        assert len(read_audio_range(path, start, end)) == round((end - start) * 16000)
    at8k = read_audio_range(path, 0.5, 2.5, rate=8000)
    assert len(at8k) == 16000 and int(np.argmax(at8k > 0.3)) == 4000


def test_many_chunks_equal_one_read(videos):
    path = videos[Fraction(24000, 1001)]
    start, end, chunk = 0.1, 2.9, 1 / 30  # 84 chunks of 533.33 samples each: rounding must not drift
    one = read_audio_range(path, start, end)
    chunks = list(iter_audio_chunks(path, start, end, chunk_s=chunk))
    assert np.array_equal(np.concatenate(chunks), one)
    bounds = chunk_bounds(start, end, chunk, 16000)
    assert [len(c) for c in chunks] == list(np.diff(bounds))
    assert set(np.diff(bounds)[:-1]) == {533, 534}  # the fractional sample is carried, not dropped
    assert bounds[40] == round((start + 40 * chunk) * 16000)


def test_a_chunk_is_joined_once_not_grown_frame_by_frame(videos, monkeypatch):
    """Growing the chunk by each codec frame (a few hundred samples) copied it thousands of times:
    quadratic in the chunk length (a 120 s block took 2 s of CPU) and a fragmenting heap."""
    path = videos[Fraction(25)]
    expected = read_audio_range(path, 0.0, 2.9)
    joined = []
    concatenate = np.concatenate

    def counting(parts, *args, **kwargs):
        out = concatenate(parts, *args, **kwargs)
        joined.append(out.size)
        return out

    monkeypatch.setattr(np, "concatenate", counting)
    chunks = list(iter_audio_chunks(path, 0.0, 2.9, chunk_s=1.0))
    monkeypatch.undo()
    assert np.array_equal(np.concatenate(chunks), expected)
    assert sum(joined) <= 1.5 * len(expected), f"{len(joined)} joins copied {sum(joined)} samples for {len(expected)}"
    assert len(joined) <= 3  # one per chunk


def test_audio_past_the_end_is_padded_and_logged(videos, caplog):
    with caplog.at_level(logging.WARNING, logger="emoguide.media.audio"):
        audio = read_audio_range(videos[Fraction(25)], 2.5, 3.5, rate=16000)
    assert len(audio) == 16000 and np.all(audio[-4000:] == 0)
    assert "padding" in caplog.text and "v25.000.mov" in caplog.text


def test_audio_only_files(folder):
    for name, rate in (("a.wav", 44100), ("a.m4a", 48000)):
        path = make_audio_only(folder / name, seconds=2.5, rate=rate)
        info = probe(path)
        assert info.has_audio and not info.has_video and info.audio_rate == rate
        assert info.duration_s == pytest.approx(2.5, abs=0.03)
        audio = read_audio_range(path, 0.25, 1.75)
        assert len(audio) == 24000 and int(np.argmax(audio > 0.3)) == 12000
        with pytest.raises(EmptyRange, match=name):
            next(iter_video_frames(path, 0, 1))


# --- bad inputs -------------------------------------------------------------------------------------------


def test_bad_inputs_raise_the_right_media_error_naming_the_file(folder, videos):
    cases = [
        (MediaOffline, lambda: probe(folder / "missing.mov"), "missing.mov"),
        (MediaOffline, lambda: read_audio_range(folder / "gone.wav", 0, 1), "gone.wav"),
        (MediaOffline, lambda: probe(folder), folder.name),
        (MediaCorrupt, lambda: probe(make_corrupt_file(folder / "junk.mp4")), "junk.mp4"),
        (MediaCorrupt, lambda: probe(make_zero_length(folder / "zero.mov")), "zero.mov"),
        (MediaCorrupt, lambda: probe(make_truncated_copy(videos[Fraction(25)], folder / "cut.mov")), "cut.mov"),
        (UnsupportedCodec, lambda: probe(make_unsupported_codec(folder / "odd.mov")), "odd.mov"),
        (UnsupportedCodec, lambda: next(iter_video_frames(folder / "odd.mov", 0, 0.2)), "odd.mov"),
        (EmptyRange, lambda: next(iter_video_frames(videos[Fraction(25)], 1.0, 1.0)), "v25.000.mov"),
        (EmptyRange, lambda: next(iter_video_frames(videos[Fraction(25)], 30.0, 31.0)), "v25.000.mov"),
        (EmptyRange, lambda: read_audio_range(videos[Fraction(25)], 5.0, 6.0), "v25.000.mov"),
        (EmptyRange, lambda: read_audio_range(videos[Fraction(25)], 2.0, 1.0), "v25.000.mov"),
    ]
    for cls, call, name in cases:
        with pytest.raises(cls, match=name) as caught:
            call()
        assert isinstance(caught.value, MediaError) and caught.value.path.endswith(name)
        assert caught.value.reason  # a reason, not just a path


def test_os_and_libav_errors_are_translated():
    import av

    from emoguide.media.errors import translate

    assert isinstance(translate("x.mov", PermissionError(13, "Permission denied")), MediaOffline)
    assert isinstance(translate("x.mov", av.InvalidDataError(1094995529, "Invalid data")), MediaCorrupt)
    assert isinstance(translate("x.mov", FileNotFoundError(2, "No such file")), MediaOffline)
    assert "x.mov" in str(translate("x.mov", RuntimeError("odd")))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file_is_offline(folder, videos):
    path = folder / "locked.mov"
    path.write_bytes(Path(videos[Fraction(25)]).read_bytes())
    path.chmod(0)
    try:
        with pytest.raises(MediaOffline, match="permission"):
            probe(path)
    finally:
        path.chmod(0o644)


def test_truncated_stream_decodes_what_is_there(folder):
    full = make_indexed_video(folder / "long.ts", Fraction(25), N)
    cut = make_truncated_copy(full, keep=0.5)
    frames, _, indices = read_video_range(cut, 0.2, 0.8, max_side=96)
    assert decoded_indices(frames) == list(range(5, 20))
    with pytest.raises((EmptyRange, MediaCorrupt), match="long_truncated.ts"):
        read_video_range(cut, 2.4, 2.8)


def test_failed_seek_falls_back_to_decoding_from_the_start(videos, monkeypatch):
    """PyAV raises EPERM on seek() in some FLVs (CREMA-D): reopen and decode from the top instead."""
    path = videos[Fraction(24000, 1001)]
    calls = []

    def refuse(container, offset, stream):
        calls.append(offset)
        raise PermissionError(1, "Operation not permitted")

    expected_audio = read_audio_range(path, 1.5, 2.5)
    monkeypatch.setattr(video_mod, "_container_seek", refuse)
    frames, _, indices = read_video_range(path, 40 / Fraction(24000, 1001), 50 / Fraction(24000, 1001), max_side=96)
    assert calls and decoded_indices(frames) == list(range(40, 50)) == list(indices)
    assert np.array_equal(read_audio_range(path, 1.5, 2.5), expected_audio)


def test_seek_landing_after_the_start_is_retried(videos, monkeypatch, caplog):
    """Some demuxers land after the target: the first frame would be late, so seek further back."""
    path = videos[Fraction(25)]
    real = video_mod._container_seek
    targets = []

    def overshoot(container, offset, stream):
        targets.append(offset * stream.time_base)
        real(container, offset + int(1.2 / stream.time_base), stream)

    monkeypatch.setattr(video_mod, "_container_seek", overshoot)
    with caplog.at_level(logging.DEBUG, logger="emoguide.media.video"):
        frames, _, _ = read_video_range(path, 1.32, 1.72, max_side=96)
    assert decoded_indices(frames) == list(range(33, 43))
    assert targets[0] == pytest.approx(0.82) and "landed after" in caplog.text  # retried from further back


CREMA = sorted(glob.glob(os.path.join(os.environ.get("EMOGUIDE_DATA", str(Path(__file__).resolve().parents[2] /
                                                                          "shared" / "data")),
                                      "crema_d_sample", "VideoFlash", "*.flv")))


@pytest.mark.skipif(not CREMA, reason="CREMA-D sample not available")
def test_real_crema_d_flv_ranges_match_a_full_decode():
    path = CREMA[0]
    info = probe(path)
    assert info.video_codec == "vp6f" and info.has_audio
    full, _, full_idx = read_video_range(path, 0, 2.0, max_side=96)
    part, _, part_idx = read_video_range(path, 1.0, 1.5, max_side=96)
    at = list(full_idx).index(part_idx[0])
    assert part_idx[0] == round(1.0 * float(info.video_rate))
    assert np.array_equal(full[at:at + len(part)], part)
    assert len(read_audio_range(path, 0.5, 1.5)) == 16000


# --- prefetch ---------------------------------------------------------------------------------------------


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "emoguide-prefetch" and t.is_alive()]


def test_prefetch_keeps_order_and_propagates_errors():
    assert list(prefetch(range(50), maxsize=3)) == list(range(50))

    def boom():
        yield 1
        raise ValueError("decode failed")

    got = []
    with pytest.raises(ValueError, match="decode failed"):
        for item in prefetch(boom()):
            got.append(item)
    assert got == [1]
    with pytest.raises(MediaOffline):
        list(prefetch(iter_video_frames("/nonexistent/clip.mov", 0, 1)))
    assert not prefetch_threads()


def test_prefetch_early_stop_leaks_no_thread_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    it = prefetch(source(), maxsize=2)
    assert next(it) == 0 and len(prefetch_threads()) == 1
    it.close()
    assert not prefetch_threads() and closed.is_set()
    for item in prefetch(source(), maxsize=2):  # break out of a for loop: the generator is closed by GC
        if item == 3:
            break
    del item
    unstarted = prefetch(range(5))  # never iterated: no thread at all
    assert not prefetch_threads()
    del unstarted


def test_prefetch_of_real_frames_matches_direct_decode(videos):
    path = videos[Fraction(25)]
    direct = [f.index for f in iter_video_frames(path, 0.4, 1.6, max_side=64)]
    assert [f.index for f in prefetch(iter_video_frames(path, 0.4, 1.6, max_side=64), maxsize=4)] == direct
    assert not prefetch_threads()


# --- stats ------------------------------------------------------------------------------------------------


def test_picture_stats():
    dark = np.full((2, 8, 8, 3), 30, np.uint8)
    bright = np.full((2, 8, 8, 3), 220, np.uint8)
    assert frame_stats(bright)["brightness"][0] > frame_stats(dark)["brightness"][0]
    assert frame_stats(bright)["brightness"][0] == pytest.approx(220 / 255, abs=1e-3)
    warm = np.zeros((1, 8, 8, 3), np.uint8)
    warm[..., 0] = 200
    cool = warm[..., ::-1].copy()
    s = frame_stats(np.concatenate([warm, cool]))
    assert s["warmth"][0] > 0.5 > -0.5 > s["warmth"][1] and s["saturation"][0] == pytest.approx(1.0)
    assert frame_stats(dark)["saturation"][0] == 0 and frame_stats(dark)["contrast"][0] < 1e-6
    checker = np.zeros((1, 8, 8, 3), np.uint8)
    checker[:, ::2] = 255
    assert frame_stats(checker)["contrast"][0] == pytest.approx(0.5, abs=1e-3)
    many = np.random.default_rng(0).integers(0, 255, (37, 6, 6, 3), dtype=np.uint8)  # crosses the batch size
    np.testing.assert_allclose(frame_stats(many)["brightness"], (many / 255.0 @ [0.299, 0.587, 0.114]).mean(axis=(1, 2)),
                               atol=1e-5)


def test_motion_energy_on_decoded_video(folder, videos):
    static, _, _ = read_video_range(make_static_video(folder / "static.mp4"), 0, 0.4, max_side=160)
    assert len(static) == 10 and motion_energy(static).max() < 0.01
    moving, _, _ = read_video_range(videos[Fraction(25)], 0, 0.4, max_side=160)
    assert motion_energy(moving).min() > 0.03  # the index pattern changes every frame
    assert len(motion_energy(moving)) == len(moving) - 1


def test_sound_stats():
    rate = 16000
    t = np.arange(2 * rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    rng = np.random.default_rng(0)
    syllables = (rng.normal(0, 0.2, len(t)) * (np.sin(2 * np.pi * 4 * t) > 0.3)).astype(np.float32)
    silence = np.zeros_like(tone)
    s = audio_window_stats(np.concatenate([tone, syllables, silence]), np.array([0.0, 2.0, 4.0]),
                           np.array([2.0, 4.0, 6.0]))
    assert s["speech_mod"][1] > 0.5 > 0.05 > s["speech_mod"][0]  # 4 Hz syllabic rhythm vs a steady tone
    assert s["music_prob"][0] > 0.8 > 0.2 > s["music_prob"][1] and s["music_prob"][2] == 0
    assert s["loudness_db"][0] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)
    assert s["loudness_lufs"][0] == pytest.approx(20 * np.log10(0.5) - 3.01, abs=0.1)  # BS.1770: 1 kHz sine
    assert s["loudness_range_db"][0] < 0.5 < s["loudness_range_db"][1]
    assert s["silence"][2] == 1 and s["silence"][0] == 0 and s["loudness_lufs"][2] == -70
    short = audio_window_stats(tone, np.array([0.0]), np.array([0.05]))
    assert np.isnan(short["loudness_db"][0])
