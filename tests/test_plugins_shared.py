"""The plugins' copies of shared code and of the colour table must match their sources."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from emoguide.timeline.colours import as_json_table

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("sync_shared", REPO / "plugins" / "sync_shared.py")
sync_shared = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_shared)


def test_generated_copies_are_current():
    stale = sync_shared.stale()
    assert not stale, f"run python plugins/sync_shared.py; stale: {[str(p) for p in stale]}"


def test_every_host_copy_holds_the_engine_colour_table():
    table = as_json_table()
    host_spec = importlib.util.spec_from_file_location("emoguide_host", REPO / "plugins" / "common" / "emoguide_host.py")
    host = importlib.util.module_from_spec(host_spec)
    host_spec.loader.exec_module(host)
    assert host.COLOURS == table
    js = (REPO / "plugins" / "premiere" / "lib" / "colours.js").read_text()
    assert json.loads(js.split("module.exports = ", 1)[1].rstrip().rstrip(";")) == table
    resolve = (REPO / "plugins" / "resolve" / "emoguide_resolve.py").read_text()
    assert (REPO / "plugins" / "common" / "emoguide_host.py").read_text() in resolve
    assert (REPO / "plugins" / "blender" / "emoguide_blender" / "emoguide_host.py").read_text() == \
        (REPO / "plugins" / "common" / "emoguide_host.py").read_text()
    resolve_colours = {"Blue", "Cyan", "Green", "Yellow", "Red", "Pink", "Purple", "Fuchsia", "Rose", "Lavender", "Sky",
                       "Mint", "Lemon", "Sand", "Cocoa", "Cream"}
    assert {row["resolve"] for row in table.values()} <= resolve_colours
    assert {row["premiere"] for row in table.values()} <= set(range(8))
    assert {row["blender"] for row in table.values()} <= {f"COLOR_0{i}" for i in range(1, 10)}
