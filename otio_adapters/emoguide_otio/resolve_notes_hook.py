"""pre_adapter_write hook ``emoguide_resolve_notes``: our notes where Resolve's OTIO import reads them.

Resolve keeps marker notes and keywords under ``marker.metadata["Resolve_OTIO"]``
(``{"Note": …, "Keywords": [...]}``) in the OTIO files it exports and imports.
For each emoguide marker that has a comment, this copies it there. The hook
runs on every OTIO write once this plugin is installed, so it does nothing to
timelines without our markers, and works on a copy: the caller's timeline
object is never changed.
"""

from __future__ import annotations

import copy

NAMESPACE = "emoguide"


def _ours(timeline):
    items = [timeline.tracks, *timeline.tracks.find_children()]
    return [m for item in items for m in getattr(item, "markers", []) if NAMESPACE in m.metadata]


def hook_function(in_timeline, argument_map=None):
    if not hasattr(in_timeline, "tracks") or not _ours(in_timeline):
        return in_timeline
    out = copy.deepcopy(in_timeline)
    for marker in _ours(out):
        note = getattr(marker, "comment", "") or marker.name
        resolve = dict(marker.metadata.get("Resolve_OTIO", {}))
        resolve["Note"] = note
        resolve.setdefault("Keywords", ["emoguide", marker.metadata[NAMESPACE].get("kind", "")])
        marker.metadata["Resolve_OTIO"] = resolve
    return out
