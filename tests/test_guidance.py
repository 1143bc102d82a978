"""Each guidance rule on constructed analyses: it fires where it should and stays quiet where it should not."""

from __future__ import annotations

import json

import numpy as np
import opentimelineio as otio
import pytest

from emoguide import NAMESPACE
from emoguide.guidance import Guidance, GuidanceConfig, TargetArc, guide
from emoguide.guidance.rules.pacing import expected_shot_s
from emoguide.labels import LABEL_INDEX, NUM_CLASSES, VAD_MATRIX
from emoguide.pipeline.results import BriefEvent, ClipAnalysis, ClipWindows, TimelineAnalysis
from emoguide.timeline.mapping import ClipJob, MediaSource
from emoguide.timeline.markers import write_markers


def clip(i, t0, dur, label, stats=None, disagree=0.0, events=(), p=0.9, face=None, voice=None):
    job = ClipJob(f"V1/{i}", f"c{i}", "V1", "Video", MediaSource(__import__("pathlib").Path("/m.mov")), 0.0, dur, 1.0,
                  t0, t0 + dur, 24.0)
    n = max(1, int(dur))
    probs = np.full((n, NUM_CLASSES), (1 - p) / (NUM_CLASSES - 1), np.float32)
    probs[:, LABEL_INDEX[label]] = p
    starts = np.arange(n, dtype=np.float32)
    mods = {"face": {"probs": probs if face is None else _p(face, n), "present": np.ones(n, bool)},
            "voice": {"probs": probs if voice is None else _p(voice, n), "present": np.ones(n, bool)}}
    w = ClipWindows(starts, np.minimum(starts + 2, dur).astype(np.float32), starts + t0, np.minimum(starts + 2, dur) + t0,
                    probs, probs @ VAD_MATRIX, np.full(n, 0.8, np.float32), np.full(n, disagree, np.float32),
                    ["face~voice"] * n, {}, mods, {k: np.full(n, v, np.float32) for k, v in (stats or {}).items()},
                    "late", "norms")
    return ClipAnalysis(job, "ok", windows=w, events=list(events))


def _p(label, n):
    probs = np.full((n, NUM_CLASSES), 0.02, np.float32)
    probs[:, LABEL_INDEX[label]] = 0.88
    return probs


def timeline(*clips):
    duration = max(c.job.timeline_end_s for c in clips)
    return TimelineAnalysis("t", duration, 24.0, 0.0, list(clips), {}, {}, "test")


def kinds(g: Guidance, kind: str):
    return [s for s in g.by_kind(kind)]


def test_pacing_flags_long_intense_shots_and_short_calm_ones():
    a = timeline(clip(0, 0, 12, "angry"), clip(1, 12, 3, "angry"), clip(2, 15, 1, "sad"), clip(3, 16, 4, "neutral"))
    s = kinds(guide(a), "pacing")
    assert {x.clip_id for x in s} == {"V1/0", "V1/2"}
    trim = next(x for x in s if x.clip_id == "V1/0")
    assert trim.action["trim_s"] == pytest.approx(12 - expected_shot_s(a.clips[0].summary()["vad"][1], GuidanceConfig()), abs=0.05)
    assert "Cutting" in trim.source


def test_cut_points_at_brief_expression_offsets_and_turns():
    c = clip(0, 0, 6, "happy", events=[BriefEvent(1.0, 1.1, 1.3, "surprised", 0.6), BriefEvent(3, 3.1, 3.2, "sad", 0.1)])
    c.windows.probs[3:] = _p("sad", 3)
    s = kinds(guide(timeline(c)), "cut_point")
    brief = [x for x in s if x.rule == "cut_point.brief_expression_offset"]
    assert len(brief) == 1 and brief[0].action["cut_at_media_s"] == 1.3  # the weak event is ignored
    turns = [x for x in s if x.rule == "cut_point.emotional_turn"]
    assert len(turns) == 1 and turns[0].action["from"] == "happy" and turns[0].action["to"] == "sad"


def test_colour_direction_follows_valdez_mehrabian():
    dark_happy = clip(0, 0, 4, "happy", stats={"brightness": 0.15, "saturation": 0.1, "warmth": -0.05})
    fine_happy = clip(1, 4, 4, "happy", stats={"brightness": 0.6, "saturation": 0.45, "warmth": 0.05})
    s = kinds(guide(timeline(dark_happy, fine_happy)), "colour")  # intended = the happy performance
    assert [x.clip_id for x in s] == ["V1/0"]
    grade = s[0].action["grade"]
    assert grade["brightness"] > 0 and grade["saturation"] > 0 and grade["warmth"] > 0
    assert "Valdez" in s[0].source


