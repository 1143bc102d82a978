"""Start the command's process with glibc's malloc asking for transparent huge pages.

Why: an analysis allocates buffers of 4 MiB and more on every model call (the
detector's pyramid, the expression nets' and Whisper's activations), and
:mod:`emoguide.pipeline.native_memory` has glibc map each one fresh and unmap it
when freed, so long runs stay flat. Every 4 KiB page of such a buffer is then
faulted in and zeroed again on first touch: ~1.1 M page faults in one 24 s
1080p analysis, a fifth of its CPU time in the kernel (docs/performance.md,
nineteenth pass). With the glibc tunable ``glibc.malloc.hugetlb=1`` malloc
marks those maps ``MADV_HUGEPAGE``, and the kernel backs them with 2 MiB pages:
~3× fewer faults, ~1 CPU-s less kernel time per 1080p analysis (a quarter of
it), the same answers and the same peak memory (docs/performance.md, twentieth
pass; the total CPU saved is within the shared VM's noise there, 0-14 %).

The tunable is read once, when the process starts, so it cannot be switched on
from inside Python; :func:`restart_with_huge_pages` re-executes the command with it
set (before torch is imported, so the restart costs an interpreter start, ~30 ms).
Only the ``emoguide`` command and the benchmarks call it: a library never
replaces its host's process. A Python program that drives the engine itself gets
the same by starting with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` in its
environment (so do Ray workers on a cluster: set it where ``ray start`` runs;
a local Ray instance inherits it from the command).

It is left alone off Linux, with C libraries other than glibc 2.35+, where the
kernel's THP mode is not ``madvise`` (``always`` gives huge pages without asking;
``never`` refuses them), where ``$GLIBC_TUNABLES`` already says what to do with
``glibc.malloc.hugetlb``, and with ``EMOGUIDE_HUGE_PAGES=0``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

TUNABLE = "glibc.malloc.hugetlb"
TUNABLE_SETTING = f"{TUNABLE}=1"
THP_MODE_FILE = Path("/sys/kernel/mm/transparent_hugepage/enabled")
MIN_GLIBC = (2, 35)  # the first glibc with the hugetlb tunable


def glibc_version() -> tuple[int, int] | None:
    """(major, minor) of the C library when it is glibc, else None."""
    try:
        name, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").split()
        major, minor = (int(part) for part in version.split(".")[:2])
    except (ValueError, OSError, AttributeError):
        return None
    return (major, minor) if name == "glibc" else None


def thp_mode(path: Path = THP_MODE_FILE) -> str | None:
    """The kernel's transparent huge page mode (the bracketed word of ``always [madvise] never``), or None."""
    try:
        words = path.read_text().split()
    except OSError:
        return None
    chosen = [w.strip("[]") for w in words if w.startswith("[")]
    return chosen[0] if chosen else None


def restart_environment(environ: Mapping[str, str], platform: str, glibc: tuple[int, int] | None,
                        mode: str | None) -> dict[str, str] | None:
    """The environment to restart with, or None where a restart would change nothing.

    Pure, so each condition of the module docstring is testable without a restart.
    """
    if environ.get("EMOGUIDE_HUGE_PAGES", "1").strip() == "0":
        return None
    if not platform.startswith("linux") or glibc is None or glibc < MIN_GLIBC or mode != "madvise":
        return None
    current = environ.get("GLIBC_TUNABLES", "")
    if TUNABLE in current:  # the user's setting stands; it also ends the restart (the new process has it)
        return None
    env = dict(environ)
    env["GLIBC_TUNABLES"] = f"{current}:{TUNABLE_SETTING}" if current else TUNABLE_SETTING
    return env


def uses_huge_pages(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process started with the tunable on (for the benchmarks' machine line)."""
    tunables = (os.environ if environ is None else environ).get("GLIBC_TUNABLES", "")
    return TUNABLE_SETTING in tunables.split(":")


def restart_with_huge_pages() -> None:
    """Re-execute this process's command line with the tunable set, where that helps; else return.

    Call it first thing, before threads exist and before anything is written: the
    process image is replaced (same PID, open files and arguments). A failed exec
    (an unusual interpreter path) only logs and carries on without huge pages.
    """
    env = restart_environment(os.environ, sys.platform, glibc_version(), thp_mode())
    argv = list(getattr(sys, "orig_argv", []))
    if env is None or not argv or not sys.executable:
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        os.execve(sys.executable, argv, env)
    except OSError as exc:
        log.debug("restart with %s failed (%s); going on without it", TUNABLE_SETTING, exc)
