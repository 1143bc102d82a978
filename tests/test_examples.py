"""The TD example (examples/batch_summary.py) runs as documented: a folder in, one CSV row per clip out.

Driven with the stand-in engine (the pipeline and the example's bookkeeping are under test here; the
real models are in test_cli_end_to_end.py), on a copy of the bundled demo.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import sys

import opentimelineio as otio
from conftest import EXAMPLES

sys.path.insert(0, str(EXAMPLES))
import batch_summary  # noqa: E402


def test_batch_summary_rows_copies_and_exit_codes(tmp_path, capsys):
    from standin_engine import standin_engine

    folder = tmp_path / "timelines"
    shutil.copytree(EXAMPLES / "media", folder / "media")
    shutil.copy(EXAMPLES / "demo.otio", folder / "demo.otio")
    offline = otio.adapters.read_from_file(str(folder / "demo.otio"))
    offline.find_clips()[0].media_reference.target_url = "media/gone.mp4"
    otio.adapters.write_to_file(offline, str(folder / "offline.otio"))
    (folder / "broken.otio").write_text('{"OTIO_SCHEMA": ')
    before = hashlib.sha256((folder / "demo.otio").read_bytes()).hexdigest()
    table, out = tmp_path / "clips.csv", tmp_path / "annotated"
    args = [str(folder), "--csv", str(table), "--out-dir", str(out), "--target", "rising",
            "--cache-dir", str(tmp_path / "cache")]

    assert batch_summary.main(args, engine=standin_engine()) == 1  # a timeline could not be read
    printed = capsys.readouterr()
    assert "broken.otio" in printed.err and "not a readable timeline" in printed.err
    assert "10 clips from 2 of 3 timelines" in printed.out
    rows = list(csv.DictReader(table.open()))
    assert [r["timeline"].rsplit("/", 1)[-1] for r in rows] == ["demo.otio"] * 5 + ["offline.otio"] * 5
    assert list(rows[0]) == list(batch_summary.COLUMNS)
    demo = rows[:5]
    assert all(r["status"] == "ok" and r["emotion"] == "happy" for r in demo)  # the stand-in reads "happy"
    assert [r["clip_id"] for r in demo] == ["V1/0", "V1/1", "V1/3", "V1/4", "V1/5"]  # V1/2 is a gap
    assert float(demo[1]["timeline_in_s"]) > float(demo[0]["timeline_in_s"]) >= 0
    assert rows[5]["status"] == "offline" and rows[5]["emotion"] == "" and "gone.mp4" in rows[5]["message"]
    assert any(int(r["suggestions"]) > 0 for r in demo)  # measured against the rising arc
    assert sorted(p.name for p in out.iterdir()) == ["demo.emotions.otio", "offline.emotions.otio"]
    annotated = otio.adapters.read_from_file(str(out / "demo.emotions.otio"))
    assert all(c.markers for c in annotated.find_clips())
    assert hashlib.sha256((folder / "demo.otio").read_bytes()).hexdigest() == before  # inputs untouched

    (folder / "broken.otio").unlink()
    assert batch_summary.main(args, engine=standin_engine()) == 3  # every timeline read, one clip offline
