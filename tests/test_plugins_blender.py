"""The Blender extension: strip → OTIO and result → markers with stand-ins, and once inside real Blender.

The real-Blender test runs ``plugins/blender/tests/run_in_blender.py`` with a
Python that has the ``bpy`` module (PyPI's ``bpy`` wheel, Blender 4.2+ / 5.x; it
needs Python 3.11 and is ~370 MB, so it lives in its own venv, ``.venv-bpy``, which
``scripts/setup_bpy.sh`` builds as part of the test command) given by
``EMOGUIDE_BPY_PYTHON`` (default ``.venv-bpy/bin/python``), against a real
engine server with the fast analysis stand-in; it skips, saying why, only when that
Python is absent (another Python than 3.11, or ``EMOGUIDE_SKIP_BPY=1``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from server_standin import StandIn, start_server

from emoguide.server.connection import write_connection
from emoguide.server.runner import annotate, parse_timeline
from emoguide.timeline.mapping import clip_jobs

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "plugins" / "blender" / "emoguide_blender"))
import vse  # noqa: E402  (the extension's bpy-free module)

BPY_PYTHON = Path(os.environ.get("EMOGUIDE_BPY_PYTHON", REPO / ".venv-bpy" / "bin" / "python"))


class FakeStrip(SimpleNamespace):
    def __setitem__(self, key, value):
        self.props[key] = value

    def __contains__(self, key):
        return key in self.props


def strip(name, kind, channel, frame_start, offset, duration, path):
    s = FakeStrip(name=name, type=kind, channel=channel, frame_start=frame_start,
                        frame_final_start=frame_start + offset, frame_final_duration=duration, mute=False,
                        color_tag="NONE", props={})
    s.frame_final_end = s.frame_final_start + duration
    if kind == "MOVIE":
        s.filepath = path
    else:
        s.sound = SimpleNamespace(filepath=path)
    return s


class Markers(list):
    def new(self, name, frame):
        marker = SimpleNamespace(name=name, frame=frame)
        self.append(marker)
        return marker


class Scene(dict):
    def __init__(self, strips, api="strips_all"):
        super().__init__()
        self.name, self.frame_start = "Scene", 1
        self.render = SimpleNamespace(fps=30, fps_base=1.001)
        self.sequence_editor = SimpleNamespace(**{api: strips})
        self.timeline_markers = Markers()


def scene(api="strips_all"):
    return Scene([strip("shot_a", "MOVIE", 2, 1, 6, 150, "/m/a.mp4"),
                  strip("shot_b", "MOVIE", 2, 170, 0, 60, "/m/b.mp4"),
                  strip("voice", "SOUND", 1, 1, 6, 150, "/m/a.mp4"),
                  strip("title", "TEXT", 3, 1, 0, 30, "")], api)


@pytest.mark.parametrize("api", ["strips_all", "sequences_all"])
def test_strips_become_a_timeline_the_engine_reads(api):
    timeline = parse_timeline(vse.timeline_from_scene(scene(api)))
    jobs = {j.clip_id: j for j in clip_jobs(timeline)}
    rate = 30 / 1.001
    # the trimmed shot starts 6 frames after the scene start (a gap first), the text strip is left out
    assert set(jobs) == {"V1/1", "V1/3", "A1/1"}
    assert jobs["V1/1"].clip_name == "shot_a" and jobs["V1/1"].media_start_s == pytest.approx(6 / rate)
    assert jobs["V1/1"].timeline_start_s == pytest.approx(6 / rate)
    assert jobs["V1/3"].timeline_start_s == pytest.approx(169 / rate)
    assert str(jobs["A1/1"].source.path) == "/m/a.mp4" and jobs["A1/1"].track_kind == "Audio"


def test_result_places_markers_tags_and_properties_and_rerun_replaces():
    sc = scene()
    sc.timeline_markers.new("editor note", 3)
    timeline = parse_timeline(vse.timeline_from_scene(sc))
    analysis = StandIn()(timeline, {}, None, None)
    result = annotate(timeline, analysis)
    counts = vse.apply_result(sc, result, "job1")
    names = [m.name for m in sc.timeline_markers]
    assert "editor note" in names and counts["markers"] == len(names) - 1
    first = sorted((m.name, m.frame) for m in sc.timeline_markers)
    vse.apply_result(sc, result, "job2")
    assert sorted((m.name, m.frame) for m in sc.timeline_markers) == first  # replaced, not duplicated
    happy = [m for m in sc.timeline_markers if m.name.startswith("happy")]
    assert happy and happy[0].frame == 7  # scene.frame_start + the shot's 6 frames on the timeline
    strips = {s.name: s for s in sc.sequence_editor.strips_all}
    assert strips["shot_a"].color_tag == "COLOR_03"  # happy-dominant clip (stand-in analysis)
    assert strips["shot_a"].props["emoguide"]["label"] == "happy"
    assert strips["shot_b"].color_tag == "COLOR_08"  # offline in the stand-in analysis
    assert vse.remove_our_markers(sc) == counts["markers"] and [m.name for m in sc.timeline_markers] == ["editor note"]


def test_extension_manifest_targets_blender_4_2_and_declares_network():
    import tomllib

    manifest = tomllib.loads((REPO / "plugins" / "blender" / "emoguide_blender" / "blender_manifest.toml").read_text())
    assert manifest["blender_version_min"] >= "4.2.0" and manifest["type"] == "add-on"
    assert "network" in manifest["permissions"]


@pytest.mark.skipif(not BPY_PYTHON.exists(), reason=f"no Python with bpy at {BPY_PYTHON} (run scripts/setup_bpy.sh or set EMOGUIDE_BPY_PYTHON)")
@pytest.mark.parametrize("transport", ["zmq", "ws"])
def test_in_real_blender_round_trip(tmp_path, transport):
    from emoguide.server.websocket import WebSocketBridge

    server, info = start_server(StandIn())
    bridge = WebSocketBridge(info, port=0)
    info.ws_port = bridge.start()
    path = write_connection(info, tmp_path / "connection.json")
    media = REPO / "examples" / "media"
    env = dict(os.environ, EMOGUIDE_CONNECTION_FILE=str(path), EMOGUIDE_TRANSPORT=transport)
    try:
        proc = subprocess.run([str(BPY_PYTHON), str(REPO / "plugins" / "blender" / "tests" / "run_in_blender.py"),
                               str(media / "single_face_smile.mp4"), str(media / "cremad_1001_DFA_sad.mp4")],
                              capture_output=True, text=True, timeout=180, env=env)
    finally:
        bridge.stop()
        server.stop()
    line = [x for x in proc.stdout.splitlines() if x.startswith("EMOGUIDE_RESULT ")]
    assert proc.returncode == 0 and line, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(line[0].split(" ", 1)[1])
    assert out["status"].startswith("done"), out["status"]
    jobs = {j.clip_name: j for j in clip_jobs(parse_timeline(out["timeline"])) if j.track_kind == "Video"}
    assert jobs["shot_a"].media_start_s == pytest.approx(6 / 30) and jobs["shot_a"].timeline_start_s == pytest.approx(6 / 30)
    assert out["markers"] == out["first_markers"]  # second run replaced its markers
    assert ["editor note", 3] in out["markers"] and any(name.startswith("happy") for name, _ in out["markers"])
    assert out["tags"]["shot_a"] == "COLOR_03" and out["props"]["shot_a"]["label"] == "happy"
    assert out["tags"]["shot_b"] == "COLOR_08"
