"""OTIO adapter ``emoguide_markers_json``: the same rows as the CSV writer, plus our full metadata."""

from __future__ import annotations

import json

from emoguide_otio.markers_table import rows_as_dicts


def write_to_string(input_otio, include_all=False, drop_frame=None):
    rows = rows_as_dicts(input_otio, include_all, drop_frame, with_metadata=True)
    return json.dumps({"timeline": input_otio.name, "markers": rows}, indent=1)