def test_sound_against_picture_arousal():
    quiet_angry = clip(0, 0, 4, "angry", stats={"audio_loudness_db": -45.0, "audio_music_prob": 0.1})
    loud_calm = clip(1, 4, 4, "sad", stats={"audio_loudness_db": -10.0, "audio_music_prob": 0.9})
    fine = clip(2, 8, 4, "angry", stats={"audio_loudness_db": -20.0})
    s = kinds(guide(timeline(quiet_angry, loud_calm, fine)), "sound")
    assert {x.clip_id: x.rule for x in s} == {"V1/0": "sound.quiet_under_high_arousal", "V1/1": "sound.loud_under_calm"}


def test_arc_departures_against_a_target():
    a = timeline(clip(0, 0, 5, "sad"), clip(1, 5, 5, "neutral"), clip(2, 10, 5, "happy"))
    assert kinds(guide(a), "arc") == []  # no target, no arc suggestions
    rising = kinds(guide(a, "rising"), "arc")
    falling = kinds(guide(a, "falling"), "arc")
    assert "V1/0" not in {x.clip_id for x in rising}  # sad start fits a rising arc
    assert {"V1/0", "V1/2"} <= {x.clip_id for x in falling}  # but not a falling one


def test_mixed_signals_and_transitions():
    a = timeline(clip(0, 0, 4, "happy", disagree=0.7, face="happy", voice="sad"), clip(1, 4, 4, "happy"),
                 clip(2, 8, 4, "angry"))
    g = guide(a)
    mixed = kinds(g, "mixed_signals")
    assert len(mixed) == 1 and mixed[0].action["face"] == "happy" and mixed[0].action["voice"] == "sad"
    jumps = kinds(g, "transition")
    assert [x.clip_id for x in jumps] == ["V1/2"]


def test_targets_presets_files_and_reference(tmp_path):
    v, a = TargetArc.preset("four-act").at(0.75)
    assert a == pytest.approx(0.7)
    f = tmp_path / "arc.json"
    f.write_text(json.dumps({"units": "seconds", "keyframes": [{"t": 0, "valence": -0.5, "arousal": 0},
                                                                 {"t": 10, "valence": 0.5, "arousal": 0.5}]}))
    arc = TargetArc.from_file(f, duration_s=20)
    assert arc.at(0.25)[0] == pytest.approx(0.0)
    csvf = tmp_path / "arc.csv"
    csvf.write_text("t,valence,arousal\n0,0,0\n1,1,1\n")
    assert TargetArc.from_file(csvf).at(0.5)[1] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown target"):
        TargetArc.preset("sideways")
    ref = TargetArc.from_reference(timeline(clip(0, 0, 5, "sad"), clip(1, 5, 5, "happy")))
    assert ref.at(0.0)[0] < 0 < ref.at(1.0)[0]


def test_guidance_markers_json_round_trip_and_idempotent_rerun():
    from factories import make_analysis, make_timeline

    tl = make_timeline()
    analysis = make_analysis(tl)
    g = guide(analysis, "rising")
    assert g.suggestions
    again = Guidance.from_dict(json.loads(json.dumps(g.to_dict())))
    assert [s.title for s in again.suggestions] == [s.title for s in g.suggestions]
    write_markers(tl, analysis, g)
    first = otio.adapters.write_to_string(tl)
    write_markers(tl, analysis, g)
    assert otio.adapters.write_to_string(tl) == first
    ours = [m for m in tl.tracks[0][0].markers if m.metadata.get(NAMESPACE, {}).get("kind") == "guidance"]
    assert ours and all(m.name.startswith("▸ ") for m in ours)
    assert ours[0].color == otio.schema.MarkerColor.CYAN
    assert ours[0].metadata[NAMESPACE]["guidance"]["rule"]


def test_config_file_overrides_and_rejects_unknown(tmp_path):
    good = tmp_path / "g.json"
    good.write_text('{"jump": 0.9}')
    assert GuidanceConfig.from_file(good).jump == 0.9
    bad = tmp_path / "b.json"
    bad.write_text('{"jmup": 0.9}')
    with pytest.raises(ValueError, match="jmup"):
        GuidanceConfig.from_file(bad)
