"""Every marker of a timeline in timeline time, with timecode: shared by the marker writers.

Clip markers live in the clip's media time; they are mapped through the clip's
position on its track (``transformed_time_range``) to timeline time and then
offset by the timeline's ``global_start_time`` (its start timecode), so a
marker lands on the same frame an NLE shows. Drop-frame is used for 29.97 and
59.94 when the timeline's start timecode says so (``;`` in Resolve/Premiere
exports) or when ``drop_frame=True`` is passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import opentimelineio as otio

NAMESPACE = "emoguide"


@dataclass
class MarkerRow:
    start: otio.opentime.RationalTime  # timeline time incl. start timecode, at the timeline rate
    duration_frames: int
    where: str
    marker: otio.schema.Marker

    @property
    def meta(self) -> dict:
        return plain(self.marker.metadata.get(NAMESPACE, {}))


def plain(value):
    """OTIO's AnyDictionary/AnyVector → plain dict/list, recursively (for json and csv)."""
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (str, bytes)):
        return value
    if hasattr(value, "__iter__"):
        return [plain(v) for v in value]
    return value


def timeline_rate(timeline: otio.schema.Timeline) -> float:
    if timeline.global_start_time is not None:
        return timeline.global_start_time.rate
    try:
        return timeline.duration().rate
    except Exception:  # noqa: BLE001 - empty timeline
        return 24.0


def is_drop_frame_rate(rate: float) -> bool:
    return abs(rate - 30000 / 1001) < 1e-3 or abs(rate - 60000 / 1001) < 1e-3


def timecode(t: otio.opentime.RationalTime, rate: float, drop_frame: bool) -> str:
    return otio.opentime.to_timecode(t.rescaled_to(rate), rate, bool(drop_frame and is_drop_frame_rate(rate)))


def wants_drop_frame(timeline: otio.schema.Timeline, drop_frame: bool | None) -> bool:
    """Explicit choice, else drop-frame for 29.97/59.94 timelines (the NTSC broadcast default)."""
    if drop_frame is not None:
        return drop_frame
    return is_drop_frame_rate(timeline_rate(timeline))


def collect(timeline: otio.schema.Timeline, include_all: bool = False) -> list[MarkerRow]:
    """Our markers (or all, with ``include_all``) sorted by timeline time."""
    rate = timeline_rate(timeline)
    origin = timeline.global_start_time.rescaled_to(rate) if timeline.global_start_time else otio.opentime.RationalTime(0, rate)
    rows = []

    def add(marker, marked: otio.opentime.TimeRange, where: str):
        if not include_all and NAMESPACE not in marker.metadata:
            return
        start = otio.opentime.RationalTime(round(marked.start_time.rescaled_to(rate).value), rate)
        frames = max(1, round(marked.duration.rescaled_to(rate).value))
        rows.append(MarkerRow(start + origin, frames, where, marker))

    for marker in timeline.tracks.markers:
        add(marker, marker.marked_range, "timeline")
    for track in timeline.tracks:
        for item in track.find_children():
            for marker in getattr(item, "markers", []):
                try:
                    marked = item.transformed_time_range(marker.marked_range, timeline.tracks)
                except Exception:  # noqa: BLE001 - an item outside the timeline's time: skip it
                    continue
                add(marker, marked, f"{track.name or track.kind} · {item.name}")
    return sorted(rows, key=lambda r: (r.start.value, r.where))


def colour_key(row: MarkerRow) -> str:
    meta = row.meta
    return meta.get("label") if meta.get("kind") == "emotion" and meta.get("label") else meta.get("kind", "neutral")


def resolve_colour(row: MarkerRow) -> str:
    """Resolve's colour name for a row: from emoguide's table for our markers, else from the OTIO colour."""
    if NAMESPACE in row.marker.metadata:
        from emoguide.timeline.colours import colour_for

        return colour_for(colour_key(row)).resolve
    by_otio = {"RED": "Red", "PINK": "Pink", "ORANGE": "Sand", "YELLOW": "Yellow", "GREEN": "Green", "CYAN": "Cyan",
               "BLUE": "Blue", "PURPLE": "Purple", "MAGENTA": "Fuchsia", "BLACK": "Cocoa", "WHITE": "Cream"}
    return by_otio.get(str(row.marker.color).upper(), "Blue")


def rows_as_dicts(timeline: otio.schema.Timeline, include_all: bool = False, drop_frame: bool | None = None,
                  with_metadata: bool = False) -> list[dict]:
    """Marker rows as plain dicts (what the CSV and JSON writers print)."""
    rate = timeline_rate(timeline)
    df = wants_drop_frame(timeline, drop_frame)
    out = []
    for row in collect(timeline, include_all):
        meta = row.meta
        guidance = meta.get("guidance") or {}
        end = row.start + otio.opentime.RationalTime(row.duration_frames, rate)
        item = {
            "timecode_in": timecode(row.start, rate, df), "timecode_out": timecode(end, rate, df),
            "duration_frames": row.duration_frames, "where": row.where, "kind": meta.get("kind", "user"),
            "name": row.marker.name, "colour": resolve_colour(row), "comment": getattr(row.marker, "comment", ""),
            "rule": guidance.get("rule", ""), "reason": guidance.get("reason", ""),
            "confidence": guidance.get("confidence", meta.get("probability", "")),
        }
        if with_metadata:
            item["metadata"] = meta
        out.append(item)
    return out
