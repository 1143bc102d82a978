"""Report files, JSON round trip of results, and the analysis cache's keys and atomicity."""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
from factories import make_analysis, make_timeline

from emoguide.pipeline.cache import AnalysisCache
from emoguide.pipeline.results import TimelineAnalysis
from emoguide.report.html import render_report, write_report
from emoguide.report.tables import CSV_COLUMNS


def test_report_files_show_every_window_and_the_offline_clip(tmp_path):
    analysis = make_analysis(make_timeline())
    page = write_report(analysis, tmp_path / "r")
    html = page.read_text()
    assert "<svg" in html and "Partial analysis" in html and "offline" in html
    assert "happy" in html and "sad" in html
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r" / "windows.csv").read_text())))
    assert len(rows) == 4 and list(rows[0]) == CSV_COLUMNS
    assert [r["label"] for r in rows] == ["happy", "happy", "sad", "sad"]
    data = json.loads((tmp_path / "r" / "analysis.json").read_text())
    assert data["partial"] is True and len(data["clips"]) == 2


def test_results_round_trip_through_json():
    analysis = make_analysis(make_timeline())
    again = TimelineAnalysis.from_dict(json.loads(json.dumps(analysis.to_dict())))
    w0, w1 = analysis.clips[0].windows, again.clips[0].windows
    assert np.allclose(w0.probs, w1.probs) and np.allclose(w0.vad, w1.vad)
    assert again.clips[0].events[0].label == "surprised"
    assert again.clips[1].status == "offline" and again.partial


def test_svg_elements_close_properly():
    import re

    html = render_report(make_analysis(make_timeline()))
    # in HTML an unquoted value swallows the slash of "/>": the element would never close
    assert not re.findall(r"=[^'\"\s>]+/>", html)


def test_report_escapes_names():
    analysis = make_analysis(make_timeline())
    analysis.timeline_name = "<script>alert(1)</script>"
    assert "<script>alert" not in render_report(analysis)


def test_cache_key_covers_path_size_mtime_models_settings(tmp_path):
    media = tmp_path / "a.mov"
    media.write_bytes(b"x" * 10)
    key = AnalysisCache.key(media, 0, 1, {"face": "a"}, {"w": 2}, "1")
    assert key == AnalysisCache.key(media, 0, 1, {"face": "a"}, {"w": 2}, "1")
    assert key != AnalysisCache.key(media, 0, 2, {"face": "a"}, {"w": 2}, "1")
    assert key != AnalysisCache.key(media, 0, 1, {"face": "b"}, {"w": 2}, "1")
    assert key != AnalysisCache.key(media, 0, 1, {"face": "a"}, {"w": 3}, "1")
    other = tmp_path / "sub"
    other.mkdir()
    (other / "a.mov").write_bytes(b"x" * 10)
    assert key != AnalysisCache.key(other / "a.mov", 0, 1, {"face": "a"}, {"w": 2}, "1")  # folder matters
    media.write_bytes(b"x" * 11)
    assert key != AnalysisCache.key(media, 0, 1, {"face": "a"}, {"w": 2}, "1")  # size matters
    before = AnalysisCache.key(media, 0, 1, {}, {}, "1")
    st = media.stat()
    os.utime(media, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert AnalysisCache.key(media, 0, 1, {}, {}, "1") != before  # mtime matters
    assert AnalysisCache.key(tmp_path / "missing.mov", 0, 1, {}, {}, "1") is None


def test_cache_get_put_and_torn_entries(tmp_path):
    cache = AnalysisCache(tmp_path)
    cache.put("ab" * 32, {"status": "ok"})
    assert cache.get("ab" * 32) == {"status": "ok"} and cache.hits == 1
    torn = cache._path("cd" * 32)
    torn.parent.mkdir(parents=True, exist_ok=True)
    torn.write_bytes(b"\x1f\x8b garbage")
    assert cache.get("cd" * 32) is None  # a torn file is a miss, not a crash
    assert not list(tmp_path.rglob("*.tmp"))
    disabled = AnalysisCache(tmp_path, enabled=False)
    assert disabled.get("ab" * 32) is None

    assert AnalysisCache(tmp_path).get(None) is None  # unstatable media: no key, no lookup
