"""The Resolve script against a stand-in of Resolve's documented scripting API and a real engine.

The stand-in follows Resolve's README (GetProjectManager → GetCurrentProject →
GetCurrentTimeline; GetStartFrame, GetSetting('timelineFrameRate'),
GetTrackCount, GetItemListInTrack, Export(path, EXPORT_OTIO), AddMarker with
one marker per frame, GetMarkers, DeleteMarkerByCustomData). The engine is the
real server with the fast analysis stand-in, reached over the WebSocket bridge
with the script's own standard-library client — the route Resolve's Python uses.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import opentimelineio as otio
import pytest
from server_standin import StandIn, start_server

from emoguide.server.connection import ConnectionInfo, new_key
from emoguide.server.runner import parse_timeline
from emoguide.timeline.mapping import clip_jobs

PLUGIN = Path(__file__).resolve().parent.parent / "plugins" / "resolve" / "emoguide_resolve.py"
FPS = 24
START = 86400  # 01:00:00:00


def load_plugin():
    spec = importlib.util.spec_from_file_location("emoguide_resolve", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class MarkerOwner:
    def __init__(self):
        self.markers = {}

    def AddMarker(self, frame, color, name, note, duration, custom=""):  # noqa: N802 - Resolve's names
        if float(frame) in self.markers or color not in RESOLVE_COLOURS:
            return False
        self.markers[float(frame)] = {"color": color, "duration": float(duration), "note": note, "name": name,
                                      "customData": custom}
        return True

    def GetMarkers(self):  # noqa: N802
        return dict(self.markers)

    def DeleteMarkerByCustomData(self, custom):  # noqa: N802
        for frame, info in sorted(self.markers.items()):
            if info["customData"] == custom:
                del self.markers[frame]
                return True
        return False


RESOLVE_COLOURS = {"Blue", "Cyan", "Green", "Yellow", "Red", "Pink", "Purple", "Fuchsia", "Rose", "Lavender", "Sky",
                   "Mint", "Lemon", "Sand", "Cocoa", "Cream"}


class MediaPoolItem:
    def __init__(self, path):
        self.path = path

    def GetClipProperty(self, name):  # noqa: N802
        return self.path if name == "File Path" else ""


class Item(MarkerOwner):
    def __init__(self, name, start, duration, left_offset, path):
        super().__init__()
        self.name, self.start, self.duration, self.left, self.media = name, start, duration, left_offset, MediaPoolItem(path)

    def GetName(self):  # noqa: N802
        return self.name

    def GetStart(self):  # noqa: N802
        return self.start

    def GetEnd(self):  # noqa: N802
        return self.start + self.duration

    def GetDuration(self):  # noqa: N802
        return self.duration

    def GetLeftOffset(self):  # noqa: N802
        return self.left

    def GetMediaPoolItem(self):  # noqa: N802
        return self.media


class Timeline(MarkerOwner):
    def __init__(self, exporter=None):
        super().__init__()
        self.tracks = {"video": [[Item("a", START, 120, 10, "/media/a.mov"), Item("b", START + 132, 72, 0, "/media/b.mov")]],
                       "audio": [[Item("a", START, 120, 10, "/media/a.mov")]]}
        self.exporter = exporter
        self.exported = 0

    def GetName(self):  # noqa: N802
        return "Reel 1"

    def GetStartFrame(self):  # noqa: N802
        return START

    def GetSetting(self, name):  # noqa: N802
        return str(FPS) if name == "timelineFrameRate" else ""

    def GetTrackCount(self, kind):  # noqa: N802
        return len(self.tracks[kind])

    def GetItemListInTrack(self, kind, index):  # noqa: N802
        return list(self.tracks[kind][index - 1])

    def Export(self, path, kind, subtype):  # noqa: N802
        if self.exporter is None or kind != "otio":
            return False
        self.exported += 1
        Path(path).write_text(self.exporter())
        return True


class Resolve:
    EXPORT_NONE = 0

    def __init__(self, timeline, otio_export=False):
        self.timeline = timeline
        if otio_export:
            self.EXPORT_OTIO = "otio"

    def GetProjectManager(self):  # noqa: N802
        resolve = self

        class PM:
            def GetCurrentProject(self):  # noqa: N802
                class Project:
                    def GetCurrentTimeline(self):  # noqa: N802
                        return resolve.timeline

                    def GetSetting(self, name):  # noqa: N802
                        return str(FPS)

                return Project()

        return PM()


@pytest.fixture(scope="module")
def plugin():
    return load_plugin()


@pytest.fixture
def engine_ws():
    from emoguide.server.websocket import WebSocketBridge

    server, info = start_server(StandIn())
    bridge = WebSocketBridge(info, port=0)
    info.ws_port = bridge.start()
    yield info
    bridge.stop()
    server.stop()


def test_items_route_builds_otio_the_engine_reads(plugin):
    tl = Timeline()
    otio_json = plugin.timeline_from_items(tl, FPS)
    timeline = parse_timeline(otio_json)
    jobs = {j.clip_id: j for j in clip_jobs(timeline)}
    assert set(jobs) == {"V1/0", "V1/2", "A1/0"}  # a gap sits between the two video clips
    assert jobs["V1/2"].timeline_start_s == pytest.approx(132 / FPS)
    assert jobs["V1/0"].media_start_s == pytest.approx(10 / FPS) and jobs["V1/0"].media_end_s == pytest.approx(130 / FPS)
    assert str(jobs["V1/0"].source.path) == "/media/a.mov"
    assert timeline.global_start_time.to_frames() == START


def test_round_trip_places_markers_with_resolve_colours_and_replaces_on_rerun(plugin, engine_ws):
    tl = Timeline()
    tl.AddMarker(5, "Lemon", "editor's note", "", 1, "")  # never touched by us
    client = plugin.host.HostClient(engine_ws.to_dict(), transport="ws", timeout=5, status_interval=0.5)
    try:
        summary = plugin.run(Resolve(tl), client=client)
        first = dict(tl.GetMarkers())
        summary2 = plugin.run(Resolve(tl), client=client)
    finally:
        client.close()
    assert summary["route"] == "timeline items" and summary["placed"] > 0 and summary["partial"] is True
    ours = {f: m for f, m in tl.GetMarkers().items() if m["customData"].startswith("emoguide:")}
    assert tl.GetMarkers() == first and summary2["placed"] == summary["placed"]  # replaced, not duplicated
    assert tl.markers[5.0]["name"] == "editor's note"
    by_id = {m["customData"][len("emoguide:"):]: (f, m) for f, m in ours.items()}
    frame, happy = by_id["V1/0:emotion:0"]
    assert happy["color"] == "Yellow" and happy["name"].startswith("happy")
    assert frame == 0.0  # first frame of the cut, counted from the timeline start
    frame, sad = by_id["V1/0:emotion:1"]
    assert sad["color"] == "Blue" and frame == pytest.approx(2 * FPS, abs=1)
    assert by_id["V1/2:status"][1]["color"] == "Cocoa"  # second clip offline in the stand-in analysis
    assert by_id["V1/2:status"][0] == pytest.approx(132, abs=1)


def test_export_route_and_item_markers(plugin, engine_ws):
    source = Timeline()
    otio_text = otio.adapters.write_to_string(parse_timeline(plugin.timeline_from_items(source, FPS)), "otio_json")
    tl = Timeline(exporter=lambda: otio_text)
    client = plugin.host.HostClient(engine_ws.to_dict(), transport="ws", timeout=5, status_interval=0.5)
    try:
        summary = plugin.run(Resolve(tl, otio_export=True), client=client, target="items")
    finally:
        client.close()
    assert tl.exported == 1 and summary["route"] == "Timeline.Export (OTIO)"
    item_a, item_b = tl.tracks["video"][0]
    assert {m["customData"] for m in item_a.markers.values()} >= {"emoguide:V1/0:emotion:0", "emoguide:V1/0:emotion:1"}
    assert min(item_a.markers) == 0.0  # frames relative to the item's start
    assert [m["customData"] for m in item_b.markers.values()] == ["emoguide:V1/2:status"]
    assert all(m["customData"].startswith("emoguide:timeline:") for m in tl.markers.values())


def test_resolve_free_without_scripting_gets_the_otio_file_route(plugin):
    marker = object()
    assert plugin.get_resolve({"resolve": marker}) is marker  # the object Resolve hands to its scripts
    assert plugin.get_resolve({}) is None  # outside Resolve, without DaVinciResolveScript (as on Resolve free)
    with pytest.raises(plugin.host.HostError) as err:
        plugin.run(None)
    assert "OpenTimelineIO" in str(err.value) and "emoguide analyze" in str(err.value)


def test_no_engine_is_a_clear_error_not_a_hang(plugin, tmp_path):
    info = ConnectionInfo(key=new_key(), control_port=1, pub_port=2, ws_port=1)
    t0 = time.monotonic()
    with pytest.raises(plugin.host.EngineUnavailable) as err:
        plugin.host.HostClient(info.to_dict(), transport="ws", timeout=1)
    assert "emoguide serve" in str(err.value) and time.monotonic() - t0 < 3
    missing = tmp_path / "none.json"
    with pytest.raises(plugin.host.EngineUnavailable, match="emoguide serve"):
        plugin.host.read_connection(str(missing))


def test_host_client_rejects_forged_engine_messages(plugin):
    frames, _ = plugin.host.encode(b"right-key", "ping_reply", {"ok": True}, "s")
    with pytest.raises(plugin.host.HostError, match="bad signature"):
        plugin.host.decode(b"other-key", frames)
    assert json.loads(frames[3]) == {"ok": True}
