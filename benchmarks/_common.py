"""Helpers shared by the benchmark scripts: machine description, the decode-only baselines, stats.

Every benchmark prints the machine it ran on and the load it saw, because on a
shared 2-core box the same script can differ by 2× between a quiet and a busy
minute; a number without its load average is not comparable to anything.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from emoguide.evaluation.machine import cpu_model

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = Path(os.environ.get("EMOGUIDE_BENCH_WORK", "/tmp/emoguide-bench"))


def add_common_args(parser) -> None:
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help=f"folder for generated media, caches and venvs (default {DEFAULT_WORK}; "
                             "never inside the repository: media is not committed)")
    parser.add_argument("--device", default=None,
                        help="torch device for the models: cpu, cuda, cuda:1 … (default: cuda if available, else cpu)")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "engine"], capture_output=True,
                               text=True, timeout=5).stdout.strip()
        import emoguide

        where = Path(emoguide.__file__).resolve().parent.parent
        note = "" if where == REPO / "engine" else f" is the repo's HEAD; emoguide imported from {where}"
        return (out.stdout.strip() or "unknown") + (" + uncommitted engine changes" if dirty and not note else "") + note
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def start_like_the_command() -> None:
    """Restart this script with the heap the ``emoguide`` command runs with (huge pages where that helps:
    ``emoguide/pipeline/huge_page_heap.py``), so a benchmark measures what the command does;
    ``EMOGUIDE_HUGE_PAGES=0`` measures without. First thing in a script's ``main``, never in a test
    (the restart replaces the process)."""
    from emoguide.pipeline.huge_page_heap import restart_with_huge_pages

    restart_with_huge_pages()


def machine_lines(device: str | None = None) -> list[str]:
    """What the numbers depend on: CPU, cores, threads, versions, load, date."""
    import torch

    try:
        import av

        pyav = (f"PyAV {av.__version__} (libx264 {'yes' if 'libx264' in av.codecs_available else 'no'}, "
                f"libx265 {'yes' if 'libx265' in av.codecs_available else 'no'})")
    except ImportError:  # a GPU machine sent only the repo and pre-decoded inputs (bench_inference --inputs)
        pyav = "PyAV not installed"

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9 if hasattr(os, "sysconf") else 0.0
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return [
        f"date            {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}  (commit {git_commit()})",
        f"cpu             {cpu_model()}, {os.cpu_count()} logical cores ({usable} usable), {mem_gb:.0f} GB RAM",
        f"gpu             {gpu}; device asked: {device or 'auto'}",
        f"threads         torch {torch.get_num_threads()} (interop {torch.get_num_interop_threads()}) at start; "
        f"Engine.load then sets its own (default_torch_threads: cores - 1, at least 2)",
        f"versions        python {platform.python_version()}, torch {torch.__version__}, {pyav}",
        f"C heap          {heap_setting()}",
        f"load average    {load_average()} (1/5/15 min, at start)",
    ]


def heap_setting() -> str:
    from emoguide.pipeline.huge_page_heap import thp_mode, uses_huge_pages

    if uses_huge_pages():
        return f"glibc asks for huge pages for big buffers (glibc.malloc.hugetlb=1; THP mode {thp_mode()})"
    return f"glibc's default pages (no glibc.malloc.hugetlb; THP mode {thp_mode()})"


def print_machine(title: str, device: str | None = None) -> None:
    print(f"== {title} ==")
    for line in machine_lines(device):
        print(line)
    print(flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 1024.0 / 1024.0


def heap_mb() -> tuple[float, float, float] | None:
    """glibc's own account of its memory: (MiB in use in the heap, MiB free in the heap but not
    handed back, MiB in buffers mapped on their own, above the mmap threshold); None elsewhere.

    Why: RSS alone cannot tell memory still referenced from a fragmented heap's free holes, nor
    malloc's memory from what libraries map themselves; the twelfth pass in docs/performance.md
    found the heap's free part rising over long runs."""
    from emoguide.pipeline.native_memory import mallinfo

    info = mallinfo()
    if info is None:  # not glibc, or glibc < 2.33
        return None
    return info.uordblks / 2**20, info.fordblks / 2**20, info.hblkhd / 2**20


MAPPING_KINDS = ("brk", "anon", "file")


