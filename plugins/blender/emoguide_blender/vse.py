"""Video Sequencer ↔ engine, without bpy: strips → OTIO JSON, engine result → markers, colour tags, properties.

Kept free of ``bpy`` imports so it can be tested with plain stand-in objects
as well as inside real Blender. Works with both strip APIs: ``strips_all``
(Blender 4.4+, the only one in 5.x) and ``sequences_all`` (4.2–4.3).

Mapping: each (channel, kind) becomes an OTIO track — movie strips on Video
tracks, sound strips on Audio tracks — with clips named after their strips
(names are unique in a scene, so results find their strip again by name).
Frames count from ``scene.frame_start``; a strip's used media starts
``frame_final_start - frame_start`` frames into its file. Only movie and sound
strips carry media the engine can read; other strips are left out.
"""

from __future__ import annotations

import json

try:
    from . import emoguide_host as host
except ImportError:  # loaded as a plain module (tests)
    import emoguide_host as host  # type: ignore[no-redef]

MEDIA_TYPES = ("MOVIE", "SOUND")
STATE_KEY = "emoguide_markers"  # scene property: JSON [[name, frame], …] of the markers we placed (ID
# property arrays cannot hold strings, so the list is kept as JSON text)
MAX_NAME = 63  # Blender's marker and property name limit


def all_strips(editor):
    for name in ("strips_all", "sequences_all"):
        strips = getattr(editor, name, None)
        if strips is not None:
            return list(strips)
    return []


def scene_fps(scene):
    return scene.render.fps / (scene.render.fps_base or 1.0)


def media_path(strip, abspath=lambda p: p):
    if strip.type == "MOVIE":
        return abspath(strip.filepath)
    if strip.type == "SOUND" and getattr(strip, "sound", None) is not None:
        return abspath(strip.sound.filepath)
    return ""


def _rt(value, rate):
    return {"OTIO_SCHEMA": "RationalTime.1", "value": float(value), "rate": float(rate)}


def _range(start, duration, rate):
    return {"OTIO_SCHEMA": "TimeRange.1", "start_time": _rt(start, rate), "duration": _rt(duration, rate)}


def timeline_from_scene(scene, abspath=lambda p: p):
    """OTIO JSON of the scene's sequencer (media paths made absolute with ``abspath``, e.g. bpy.path.abspath)."""
    rate = scene_fps(scene)
    origin = scene.frame_start
    groups = {}
    for strip in all_strips(scene.sequence_editor):
        if strip.type not in MEDIA_TYPES:
            continue
        kind = "Audio" if strip.type == "SOUND" else "Video"
        groups.setdefault((kind, strip.channel), []).append(strip)
    tracks = []
    for kind in ("Video", "Audio"):
        channels = sorted(c for k, c in groups if k == kind)
        for number, channel in enumerate(channels, start=1):
            children, cursor = [], 0
            for strip in sorted(groups[(kind, channel)], key=lambda s: s.frame_final_start):
                position = int(strip.frame_final_start) - origin
                if position < cursor:  # overlaps, or starts before the scene: the engine needs a plain track
                    continue
                if position > cursor:
                    children.append({"OTIO_SCHEMA": "Gap.1", "name": "", "source_range": _range(0, position - cursor, rate)})
                path = media_path(strip, abspath)
                ref = ({"OTIO_SCHEMA": "ExternalReference.1", "target_url": path, "available_range": None}
                       if path else {"OTIO_SCHEMA": "MissingReference.1"})
                length = int(strip.frame_final_duration)
                children.append({
                    "OTIO_SCHEMA": "Clip.2", "name": strip.name, "media_references": {"DEFAULT_MEDIA": ref},
                    "active_media_reference_key": "DEFAULT_MEDIA", "enabled": not getattr(strip, "mute", False),
                    "source_range": _range(int(strip.frame_final_start - strip.frame_start), length, rate),
                    "metadata": {"blender": {"strip": strip.name, "channel": int(channel)}}})
                cursor = position + length
            tracks.append({"OTIO_SCHEMA": "Track.1", "name": "Channel %d" % channel, "kind": kind, "children": children})
    return {"OTIO_SCHEMA": "Timeline.1", "name": scene.name, "global_start_time": _rt(origin, rate),
            "tracks": {"OTIO_SCHEMA": "Stack.1", "name": "tracks", "children": tracks}}


def remove_our_markers(scene):
    """Remove the markers a previous run placed (by name and frame); the editor's stay."""
    try:
        placed = {(str(n), int(f)) for n, f in json.loads(scene.get(STATE_KEY) or "[]")}
    except (TypeError, ValueError):
        placed = set()
    removed = 0
    for marker in list(scene.timeline_markers):
        if (marker.name, int(marker.frame)) in placed:
            scene.timeline_markers.remove(marker)
            removed += 1
    scene[STATE_KEY] = "[]"
    return removed


def apply_result(scene, result, job_id=""):
    """Place timeline markers, strip colour tags and custom properties; returns counts."""
    remove_our_markers(scene)
    strips = {s.name: s for s in all_strips(scene.sequence_editor)}
    placed = []
    for m in result.get("markers", []):
        if m["kind"] not in ("emotion", "mixed_signals", "media_offline", "analysis_error", "timeline", "guidance"):
            continue  # brief expressions are too dense for Blender's single marker row
        frame = scene.frame_start + int(m["frame"])
        name = m["name"][:MAX_NAME]
        scene.timeline_markers.new(name, frame=frame)
        placed.append([name, frame])
    scene[STATE_KEY] = json.dumps(placed)
    tagged = 0
    for clip in result.get("analysis", {}).get("clips", []):
        strip = strips.get(clip["job"]["clip_name"])
        if strip is None or clip["status"] == "skipped":
            continue
        summary = clip.get("summary") or {}
        key = summary.get("label") if clip["status"] == "ok" else "media_offline"
        if not key:
            continue
        strip.color_tag = host.colour(key, "blender")
        vad = summary.get("vad") or [0.0, 0.0, 0.0]
        strip["emoguide"] = {"label": str(key), "probability": float(summary.get("probability") or 0.0),
                             "confidence": float(summary.get("confidence") or 0.0), "valence": float(vad[0]),
                             "arousal": float(vad[1]), "dominance": float(vad[2]), "status": clip["status"],
                             "message": clip.get("message", "")[:200], "job_id": job_id}
        tagged += 1
    return {"markers": len(placed), "strips": tagged}
