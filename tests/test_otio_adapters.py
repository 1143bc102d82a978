"""The OTIO plugin package: registration, captions in, Resolve EDL / CSV / JSON markers out, the hook."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import opentimelineio as otio
import pytest
from factories import make_analysis, make_timeline

from emoguide.captions import CaptionError, find_sidecar, parse_srt, parse_vtt, read_captions
from emoguide.timeline.markers import make_marker, write_markers

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
SRT = "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <i>there</i>\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nI miss her"
VTT = "WEBVTT - demo\n\nNOTE a note\n\nSTYLE\n::cue { color: red }\n\n00:01.000 --> 00:02.000 align:start\n<v Ana>Hi &amp; bye\n\n01:00:00.000 --> 01:00:01.500\nlater"


def test_adapters_and_hook_are_registered_through_the_entry_point():
    manifest = otio.plugins.ActiveManifest()
    names = {a.name for a in manifest.adapters}
    assert {"emoguide_srt", "emoguide_webvtt", "emoguide_resolve_edl", "emoguide_markers_csv",
            "emoguide_markers_json"} <= names
    assert "emoguide_resolve_notes" in manifest.hooks["pre_adapter_write"]
    assert otio.adapters.from_filepath("x.srt").name == "emoguide_srt"
    edl = next(a for a in manifest.adapters if a.name == "emoguide_resolve_edl")
    assert "edl" not in edl.suffixes  # .edl belongs to the CMX 3600 adapter; ours is chosen by name


def test_caption_parsing_edge_cases():
    cues = parse_srt(SRT)
    assert [(c.start_s, c.end_s, c.text) for c in cues] == [(1.0, 2.5, "Hello there"), (3.0, 4.0, "I miss her")]
    vtt = parse_vtt(VTT)
    assert vtt[0].text == "Hi & bye" and vtt[0].speaker == "Ana" and vtt[1].start_s == 3600.0
    assert parse_srt("1\n00:00:01,000 --> 00:00:02,000\nno final newline")[0].text == "no final newline"
    with pytest.raises(CaptionError, match="line 2"):
        parse_srt("1\n00:00:01,000 -> 00:00:02,000\nx\n")
    with pytest.raises(CaptionError, match="WEBVTT"):
        parse_vtt("00:01.000 --> 00:02.000\nx")


@pytest.mark.parametrize("rate", [24000 / 1001, 24.0, 25.0, 30000 / 1001, 60000 / 1001])
def test_srt_reads_into_a_caption_track_at_any_rate(tmp_path, rate):
    path = tmp_path / "clip.srt"
    path.write_text(SRT, encoding="utf-8")
    tl = otio.adapters.read_from_file(str(path), rate=rate)
    clips = list(tl.find_clips())
    assert [c.name for c in clips] == ["Hello there", "I miss her"]
    assert clips[0].range_in_parent().start_time.value == round(1.0 * rate)
    assert clips[1].range_in_parent().start_time.value == round(3.0 * rate)
    assert clips[0].metadata["emoguide"]["caption"]["end_s"] == 2.5
    again = otio.adapters.write_to_string(tl, "emoguide_srt")
    assert [c.text for c in parse_srt(again)] == ["Hello there", "I miss her"]


def test_vtt_reads_by_suffix_and_bad_files_raise_otio_errors(tmp_path):
    path = tmp_path / "clip.vtt"
    path.write_text(VTT, encoding="utf-8")
    assert [c.name for c in otio.adapters.read_from_file(str(path)).find_clips()] == ["Hi & bye", "later"]
    bad = tmp_path / "bad.srt"
    bad.write_text("1\n00:00:01,000 --> 00:00:0x,000\nbroken\n")
    with pytest.raises(otio.exceptions.OTIOError, match="line 2"):
        otio.adapters.read_from_file(str(bad))


def test_sidecar_lookup(tmp_path):
    media = tmp_path / "shot.mov"
    media.write_bytes(b"")
    assert find_sidecar(media) is None
    (tmp_path / "shot.en.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n")
    assert find_sidecar(media).name == "shot.en.vtt"
    (tmp_path / "shot.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    assert find_sidecar(media).name == "shot.srt"
    assert read_captions(find_sidecar(media))[0].text == "hi"


RATES = [(24000 / 1001, False, 86400 * 1000 / 1001), (24.0, False, 86400), (25.0, False, 90000),
         (30000 / 1001, True, 107892), (60000 / 1001, True, 215784)]


def timeline_at(rate, start_frames, drop):
    tl = otio.schema.Timeline(name="cut", global_start_time=RT(start_frames, rate))
    track = otio.schema.Track(name="V1")
    ref = otio.schema.ExternalReference(target_url="/m/a.mov", available_range=TR(RT(0, rate), RT(10000, rate)))
    clip = otio.schema.Clip(name="a", media_reference=ref, source_range=TR(RT(100, rate), RT(500, rate)))
    track.append(otio.schema.Gap(duration=RT(48, rate)))
    track.append(clip)
    tl.tracks.append(track)
    # a marker at media frame 130 = 30 frames into the clip = timeline frame 48 + 30
    clip.markers.append(make_marker("emotion", "V1/1:emotion:0", "happy 80% · V+0.4 A+0.2", RT(130, rate), RT(12, rate),
                                    "detail", "happy", label="happy"))
    tl.tracks.markers.append(make_marker("timeline", "timeline:peak", "arc · arousal peak", RT(200, rate), RT(1, rate),
                                         "peak", "timeline"))
    clip.markers.append(otio.schema.Marker(name="user", marked_range=TR(RT(140, rate), RT(1, rate))))
    return tl


@pytest.mark.parametrize("rate,drop,start", RATES, ids=["23.976", "24", "25", "29.97DF", "59.94DF"])
def test_edl_and_csv_timecodes_are_exact(rate, drop, start):
    start = round(start) if rate != 24000 / 1001 else 86314  # 01:00:00:00 at 23.976 counts 24 fps labels
    tl = timeline_at(rate, start, drop)
    expected = otio.opentime.to_timecode(RT(start + 48 + 30, rate), rate, drop)
    edl = otio.adapters.write_to_string(tl, "emoguide_resolve_edl")
    assert f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}" in edl
    assert f"001  001      V     C        {expected} " in edl
    assert " |C:ResolveColorYellow |M:happy 80% · V+0.4 A+0.2 |D:12" in edl
    assert "|M:user" not in edl and "|M:user" in otio.adapters.write_to_string(tl, "emoguide_resolve_edl",
                                                                                 include_all=True)
    rows = list(csv.DictReader(io.StringIO(otio.adapters.write_to_string(tl, "emoguide_markers_csv"))))
    assert rows[0]["timecode_in"] == expected and rows[0]["duration_frames"] == "12"
    assert rows[0]["where"] == "V1 · a" and rows[1]["where"] == "timeline"
    assert rows[1]["timecode_in"] == otio.opentime.to_timecode(RT(start + 200, rate), rate, drop)


def test_json_writer_and_guidance_fields():
    tl = make_timeline()
    write_markers(tl, make_analysis(tl))
    data = json.loads(otio.adapters.write_to_string(tl, "emoguide_markers_json"))
    kinds = {m["kind"] for m in data["markers"]}
    assert {"emotion", "mixed_signals", "brief_expression", "media_offline", "timeline"} <= kinds
    assert all(m["timecode_in"].count(";") == 1 for m in data["markers"])  # 29.97 → drop-frame


def test_resolve_notes_hook_copies_notes_on_a_copy(tmp_path):
    tl = make_timeline()
    write_markers(tl, make_analysis(tl))
    path = tmp_path / "out.otio"
    otio.adapters.write_to_file(tl, str(path))
    ours = [m for m in tl.tracks[0][0].markers if "emoguide" in m.metadata]
    assert all("Resolve_OTIO" not in m.metadata for m in ours)  # the caller's object is untouched
    written = otio.adapters.read_from_file(str(path))
    notes = [m.metadata["Resolve_OTIO"]["Note"] for m in written.tracks[0][0].markers if "emoguide" in m.metadata]
    assert notes and notes[0] == ours[0].comment
    user = [m for m in written.tracks[0][0].markers if "emoguide" not in m.metadata]
    assert "Resolve_OTIO" not in user[0].metadata


def test_otioconvert_end_to_end(tmp_path):
    src = tmp_path / "subs.srt"
    src.write_text(SRT, encoding="utf-8")
    out = tmp_path / "subs.otio"
    subprocess.run([sys.executable, "-m", "opentimelineio.console.otioconvert", "-i", str(src), "-o", str(out)],
                   check=True, capture_output=True, timeout=120)
    assert [c.name for c in otio.adapters.read_from_file(str(out)).find_clips()] == ["Hello there", "I miss her"]
    tl = make_timeline()
    write_markers(tl, make_analysis(tl))
    annotated = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(annotated))
    edl = tmp_path / "markers.edl"
    subprocess.run([sys.executable, "-m", "opentimelineio.console.otioconvert", "-i", str(annotated), "-o", str(edl),
                    "-O", "emoguide_resolve_edl"], check=True, capture_output=True, timeout=120)
    assert "ResolveColor" in edl.read_text()
