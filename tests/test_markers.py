"""Marker write-back: placement, our namespace only, idempotent re-runs, lossless round trip."""

from __future__ import annotations

import copy

import numpy as np
import opentimelineio as otio
import pytest
from factories import RATE, TC, make_analysis, make_timeline

from emoguide import NAMESPACE
from emoguide.labels import NUM_CLASSES
from emoguide.timeline.markers import annotated_copy, is_ours, label_segments, remove_our_markers, write_markers

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
