"""Our OTIO markers flattened into what a host places: timeline seconds, a name, a note, a colour key.

Hosts are thin: Resolve, Premiere and Blender each want "a marker at this
frame of the timeline (or of this clip), this name, this colour". OTIO keeps
clip markers in the clip's *media* time (with start timecode and speed), which
every plugin would otherwise have to re-derive. So the server converts once,
here, with the same :class:`ClipJob` arithmetic the analysis used, and each
marker carries enough to find its clip in the host: the OTIO clip id, track kind
and number, clip name and the clip's span on the timeline.

``colour_key`` indexes the shared table (:mod:`emoguide.timeline.colours`);
plugins carry a generated copy of that table and never hard-code colours.
``id`` is stable across re-runs (``V1/0:emotion:2``) so hosts replace rather
than duplicate.
"""

from __future__ import annotations

from typing import Any

import opentimelineio as otio

from emoguide import NAMESPACE
from emoguide.pipeline.results import TimelineAnalysis
from emoguide.timeline.colours import COLOURS
from emoguide.timeline.mapping import ClipJob, iter_clips
from emoguide.timeline.markers import is_ours


def colour_key(meta: dict[str, Any]) -> str:
    """The colour-table row of a marker: its emotion label for emotion markers, else its kind."""
    kind = str(meta.get("kind", ""))
    if kind == "emotion" and meta.get("label") in COLOURS:
        return str(meta["label"])
    if kind == "analysis_error":
        return "media_offline"
    if kind == "brief_expression":
        return "brief_expression"
    return kind if kind in COLOURS else ("guidance" if "guid" in kind else "neutral")


def _track_of(clip_id: str) -> tuple[str, int]:
    head = clip_id.split("/", 1)[0]
    kind = "Audio" if head.startswith("A") else "Video"
    try:
        return kind, int(head[1:])
    except ValueError:
        return kind, 1


def _origin_s(clip: otio.schema.Clip) -> float:
    ref = clip.media_reference
    available = ref.available_range if ref is not None else None
    return available.start_time.to_seconds() if available is not None else 0.0


def host_markers(timeline: otio.schema.Timeline, analysis: TimelineAnalysis) -> list[dict[str, Any]]:
    """Every marker of ours on ``timeline`` (an annotated copy) as a flat, host-ready dict, in time order."""
    jobs: dict[str, ClipJob] = {c.job.clip_id: c.job for c in analysis.clips}
    rate = analysis.rate or 24.0
    out: list[dict[str, Any]] = []
    for marker in timeline.tracks.markers:
        if is_ours(marker):
            start = marker.marked_range.start_time.to_seconds()
            out.append(_entry(marker, start, marker.marked_range.duration.to_seconds(), rate, None, None, None))
    for clip_id, _track, clip in iter_clips(timeline):
        job = jobs.get(clip_id)
        for marker in clip.markers:
            if not is_ours(marker):
                continue
            media_s = marker.marked_range.start_time.to_seconds() - _origin_s(clip)
            duration = marker.marked_range.duration.to_seconds()
            if job is not None:
                start = job.media_to_timeline(media_s)
                speed = abs(job.speed) or 1.0
                duration = duration / speed
            else:  # a clip the analysis did not see (guidance on a new clip): place by the track position
                start = clip.range_in_parent().start_time.to_seconds() + media_s - clip.source_range.start_time.to_seconds() + _origin_s(clip)
            out.append(_entry(marker, start, duration, rate, clip_id, clip, job))
    out.sort(key=lambda m: (m["start_s"], m["id"]))
    return out


def _entry(marker, start_s: float, duration_s: float, rate: float, clip_id, clip, job: ClipJob | None) -> dict[str, Any]:
    meta = dict(marker.metadata.get(NAMESPACE, {}))
    entry: dict[str, Any] = {
        "id": str(meta.get("id") or f"{clip_id or 'timeline'}:{marker.name}"),
        "kind": str(meta.get("kind", "")),
        "colour_key": colour_key(meta),
        "name": marker.name,
        "note": getattr(marker, "comment", "") or "",
        "start_s": round(max(0.0, start_s), 6),
        "duration_s": round(max(0.0, duration_s), 6),
        "frame": int(round(max(0.0, start_s) * rate)),
        "duration_frames": max(1, int(round(duration_s * rate))),
        "rate": rate,
        "on": "clip" if clip is not None else "timeline",
        "clip_id": clip_id,
        "label": meta.get("label"),
    }
    if clip is not None:
        kind, number = _track_of(clip_id)
        entry.update({"clip_name": clip.name, "track_kind": kind, "track_number": number})
        if job is not None:
            entry.update({"clip_start_s": round(job.timeline_start_s, 6), "clip_end_s": round(job.timeline_end_s, 6)})
    return entry
