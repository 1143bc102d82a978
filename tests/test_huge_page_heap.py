"""The command restarts itself once with glibc's huge-page tunable, only where that helps, and the heap then
really gets huge pages (``pipeline/huge_page_heap.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from emoguide.pipeline import huge_page_heap as hph

GLIBC = (2, 36)


def test_restart_environment_adds_the_tunable_where_it_helps():
    env = hph.restart_environment({"PATH": "/usr/bin"}, "linux", GLIBC, "madvise")
    assert env == {"PATH": "/usr/bin", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
    kept = hph.restart_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, "linux", GLIBC, "madvise")
    assert kept["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    assert hph.uses_huge_pages(kept) and not hph.uses_huge_pages({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})


@pytest.mark.parametrize("environ, platform, glibc, mode", [
    ({"EMOGUIDE_HUGE_PAGES": "0"}, "linux", GLIBC, "madvise"),             # switched off
    ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, "linux", GLIBC, "madvise"),  # the user's choice stands
    ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}, "linux", GLIBC, "madvise"),  # already restarted
    ({}, "darwin", None, None),
    ({}, "linux", None, "madvise"),                                         # musl or another C library
    ({}, "linux", (2, 34), "madvise"),                                      # before the tunable existed
    ({}, "linux", GLIBC, "always"),                                         # huge pages without asking
    ({}, "linux", GLIBC, "never"),
    ({}, "linux", GLIBC, None),                                             # no THP in this kernel
])
def test_no_restart_where_it_would_change_nothing(environ, platform, glibc, mode):
    assert hph.restart_environment(environ, platform, glibc, mode) is None


def test_thp_mode_is_the_bracketed_word(tmp_path):
    path = tmp_path / "enabled"
    path.write_text("always [madvise] never\n")
    assert hph.thp_mode(path) == "madvise"
    path.write_text("[always] madvise never\n")
    assert hph.thp_mode(path) == "always"
    assert hph.thp_mode(tmp_path / "missing") is None


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "EMOGUIDE_HUGE_PAGES")}


applies_here = hph.restart_environment(_clean_env(), sys.platform, hph.glibc_version(), hph.thp_mode()) is not None


@pytest.mark.skipif(not applies_here, reason="needs Linux, glibc 2.35+ and THP in madvise mode")
def test_the_restarted_process_gets_huge_pages_for_its_big_buffers():
    code = textwrap.dedent("""
        import ctypes, os, re
        from emoguide.pipeline.huge_page_heap import restart_with_huge_pages
        print("start", os.environ.get("GLIBC_TUNABLES"), flush=True)
        restart_with_huge_pages()
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc.restype = ctypes.c_void_p
        size = 64 << 20  # above any mmap threshold: mapped on its own, as the models' activations are
        buf = libc.malloc(size)
        ctypes.memset(buf, 1, size)
        rollup = open("/proc/self/smaps_rollup").read()
        print("huge_kb", re.search(r"AnonHugePages:\\s+(\\d+)", rollup).group(1))
    """)
    out = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["start None", "start glibc.malloc.hugetlb=1"]  # restarted exactly once
    huge_kb = int(re.match(r"huge_kb (\d+)", lines[2]).group(1))
    assert huge_kb >= 32 << 10, out.stdout  # most of the 64 MiB in 2 MiB pages (none without the tunable)


@pytest.mark.skipif(not applies_here, reason="needs Linux, glibc 2.35+ and THP in madvise mode")
def test_without_the_tunable_the_same_buffer_gets_none():
    """The control for the test above: so it cannot pass on a kernel that gives huge pages anyway."""
    code = textwrap.dedent("""
        import ctypes, re
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc.restype = ctypes.c_void_p
        buf = libc.malloc(64 << 20)
        ctypes.memset(buf, 1, 64 << 20)
        print(re.search(r"AnonHugePages:\\s+(\\d+)", open("/proc/self/smaps_rollup").read()).group(1))
    """)
    out = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and int(out.stdout) == 0, (out.stdout, out.stderr)


def test_the_command_runs_through_its_restart():
    out = subprocess.run([sys.executable, "-m", "emoguide", "--version"], env=_clean_env(), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("emoguide "), out.stderr
