"""The C heap gives freed memory back after each clip, malloc arenas are capped and big buffers are
mapped on their own (glibc)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from emoguide.pipeline import native_memory

glibc_only = pytest.mark.skipif(native_memory._glibc() is None, reason="glibc's mallopt/malloc_trim not available")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@glibc_only
def test_memory_freed_by_a_finished_thread_goes_back_to_the_system():
    """What a clip's decode and sound threads leave behind: freed, but held by their malloc arena."""
    kept = []

    def clip_thread():
        blocks = [bytes(2000) for _ in range(100_000)]  # ~200 MB of malloc'd blocks in this thread's arena
        kept.append(blocks[-1])  # the last block stays in use: only a trim inside the heap can free the rest
        del blocks

    worker = threading.Thread(target=clip_thread)
    worker.start()
    worker.join()
    held = _rss_mib()
    assert native_memory.release_freed_memory()
    assert held - _rss_mib() > 100  # MiB returned


@glibc_only
def test_arena_cap_follows_the_environment(monkeypatch):
    monkeypatch.setenv("EMOGUIDE_MALLOC_ARENAS", "0")
    assert native_memory.limit_arenas() is None  # left alone when asked
    monkeypatch.setenv("EMOGUIDE_MALLOC_ARENAS", "4")
    assert native_memory.limit_arenas() == 4
    monkeypatch.delenv("EMOGUIDE_MALLOC_ARENAS")
    assert native_memory.limit_arenas() == native_memory.DEFAULT_ARENAS


_MMAPPED_AFTER_A_BIG_FREE = """
import json
import numpy as np
from emoguide.pipeline import native_memory
fixed = native_memory.fix_mmap_threshold()
if native_memory.mallinfo() is None:
    raise SystemExit("no mallinfo2")
big = np.ones(24 << 18, np.float32)  # 24 MiB, mmapped either way; freeing it raises glibc's dynamic threshold
del big
before = native_memory.mallinfo().hblks
block = np.ones(3 << 20, np.float32)  # 12 MiB: an analysis-sized transient (Whisper's features)
print(json.dumps({"fixed": fixed, "mmapped": native_memory.mallinfo().hblks - before}))
"""


@glibc_only
@pytest.mark.parametrize("setting, mmapped", [("8388608", 1), ("1048576", 1), (None, 1), ("0", 0)])
def test_fixed_mmap_threshold_keeps_big_transients_out_of_the_heap(setting, mmapped):
    """With glibc's dynamic threshold (``0``) a 12 MiB buffer allocated after a 24 MiB one was freed
    comes from the heap (where, interleaved with what outlives it, such buffers fragmented long runs);
    with a fixed threshold (the default, 4 MiB, or one asked for) it is mapped on its own and unmapped
    when freed."""
    import json
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")}
    env.pop("EMOGUIDE_MMAP_THRESHOLD", None)
    if setting is not None:
        env["EMOGUIDE_MMAP_THRESHOLD"] = setting
    try:
        out = subprocess.run([sys.executable, "-c", _MMAPPED_AFTER_A_BIG_FREE], env=env, capture_output=True,
                             text=True, check=True, timeout=120).stdout
    except subprocess.CalledProcessError as exc:
        if "mallinfo2" in exc.stderr:
            pytest.skip("glibc older than 2.33 (no mallinfo2)")
        raise
    result = json.loads(out.splitlines()[-1])
    expected_fixed = (int(setting) if setting else native_memory.DEFAULT_MMAP_THRESHOLD) if mmapped else None
    assert result == {"fixed": expected_fixed, "mmapped": mmapped}


@glibc_only
def test_the_users_own_glibc_threshold_stands(monkeypatch):
    monkeypatch.setenv("EMOGUIDE_MMAP_THRESHOLD", "1048576")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")
    assert native_memory.fix_mmap_threshold() is None


def _analyse_one_clip(media: Path, seconds: float, settings=None) -> str:
    """The status of a one-clip timeline over ``media``, analysed with the stand-in engine."""
    import opentimelineio as otio

    from emoguide.pipeline.analyze import analyze_media
    from emoguide.pipeline.windows import AnalysisSettings
    from emoguide.timeline.mapping import clip_jobs
    from standin_engine import standin_engine

    rt = otio.opentime.RationalTime
    tl = otio.schema.Timeline("t")
    tl.tracks.append(otio.schema.Track())
    tl.tracks[0].append(otio.schema.Clip("c", media_reference=otio.schema.ExternalReference(target_url=str(media)),
                                         source_range=otio.opentime.TimeRange(rt(0, 25), rt(seconds * 25, 25))))
    [job] = clip_jobs(tl)
    return analyze_media(job, standin_engine(), settings or AnalysisSettings()).status