def resident_by_kind() -> dict[str, float] | None:
    """Resident MiB of this process by kind of mapping (``/proc/self/smaps``; None where there is none).

    ``brk``: the main heap; ``anon``: every other anonymous map (glibc's thread heaps, buffers malloc
    or a library mapped on their own, Python's object arenas, thread stacks, shared anonymous memory);
    ``file``: file-backed maps (libraries, weights read by mmap), their copied-on-write pages
    included. Thread heaps are not told apart: the kernel merges neighbouring anonymous maps, so a
    64 MiB-aligned start finds some and misses others (tried: docs/performance.md, thirteenth pass);
    :func:`heap_mb` counts every arena, which is how to tell the heap from the rest. Why: RSS with
    glibc's counts could not say where the full analysis's rise over two hours lives
    (docs/performance.md, twelfth pass). Costs ~10 ms per call: sample it seconds apart."""
    out = dict.fromkeys(MAPPING_KINDS, 0.0)
    kind = "anon"
    try:
        with open("/proc/self/smaps") as smaps:
            for line in smaps:
                head = line.split(None, 5)
                if "-" in head[0] and len(head) >= 5 and ":" not in head[0]:  # a mapping's header line
                    path = head[5].strip() if len(head) > 5 else ""
                    if path == "[heap]":
                        kind = "brk"
                    elif not path or path.startswith(("[", "/dev/zero", "/memfd:")):  # stacks, shared memory
                        kind = "anon"
                    else:
                        kind = "file"
                elif head[0] == "Rss:":
                    out[kind] += int(head[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return out


class RssTrace:
    """RSS sampled every ``interval_s`` in a background thread while the block runs (Linux; elsewhere empty),
    glibc's heap (:func:`heap_mb`) every ``heap_every`` samples and, if ``smaps_every``, RSS by kind
    of mapping (:func:`resident_by_kind`) every ``smaps_every`` samples.

    Why beside the peak: a run's peak is the moment its largest transients coincide (a video chunk's
    frames while a sound block transcribes), and a longer run has more chances for that, so a peak
    alone cannot tell a rising level (memory that grows with media length) from a higher maximum of
    the same level. The trace's tenths of the run show which one it is.
    """

    def __init__(self, interval_s: float = 0.02, heap_every: int = 12, smaps_every: int = 0):
        import threading

        self.interval_s, self.heap_every, self.samples, self.heap = interval_s, heap_every, [], []
        self.smaps_every, self.kinds = smaps_every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            page = os.sysconf("SC_PAGE_SIZE") / 2**20
            heap = heap_mb() is not None
            with open("/proc/self/statm") as statm:
                while not self._stop.is_set():
                    statm.seek(0)
                    now, rss = time.perf_counter(), int(statm.read().split()[1]) * page
                    self.samples.append((now, rss))
                    if heap and len(self.samples) % self.heap_every == 1:
                        self.heap.append((now, *heap_mb()))
                    if self.smaps_every and len(self.samples) % self.smaps_every == 1:
                        kinds = resident_by_kind()
                        if kinds:
                            self.kinds.append((now, *(kinds[k] for k in MAPPING_KINDS)))
                    self._stop.wait(self.interval_s)
        except (OSError, ValueError, IndexError):
            self.samples.clear()  # no /proc (macOS, Windows): no trace rather than a wrong one

    def __enter__(self) -> "RssTrace":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def tenths(self, base_mb: float = 0.0) -> dict[str, list[float]]:
        """Median and maximum RSS (MiB over ``base_mb``) in each tenth of the traced time, and where
        glibc reports them the medians (MiB) of :func:`heap_mb`'s three parts. Those are sizes, not
        resident pages (a mapped buffer not yet written, heap pages trimmed back): read their
        changes through the run against the RSS's, not their sum against it. Where traced, the
        medians of :func:`resident_by_kind` (``rss_brk``, ``rss_anon``, ``rss_file``): resident, summable."""
        import numpy as np

        if len(self.samples) < 10:
            return {"median": [], "max": []}
        t, rss = (np.asarray(c, float) for c in zip(*self.samples))
        t0, span = t[0], max(t[-1] - t[0], 1e-9)

        def by_tenth(times, values, reduce, base=0.0):
            # a tenth with no sample (the sampler starved on a busy machine) reads the last sample
            # before it: the value still standing then, rather than a hole in the table
            part = np.minimum(((times - t0) / span * 10).astype(int), 9)
            out = []
            for k in range(10):
                here = values[part == k]
                earlier = values[part < k]
                value = reduce(here) if len(here) else (earlier[-1] if len(earlier) else float("nan"))
                out.append(round(float(value) - base, 1))
            return out

        out = {"median": by_tenth(t, rss, np.median, base_mb), "max": by_tenth(t, rss, np.max, base_mb)}
        if len(self.heap) >= 10:
            ht, in_use, free, mapped = (np.asarray(c, float) for c in zip(*self.heap))
            out["heap_in_use"], out["heap_free"] = by_tenth(ht, in_use, np.median), by_tenth(ht, free, np.median)
            out["mapped"] = by_tenth(ht, mapped, np.median)
        if len(self.kinds) >= 10:
            kt, *columns = (np.asarray(c, float) for c in zip(*self.kinds))
            for name, column in zip(MAPPING_KINDS, columns):
                out[f"rss_{name}"] = by_tenth(kt, column, np.median)
        return out


def percentile(values, q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


class Timer:
    """Wall seconds (``s``), this process's CPU seconds, all threads (``cpu``), and the machine's stolen
    CPU seconds (``steal``: a shared VM's neighbours; Linux only, else 0). On a VM the wall time moves
    with the neighbours; the CPU time is what the work itself cost, so comparisons lean on it."""

    def __enter__(self) -> "Timer":
        self.t0, self.cpu0, self.steal0 = time.perf_counter(), time.process_time(), _steal_s()
        return self

    def __exit__(self, *exc) -> None:
        self.s = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.cpu0
        self.steal = _steal_s() - self.steal0


def _steal_s() -> float:
    """Stolen CPU seconds since boot, all cores (the 8th value of /proc/stat's first line)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# -- the decode-only baselines ------------------------------------------------------------------------------------
@dataclass
class DecodeCount:
    seconds: float
    video_frames: int
    audio_samples: int


def raw_decode(jobs, skip_loop_filter: str = "none") -> DecodeCount:
    """Plain PyAV: seek to the keyframe before each used range and decode its video and audio, nothing else.

    No scaling, no colour conversion, no resampling, no numpy: the least any
    analysis of these ranges must pay on this machine (the "physical limit").
    Video frames counted are those with ``start ≤ t < end`` (half-frame tolerance,
    as the media layer does), so the count is checkable against the timeline.
    ``skip_loop_filter``: the decoder's option of that name (``media/video.py``), "none" = exact.
    """
    import av

    frames = samples = 0
    t0 = time.perf_counter()
    for job in jobs:
        if job.problem or job.source is None:
            continue
        with av.open(str(job.source.path)) as container:
            for stream in (container.streams.video[:1] + container.streams.audio[:1]):
                stream.thread_type = "AUTO"
                if stream.type == "video" and skip_loop_filter != "none":
                    stream.codec_context.options = {"skip_loop_filter": skip_loop_filter}
                tb = stream.time_base
                origin = float(stream.start_time * tb) if stream.start_time is not None else 0.0
                half = 0.5 / float(stream.average_rate) if stream.type == "video" and stream.average_rate else 0.0
                container.seek(max(0, int((origin + job.media_start_s - 0.5) / tb)), stream=stream, backward=True)
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    t = float(frame.pts * tb) - origin
                    if t >= job.media_end_s - half:
                        break
                    if stream.type == "video":
                        frames += t >= job.media_start_s - half
                    elif t + frame.samples / frame.sample_rate > job.media_start_s:
                        samples += frame.samples
    return DecodeCount(time.perf_counter() - t0, frames, samples)


def pipeline_decode(jobs, settings) -> DecodeCount:
    """emoguide's own media layer at the analysis's rate and size (decode + libav scale + RGB, 16 kHz audio).

    The analysis cannot be faster than this either, but unlike :func:`raw_decode`
    it includes work the pipeline chose (downscaling, the frame rate it samples).
    """
    from emoguide.media.audio import read_audio_range
    from emoguide.media.probe import probe
    from emoguide.media.video import iter_video_frames

    frames = samples = 0
    t0 = time.perf_counter()
    for job in jobs:
        if job.problem or job.source is None:
            continue
        info = probe(job.source.path)
        if info.has_video:
            fps = None if settings.spot_brief else settings.sample_fps
            for _ in iter_video_frames(job.source.path, job.media_start_s, job.media_end_s, sample_fps=fps,
                                       max_side=settings.max_side, info=info,
                                       skip_loop_filter=settings.skip_loop_filter):
                frames += 1
        if info.has_audio:
            samples += len(read_audio_range(job.source.path, job.media_start_s, job.media_end_s, rate=16000))
    return DecodeCount(time.perf_counter() - t0, frames, samples)


def expected_frames(jobs) -> int:
    """Frames a frame-exact decoder must return for the used ranges: ``round(e·r) − round(s·r)`` per clip."""
    from emoguide.media.probe import probe

    total = 0
    for job in jobs:
        if job.problem or job.source is None:
            continue
        rate = float(probe(job.source.path).video_rate)
        total += int(round(job.media_end_s * rate)) - int(round(job.media_start_s * rate))
    return total
