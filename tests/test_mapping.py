"""Clip → media range mapping: timecode offsets, rates, speed, gaps, references, bad files."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from emoguide.timeline.mapping import (TimelineError, clip_jobs, iter_clips, load_timeline, resolve_media,
                                       url_to_path)

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def clip(name, rate, start_frame, frames, tc_frames=0, media_frames=100_000, url="file:///media/a.mov", speed=None):
    ref = otio.schema.ExternalReference(target_url=url, available_range=TR(RT(tc_frames, rate), RT(media_frames, rate)))
    c = otio.schema.Clip(name=name, media_reference=ref, source_range=TR(RT(start_frame, rate), RT(frames, rate)))
    if speed is not None:
        c.effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))
    return c


def timeline(*items, rate=24.0):
    track = otio.schema.Track(name="V1")
    for item in items:
        track.append(item)
    tl = otio.schema.Timeline(name="t", global_start_time=RT(86400, rate))
    tl.tracks.append(track)
    return tl


@pytest.mark.parametrize("rate,tc", [(24000 / 1001, 86313), (30000 / 1001, 107892), (25.0, 90000), (60000 / 1001, 215784)])
def test_source_range_maps_to_media_seconds_with_start_timecode(rate, tc):
    # media timecode starts at 01:00:00:00 (tc frames); the clip uses frames 120..168 of the file
    tl = timeline(clip("a", rate, tc + 120, 48, tc_frames=tc))
    (job,) = clip_jobs(tl)
    assert job.media_start_s == pytest.approx(120 / rate, abs=1e-9)
    assert job.media_end_s == pytest.approx(168 / rate, abs=1e-9)
    assert job.rate == pytest.approx(rate)
    assert job.problem is None


def test_timeline_positions_skip_gaps_and_transitions():
    a, b = clip("a", 24, 0, 48), clip("b", 24, 10, 24)
    gap = otio.schema.Gap(duration=RT(12, 24))
    tl = timeline(a, gap, b)
    jobs = clip_jobs(tl)
    assert [j.clip_id for j in jobs] == ["V1/0", "V1/2"]
    assert jobs[1].timeline_start_s == pytest.approx(60 / 24)
    assert jobs[1].media_to_timeline(jobs[1].media_start_s + 0.5) == pytest.approx(60 / 24 + 0.5)
    tl2 = timeline(clip("a", 24, 0, 48), otio.schema.Transition(in_offset=RT(6, 24), out_offset=RT(6, 24)),
                   clip("b", 24, 0, 48))
    assert [j.clip_id for j in clip_jobs(tl2)] == ["V1/0", "V1/2"]


def test_speed_changes_consumed_media_and_freeze_uses_one_frame():
    (fast,) = clip_jobs(timeline(clip("f", 24, 0, 48, speed=2.0)))
    assert fast.media_duration_s == pytest.approx(4.0)
    assert fast.timeline_end_s - fast.timeline_start_s == pytest.approx(2.0)
    assert fast.media_to_timeline(2.0) == pytest.approx(1.0)
    (freeze,) = clip_jobs(timeline(clip("z", 24, 0, 48, speed=0.0)))
    assert freeze.media_duration_s == pytest.approx(1 / 24)


def test_zero_length_and_missing_reference_are_problems_not_crashes():
    zero = clip("zero", 24, 0, 0)
    missing = otio.schema.Clip(name="m", media_reference=otio.schema.MissingReference(),
                               source_range=TR(RT(0, 24), RT(24, 24)))
    jobs = clip_jobs(timeline(zero, missing))
    assert jobs[0].problem == "zero-length clip"
    assert jobs[1].problem.startswith("media offline")


def test_clip_before_media_start_is_flagged():
    (job,) = clip_jobs(timeline(clip("early", 24, 86400 - 48, 24, tc_frames=86400)))
    assert "before its media" in job.problem


def test_urls_and_relative_paths(tmp_path):
    assert url_to_path("file:///a/b%20c.mov", None) == Path("/a/b c.mov")
    assert url_to_path("media/x.mp4", tmp_path) == tmp_path / "media/x.mp4"
    assert url_to_path("https://example.invalid/x.mp4", None) is None
    source, problem = resolve_media(otio.schema.GeneratorReference(generator_kind="SolidColor"), None)
    assert source is None and "generated" in problem


def test_image_sequence_becomes_image2_pattern(tmp_path):
    ref = otio.schema.ImageSequenceReference(target_url_base=str(tmp_path) + "/", name_prefix="shot.", name_suffix=".png",
                                             start_frame=1001, frame_zero_padding=4, rate=24)
    source, problem = resolve_media(ref, None)
    assert problem is None and source.container_format == "image2"
    assert source.path.name == "shot.%04d.png" and source.options["start_number"] == "1001"


def test_audio_tracks_numbered_separately():
    tl = timeline(clip("a", 24, 0, 24))
    audio = otio.schema.Track(name="", kind=otio.schema.TrackKind.Audio)
    audio.append(clip("snd", 24, 0, 24))
    tl.tracks.append(audio)
    assert [cid for cid, _, _ in iter_clips(tl)] == ["V1/0", "A1/0"]


def test_malformed_and_missing_timelines_raise_clear_errors(tmp_path):
    bad = tmp_path / "bad.otio"
    bad.write_text('{"OTIO_SCHEMA": "Timeline.1", "tracks": [1, 2')
    with pytest.raises(TimelineError, match="bad.otio"):
        load_timeline(bad)
    with pytest.raises(TimelineError, match="no such timeline"):
        load_timeline(tmp_path / "nope.otio")
    clipfile = tmp_path / "clip.otio"
    otio.adapters.write_to_file(clip("a", 24, 0, 24), str(clipfile))
    with pytest.raises(TimelineError, match="not a Timeline"):
        load_timeline(clipfile)
