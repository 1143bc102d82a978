"""Guidance as markers: "▸ "-prefixed names, the guidance colour, the suggestion in metadata.

Clip-level suggestions sit on their clip in media time (like the emotion
markers); timeline-level ones on the stack in timeline time.
"""

from __future__ import annotations

import opentimelineio as otio

from emoguide.timeline.mapping import find_clip
from emoguide.timeline.markers import make_marker, media_time

PREFIX = "▸ "


def guidance_markers(timeline: otio.schema.Timeline, guidance) -> list[tuple[object, otio.schema.Marker]]:
    out = []
    rate = timeline.global_start_time.rate if timeline.global_start_time else 24.0
    for k, s in enumerate(guidance.suggestions):
        clip = find_clip(timeline, s.clip_id) if s.clip_id else None
        name = PREFIX + s.title
        comment = f"{s.reason} [{s.rule}; {s.source}; confidence {s.confidence:.0%}]"
        fields = {"guidance": s.to_dict(), "rule": s.rule}
        if clip is not None and s.media_start_s is not None:
            clip_rate = clip.trimmed_range().start_time.rate
            start = media_time(clip, s.media_start_s, clip_rate)
            end = media_time(clip, s.media_end_s if s.media_end_s is not None else s.media_start_s, clip_rate)
            duration = otio.opentime.RationalTime(max(1.0, end.value - start.value), clip_rate)
            out.append((clip, make_marker("guidance", f"guidance:{k}:{s.rule}", name, start, duration, comment,
                                          "guidance", **fields)))
        else:
            start = otio.opentime.RationalTime(round(s.timeline_start_s * rate), rate)
            duration = otio.opentime.RationalTime(max(1, round((s.timeline_end_s - s.timeline_start_s) * rate)), rate)
            out.append((timeline.tracks, make_marker("guidance", f"guidance:{k}:{s.rule}", name, start, duration,
                                                     comment, "guidance", **fields)))
    return out
