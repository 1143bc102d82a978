"""Batch analysis on Ray gives what the local run gives: same windows, same statuses, same cache.

One local Ray instance (2 CPUs, small object store) is started for the whole
module: Ray's startup costs seconds. The comparison uses the real face and
voice models on short ranges of the bundled example clips (a face on screen,
a voice on the track), plus an offline clip and a corrupt file; the failure
tests use stand-in engines that crash or raise inside the worker.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from conftest import EXAMPLES, REPO
from media_fixtures import make_corrupt_file, make_indexed_video
from ray_standins import BUG_WIDTH, CRASH_WIDTH, failing_engine

from emoguide import NAMESPACE
from emoguide.pipeline.analyze import analyze_timeline
from emoguide.pipeline.cache import AnalysisCache
from emoguide.pipeline.engine import Engine
from emoguide.pipeline.progress import Cancelled
from emoguide.pipeline.results import WINDOW_COLUMNS
from emoguide.pipeline.windows import AnalysisSettings

ray = pytest.importorskip("ray")

from emoguide.pipeline.distributed import BatchItem, ClipWorker, RayBatch, RayUnavailable, require_ray  # noqa: E402

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
MODALITIES = ("face", "voice")
SETTINGS = AnalysisSettings(sample_fps=2.0, spot_brief=False, transcribe=False)
MEDIA = EXAMPLES / "media"


@pytest.fixture(scope="module")
def ray_local():
    """A Ray instance of this machine only; workers import the test stand-ins from tests/."""
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must fit in 107 bytes
    path = os.pathsep.join(p for p in (str(REPO / "tests"), os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 ** 2, _temp_dir=temp,
             runtime_env={"env_vars": {"PYTHONPATH": path}}, log_to_driver=False)
    yield
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def media_clip(path: Path, rate: float, first: int, count: int, n_media: int) -> otio.schema.Clip:
    ref = otio.schema.ExternalReference(target_url=str(path), available_range=TR(RT(0, rate), RT(n_media, rate)))
    return otio.schema.Clip(name=path.stem, media_reference=ref, source_range=TR(RT(first, rate), RT(count, rate)))


def timeline(name: str, clips: list) -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name=name, global_start_time=RT(86400, 24))
    track = otio.schema.Track(name="V1")
    for clip in clips:
        track.append(clip)
        track.append(otio.schema.Gap(duration=RT(12, 24)))
    tl.tracks.append(track)
    return tl


EMPTY = timeline("empty", [])


@pytest.fixture(scope="module")
def reels(tmp_path_factory):
    """Two small cuts: real faces and voices, an offline clip, a corrupt file."""
    corrupt = make_corrupt_file(tmp_path_factory.mktemp("bad") / "corrupt.mp4")
    offline = otio.schema.Clip(name="offline", media_reference=otio.schema.MissingReference(),
                               source_range=TR(RT(0, 24), RT(24, 24)))
    reel1 = timeline("reel1", [media_clip(MEDIA / "single_face_smile.mp4", 30, 20, 36, 74),
                               media_clip(MEDIA / "cremad_1001_DFA_happy.mp4", 29.97, 12, 30, 59), offline])
    reel2 = timeline("reel2", [media_clip(MEDIA / "cremad_1001_DFA_angry.mp4", 29.97, 15, 33, 69),
                               media_clip(corrupt, 25, 0, 25, 50),
                               media_clip(MEDIA / "cremad_1001_DFA_sad.mp4", 29.97, 10, 30, 62)])
    return [reel1, reel2]


@pytest.fixture(scope="module")
def engine():
    return Engine.load(modalities=MODALITIES)


@pytest.fixture(scope="module")
def local_results(reels, engine):
    return [analyze_timeline(tl, settings=SETTINGS, engine=engine) for tl in reels]


@pytest.fixture(scope="module")
def ray_run(ray_local, reels, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("ray_cache")
    events = [[], [], []]
    batch = RayBatch(functools.partial(Engine.load, modalities=MODALITIES), workers=2)
    try:
        results = batch.analyze([BatchItem(tl, progress=events[i].append) for i, tl in enumerate(reels + [EMPTY])],
                                SETTINGS, AnalysisCache(cache_dir))
    finally:
        batch.close()
    return {"results": results[:2], "events": events[:2], "empty": (results[2], events[2]), "cache_dir": cache_dir}


def assert_same_analysis(a, b):
    assert (a.timeline_name, a.duration_s, a.rate, a.start_timecode_s) == (b.timeline_name, b.duration_s, b.rate,
                                                                           b.start_timecode_s)
    assert a.models == b.models and a.settings == b.settings and a.partial == b.partial
    assert len(a.clips) == len(b.clips)
    for ca, cb in zip(a.clips, b.clips):
        assert (ca.job, ca.status, ca.message) == (cb.job, cb.status, cb.message)
        assert (ca.windows is None) == (cb.windows is None)
        assert (ca.thumbnail_jpeg is None) == (cb.thumbnail_jpeg is None)
        assert ca.events == cb.events and ca.words == cb.words
        if ca.windows is None:
            continue
        wa, wb = ca.windows, cb.windows
        for col in WINDOW_COLUMNS:
            np.testing.assert_allclose(getattr(wa, col), getattr(wb, col), atol=1e-4, err_msg=col)
        assert (wa.fusion, wa.vad_source, wa.disagreeing_pair) == (wb.fusion, wb.vad_source, wb.disagreeing_pair)
        assert wa.modalities.keys() == wb.modalities.keys() and wa.stats.keys() == wb.stats.keys()
        for m, cols in wa.modalities.items():
            for k, v in cols.items():
                np.testing.assert_allclose(np.asarray(v, np.float64), np.asarray(wb.modalities[m][k], np.float64),
                                           atol=1e-4, err_msg=f"{m}.{k}")
        for k, v in wa.stats.items():
            np.testing.assert_allclose(v, wb.stats[k], atol=1e-4, equal_nan=True, err_msg=k)


def test_ray_batch_gives_the_local_results(local_results, ray_run):
    statuses = [[c.status for c in r.clips] for r in local_results]
    assert statuses == [["ok", "ok", "offline"], ["ok", "error", "ok"]]  # the comparison covers every outcome
    # the models really heard and saw something, so equal results are not equal blanks
    present = {m for c in local_results[0].clips if c.windows is not None for m, cols in c.windows.modalities.items()
               if np.asarray(cols["present"]).any()}
    assert present == {"face", "voice"}
    for local, distributed in zip(local_results, ray_run["results"]):
        assert_same_analysis(local, distributed)
        assert not any(c.from_cache for c in distributed.clips)


def test_a_timeline_without_clips_finishes_too(ray_run, engine):
    result, events = ray_run["empty"]
    assert_same_analysis(analyze_timeline(EMPTY, settings=SETTINGS, engine=engine), result)
    assert [e.stage for e in events] == ["timeline", "done"]


def test_the_cache_comes_back_to_the_driver(ray_run, reels, local_results, engine):
    entries = list(Path(ray_run["cache_dir"]).rglob("*.json.gz"))
    assert len(entries) == 4  # one per analysed clip; failures are not cached
    cache = AnalysisCache(ray_run["cache_dir"])
    again = [analyze_timeline(tl, settings=SETTINGS, engine=engine, cache=cache) for tl in reels]
    assert (cache.hits, cache.misses) == (4, 1)  # every clip the workers analysed; the corrupt file is a miss
    for local, rerun in zip(local_results, again):
        assert_same_analysis(local, rerun)


def test_progress_events_follow_each_timeline(ray_run):
    for events, result in zip(ray_run["events"], ray_run["results"]):
        stages = [e.stage for e in events]
        assert stages[0] == "timeline" and events[0].total == len(result.clips)
        assert stages[-1] == "done" and events[-1].message == "partial"
        done = [e for e in events if e.stage == "clip_done"]
        assert sorted(e.clip_id for e in done) == sorted(c.job.clip_id for c in result.clips)
        assert [e.done for e in done] == [1, 2, 3]
    warnings = [e for e in ray_run["events"][1] if e.stage == "warning"]
    assert len(warnings) == 1 and warnings[0].clip_id == ray_run["results"][1].clips[1].job.clip_id


def test_a_worker_crash_fails_only_its_clip_and_cancel_stops_the_batch(ray_local, tmp_path):
    ok = make_indexed_video(tmp_path / "ok.mp4", Fraction(25), 30, audio=False, timecode=None)
    crash = make_indexed_video(tmp_path / "crash.mp4", Fraction(25), 30, size=(CRASH_WIDTH, 96), audio=False,
                               timecode=None)
    bug = make_indexed_video(tmp_path / "bug.mp4", Fraction(25), 30, size=(BUG_WIDTH, 108), audio=False,
                             timecode=None)
    tl = timeline("failing", [media_clip(crash, 25, 0, 25, 30), media_clip(ok, 25, 0, 25, 30),
                              media_clip(bug, 25, 0, 25, 30), media_clip(ok, 25, 5, 25, 30)])
    batch = RayBatch(failing_engine, workers=1, max_restarts=1)  # one worker: it must come back to finish the cut
    try:
        [result] = batch.analyze([BatchItem(tl)], SETTINGS)
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(Cancelled):  # and the same workers stop when asked
            batch.analyze([BatchItem(tl)], SETTINGS, cancel=cancel)
    finally:
        batch.close()
    assert [c.status for c in result.clips] == ["error", "ok", "error", "ok"], [c.message for c in result.clips]
    assert result.clips[0].message.startswith("Ray worker crashed while analysing this clip")
    assert result.clips[2].message == "internal error: ValueError: stand-in bug in a recogniser"
    assert result.partial


def test_media_the_driver_saw_but_a_worker_cannot_read_says_which_node(tmp_path):
    """The cluster mistake: the path exists where the batch was planned, not where the clip runs."""
    import socket

    from emoguide.pipeline.plan import TimelinePlan

    media = make_indexed_video(tmp_path / "local_only.mp4", Fraction(25), 30, audio=False, timecode=None)
    plan = TimelinePlan.of(timeline("cluster", [media_clip(media, 25, 0, 25, 30)]))
    assert plan.analysable == [True]  # the driver sees the file ...
    media.unlink()  # ... the worker does not
    payload, _ = ClipWorker(failing_engine).analyze(plan.jobs[0], SETTINGS)
    assert payload["status"] == "offline"
    assert payload["message"].startswith("media offline: ")
    assert f"on Ray worker {socket.gethostname()}: every node must see the media" in payload["message"]


def test_cli_runs_a_folder_batch_on_ray(ray_run, reels, tmp_path):
    from emoguide.cli.main import main

    for tl in reels:
        otio.adapters.write_to_file(tl, str(tmp_path / f"{tl.name}.otio"))
    code = main(["analyze", str(tmp_path), "--ray", "--ray-workers", "1", "--modalities", ",".join(MODALITIES),
                 "--fps", "2", "--no-brief", "--no-transcribe", "--cache-dir", str(ray_run["cache_dir"]),
                 "--out-dir", str(tmp_path / "out"), "--report", str(tmp_path / "report"), "--quiet"])
    assert code == 3  # partial: the offline clip and the corrupt file are reported, the rest is written
    for tl in reels:
        annotated = otio.adapters.read_from_file(str(tmp_path / "out" / f"{tl.name}.emotions.otio"))
        kinds = [[m.metadata[NAMESPACE]["kind"] for m in c.markers if NAMESPACE in m.metadata]
                 for c in annotated.find_clips()]
        assert sum("emotion" in k for k in kinds) == 2, kinds
        assert (tmp_path / "report" / tl.name / "index.html").is_file()


def test_without_ray_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RayUnavailable, match=r"pip install 'emoguide\[ray\]'"):
        require_ray()
