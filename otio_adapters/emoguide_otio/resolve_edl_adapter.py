"""OTIO adapter ``emoguide_resolve_edl``: markers as the EDL DaVinci Resolve imports as timeline markers.

Resolve reads (Timeline > Import > Timeline Markers from EDL) and writes
(Timeline > Export > Timeline Markers to EDL) a CMX3600-style list with one
one-frame event per marker at its record timecode, followed by a comment line
`` |C:ResolveColor<Colour> |M:<name> |D:<duration frames>``. That is the route
for Resolve Free, where external scripting is not available. Notes are not part
of Resolve's EDL marker format, so the name carries the short reading and the
note goes into the OTIO file via the ``emoguide_resolve_notes`` hook.

Arguments: ``include_all`` (export the user's markers too), ``drop_frame``
(default: drop-frame at 29.97/59.94).
"""

from __future__ import annotations

from emoguide_otio.markers_table import collect, resolve_colour, timecode, timeline_rate, wants_drop_frame


def _clean(text: str) -> str:
    return " ".join(str(text).replace("|", "/").split())


def write_to_string(input_otio, include_all=False, drop_frame=None):
    rate = timeline_rate(input_otio)
    df = wants_drop_frame(input_otio, drop_frame)
    lines = [f"TITLE: {_clean(input_otio.name or 'emoguide markers')}",
             f"FCM: {'DROP FRAME' if df else 'NON-DROP FRAME'}", ""]
    for number, row in enumerate(collect(input_otio, include_all), 1):
        tc_in = timecode(row.start, rate, df)
        tc_out = timecode(row.start + row.start.__class__(1, rate), rate, df)
        lines.append(f"{number:03d}  001      V     C        {tc_in} {tc_out} {tc_in} {tc_out}  ")
        lines.append(f" |C:ResolveColor{resolve_colour(row)} |M:{_clean(row.marker.name)} |D:{row.duration_frames}")
        lines.append("")
    return "\n".join(lines)