def _count_trims(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(native_memory, "release_freed_memory", lambda: calls.append(1) or True)
    return calls


def test_every_analysed_clip_releases_memory(monkeypatch, tmp_path):
    """analyze_media trims after each clip, whatever the clip's outcome (here: offline media)."""
    calls = _count_trims(monkeypatch)
    assert _analyse_one_clip(tmp_path / "missing.mp4", 1.0) == "offline"
    assert calls == [1]


def test_long_clips_release_memory_after_every_chunk(monkeypatch, tmp_path):
    """Within a clip too: after each video chunk (CHUNK_S of frames) and each sound block.

    Peak memory is what the machine must have; trimming only between clips let the
    heap's free holes pile up inside a long clip (3 x 60 s clips: peak 1,447-1,501 MiB
    without, 1,277-1,398 MiB with the in-clip trims, same time).
    """
    from fractions import Fraction

    from emoguide.pipeline.clip import CHUNK_S
    from emoguide.pipeline.windows import AnalysisSettings
    from media_fixtures import make_indexed_video

    seconds = 2.5 * CHUNK_S  # two full chunks and a partial one
    media = make_indexed_video(tmp_path / "long.mp4", Fraction(25), int(seconds * 25), size=(160, 90), timecode=None)
    calls = _count_trims(monkeypatch)
    assert _analyse_one_clip(media, seconds, AnalysisSettings(spot_brief=True)) == "ok"
    # 2 full video chunks + 1 sound block (the stand-in voice reads its range whole) + the clip's own
    assert len(calls) == 2 + 1 + 1


def test_other_platforms_are_left_alone(monkeypatch):
    native_memory._glibc.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert native_memory._glibc() is None
        assert native_memory.limit_arenas() is None and native_memory.release_freed_memory() is False
        assert native_memory.fix_mmap_threshold() is None
    finally:
        native_memory._glibc.cache_clear()


def test_kernel_cache_cap_follows_the_environment(monkeypatch):
    for name in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY", "EMOGUIDE_KERNEL_CACHE"):
        monkeypatch.delenv(name, raising=False)
    assert native_memory.limit_kernel_cache() == native_memory.DEFAULT_KERNEL_CACHE
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(native_memory.DEFAULT_KERNEL_CACHE)
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "7")  # the user's (or the host's) choice stands
    assert native_memory.limit_kernel_cache() is None and os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "7"
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY")
    monkeypatch.setenv("EMOGUIDE_KERNEL_CACHE", "-1")
    assert native_memory.limit_kernel_cache() is None and "ONEDNN_PRIMITIVE_CACHE_CAPACITY" not in os.environ


_CONVOLVE_TWICE = """
from emoguide.pipeline import native_memory
native_memory.limit_kernel_cache()
import torch
conv = torch.nn.Conv1d(80, 384, 3, padding=1)  # the voice encoder's first layer
with torch.inference_mode():
    for length in (400, 500, 400):  # the third call's shape was seen two calls ago
        conv(torch.randn(1, 80, length))
"""


@pytest.mark.parametrize("cap, misses", [("1", 3), (None, 2)])
def test_oneDNN_honours_the_kernel_cache_cap(cap, misses):
    """oneDNN's own log says whether a kernel came from its cache: with room for one kernel the
    first shape is compiled again on its second use; with the default cap it is reused."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if "PRIMITIVE_CACHE_CAPACITY" not in k and k != "EMOGUIDE_KERNEL_CACHE"}
    env.update(ONEDNN_VERBOSE="all", **({"EMOGUIDE_KERNEL_CACHE": cap} if cap else {}))
    log = subprocess.run([sys.executable, "-c", _CONVOLVE_TWICE], env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    convolutions = [line for line in log.splitlines() if ",convolution," in line and ",create:cache_" in line]
    if not convolutions:
        pytest.skip("this torch build's convolutions do not go through oneDNN")
    assert sum(",create:cache_miss," in line for line in convolutions) == misses
