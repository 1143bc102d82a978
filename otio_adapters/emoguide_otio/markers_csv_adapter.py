"""OTIO adapter ``emoguide_markers_csv`` (.csv): one row per marker, for spreadsheets and trackers.

Columns: timecode in/out at the timeline's rate (start timecode included), duration in frames,
where (track · clip, or "timeline"), kind, name, colour, comment, and for guidance markers the
rule, reason and confidence. Arguments: ``include_all``, ``drop_frame``.
"""

from __future__ import annotations

import csv
import io

from emoguide_otio.markers_table import rows_as_dicts

COLUMNS = ["timecode_in", "timecode_out", "duration_frames", "where", "kind", "name", "colour", "comment", "rule",
           "reason", "confidence"]


def write_to_string(input_otio, include_all=False, drop_frame=None):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows_as_dicts(input_otio, include_all, drop_frame):
        writer.writerow(row)
    return out.getvalue()
