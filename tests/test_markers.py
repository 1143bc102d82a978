"""Marker write-back: placement, our namespace only, idempotent re-runs, lossless round trip."""

from __future__ import annotations

import copy

import numpy as np
import opentimelineio as otio
import pytest

from emoguide import NAMESPACE
from emoguide.labels import LABEL_INDEX, NUM_CLASSES
from emoguide.pipeline.results import BriefEvent, ClipAnalysis, ClipWindows, TimelineAnalysis
from emoguide.timeline.mapping import clip_jobs
from emoguide.timeline.markers import annotated_copy, is_ours, label_segments, remove_our_markers, write_markers

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
RATE = 30000 / 1001
TC = 107892  # 01:00:00;00 drop-frame at 29.97 = 107892 frames


def make_timeline():
    tl = otio.schema.Timeline(name="cut", global_start_time=RT(107892, RATE))
    track = otio.schema.Track(name="V1")
    ref = otio.schema.ExternalReference(target_url="file:///m/a.mov", available_range=TR(RT(TC, RATE), RT(9000, RATE)))
    c = otio.schema.Clip(name="a", media_reference=ref, source_range=TR(RT(TC + 300, RATE), RT(150, RATE)),
                         metadata={"user": {"keep": 1}})
    c.markers.append(otio.schema.Marker(name="user note", marked_range=TR(RT(TC + 310, RATE), RT(1, RATE)),
                                        metadata={"mine": True}))
    track.append(c)
    track.append(otio.schema.Gap(duration=RT(30, RATE)))
    off = otio.schema.Clip(name="offline", media_reference=otio.schema.MissingReference(),
                           source_range=TR(RT(0, RATE), RT(60, RATE)))
    track.append(off)
    tl.tracks.append(track)
    return tl


def windows_for(job, labels, disagreement=None):
    n = len(labels)
    starts = job.media_start_s + np.arange(n) * 1.0
    ends = np.minimum(starts + 2.0, job.media_end_s)
    probs = np.full((n, NUM_CLASSES), 0.02, np.float32)
    for i, lab in enumerate(labels):
        probs[i, LABEL_INDEX[lab]] = 0.88
    present = np.ones(n, bool)
    return ClipWindows(
        start_s=starts.astype(np.float32), end_s=ends.astype(np.float32),
        timeline_start_s=np.array([job.media_to_timeline(s) for s in starts], np.float32),
        timeline_end_s=np.array([job.media_to_timeline(e) for e in ends], np.float32),
        probs=probs, vad=np.tile(np.array([[0.3, 0.2, 0.1]], np.float32), (n, 1)), confidence=np.full(n, .8, np.float32),
        disagreement=np.asarray(disagreement if disagreement is not None else np.zeros(n), np.float32),
        disagreeing_pair=["face~voice"] * n, contributions={"face": np.ones(n, np.float32)},
        modalities={"face": {"probs": probs, "present": present}, "voice": {"probs": probs[::-1].copy(), "present": present}},
        stats={}, fusion="late", vad_source="norms")


def make_analysis(tl):
    jobs = clip_jobs(tl)
    a = ClipAnalysis(job=jobs[0], status="ok",
                     windows=windows_for(jobs[0], ["happy", "happy", "sad", "sad"], [0, 0, 0.7, 0.8]),
                     events=[BriefEvent(jobs[0].media_start_s + 1.0, jobs[0].media_start_s + 1.1,
                                        jobs[0].media_start_s + 1.3, "surprised", 0.6)])
    b = ClipAnalysis(job=jobs[1], status="offline", message="media offline: the clip has no media reference")
    return TimelineAnalysis(timeline_name="cut", duration_s=8.0, rate=RATE, start_timecode_s=3600.0, clips=[a, b],
                            models={"face": "x"}, settings={}, emoguide_version="test")


def ours(item):
    return [m for m in item.markers if is_ours(m)]


def test_markers_are_frame_exact_in_clip_media_time_with_timecode():
    tl = make_timeline()
    write_markers(tl, make_analysis(tl))
    clip = tl.tracks[0][0]
    emotion = [m for m in ours(clip) if m.metadata[NAMESPACE]["kind"] == "emotion"]
    assert [m.metadata[NAMESPACE]["label"] for m in emotion] == ["happy", "sad"]
    # first window starts at the clip's first used frame: TC + 300, at the clip's rate
    assert emotion[0].marked_range.start_time.value == TC + 300
    assert emotion[0].marked_range.start_time.rate == pytest.approx(RATE)
    # second segment starts 2 windows (2 s) later, snapped to a whole frame
    assert emotion[1].marked_range.start_time.value == TC + 300 + round(2 * RATE)
    assert emotion[0].name.startswith("happy 88% · V+0.3 A+0.2")
    assert emotion[0].color == otio.schema.MarkerColor.YELLOW


def test_mixed_signal_brief_offline_and_timeline_markers():
    tl = make_timeline()
    write_markers(tl, make_analysis(tl))
    kinds = [m.metadata[NAMESPACE]["kind"] for m in ours(tl.tracks[0][0])]
    assert kinds.count("mixed_signals") == 1 and kinds.count("brief_expression") == 1
    offline = ours(tl.tracks[0][2])
    assert [m.metadata[NAMESPACE]["kind"] for m in offline] == ["media_offline"]
    assert "media offline" in offline[0].name
    assert {m.metadata[NAMESPACE]["event"] for m in ours(tl.tracks)} == {"peak_arousal", "valence_low"}


def test_rerun_replaces_ours_and_keeps_users():
    tl = make_timeline()
    analysis = make_analysis(tl)
    write_markers(tl, analysis)
    first = otio.adapters.write_to_string(tl)
    write_markers(tl, analysis)
    assert otio.adapters.write_to_string(tl) == first  # idempotent
    user = [m for m in tl.tracks[0][0].markers if not is_ours(m)]
    assert [m.name for m in user] == ["user note"]


def test_round_trip_is_lossless_after_removing_ours(tmp_path):
    original = make_timeline()
    annotated = annotated_copy(original, make_analysis(original))
    assert not original.tracks[0][0].metadata.get(NAMESPACE)  # the input object is untouched
    path = tmp_path / "a.otio"
    otio.adapters.write_to_file(annotated, str(path))
    reread = otio.adapters.read_from_file(str(path))
    assert remove_our_markers(reread) > 0
    assert reread.is_equivalent_to(original)


def test_label_segments():
    probs = np.eye(NUM_CLASSES)[[1, 1, 2, 1]]
    assert label_segments(probs) == [(0, 2), (2, 3), (3, 4)]


def test_deepcopy_of_markers_keeps_namespace():
    tl = make_timeline()
    write_markers(tl, make_analysis(tl))
    assert len(ours(copy.deepcopy(tl).tracks[0][0])) == len(ours(tl.tracks[0][0]))
