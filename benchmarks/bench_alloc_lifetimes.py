"""Which large allocations live long, in which thread: what fragments the C heap over hours.

``bench_scale`` shows *that* glibc's free heap grows over a long run while the bytes in
use stay level: holes left where short-lived buffers were carved between long-lived
ones. This script shows *which* buffers. It analyses a few clips of the same media as
``bench_scale`` in a child process with ``alloc_trace/alloc_trace.c`` preloaded (built
here with the system's C compiler; glibc only), which records every allocation of at
least ``--min-kib`` and its free; allocations are then paired into lifetimes and
summed by thread (Python's thread names where the thread is a Python thread, the OS
name otherwise) and size, in MiB·s: size × lifetime, the mass that holes form around.

The sixteenth pass (docs/performance.md) found libav's pool of held video frames
93 % of the analysis's long-lived mass (248 buffers of 691 KB per clip, ~57 s each), which led
to ``media/frame_store.py``; run it again after a change to see what leads now.

    python benchmarks/bench_alloc_lifetimes.py                 # 3 clips of 60 s, all modalities
    python benchmarks/bench_alloc_lifetimes.py --clips 1 --modalities voice,text
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _media  # noqa: E402

SOURCE = Path(__file__).resolve().parent / "alloc_trace" / "alloc_trace.c"
RECORD = [("t_ns", "u8"), ("size", "u8"), ("ptr", "u8"), ("tid", "u4"), ("op", "u4")]
BUCKETS = ((512 << 10, "64 KiB-512 KiB"), (1 << 20, "512 KiB-1 MiB"), (4 << 20, "1-4 MiB"), (32 << 20, "4-32 MiB"),
           (1 << 62, ">= 32 MiB"))


def build_shim(work: Path) -> Path:
    """``alloc_trace.so`` in ``work``, rebuilt when the source is newer; raises RuntimeError without a compiler."""
    out = work / "alloc_trace.so"
    if out.exists() and out.stat().st_mtime >= SOURCE.stat().st_mtime:
        return out
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler (cc/gcc, or $CC) to build the allocation tracer")
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(SOURCE)], check=True)
    return out


def child(timeline: Path, modalities: str, names_out: Path) -> None:
    """Inside the traced child: analyse, noting every thread's name as it appears."""
    import threading
    import time

    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.engine import Engine
    from emoguide.timeline.mapping import load_timeline

    names: dict[int, str] = {}
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for t in threading.enumerate():
                if t.native_id is not None:
                    names.setdefault(t.native_id, t.name)
            for task in Path("/proc/self/task").iterdir():
                try:
                    names.setdefault(int(task.name), (task / "comm").read_text().strip())
                except (OSError, ValueError):
                    pass
            time.sleep(0.02)

    names[threading.main_thread().native_id] = "main (picture models)"
    watcher = threading.Thread(target=watch, name="alloc-trace-watch", daemon=True)
    watcher.start()
    engine = Engine.load(modalities=tuple(modalities.split(",")))
    started_ns = time.monotonic_ns()  # CLOCK_MONOTONIC, the tracer's clock: what the models' loading freed is left out
    result = analyze_timeline(load_timeline(timeline), base_dir=timeline.parent, engine=engine)
    stop.set()
    watcher.join()
    names_out.write_text(json.dumps({"started_ns": started_ns, "threads": {str(k): v for k, v in names.items()}}))
    print(json.dumps({"clips_ok": sum(c.status == "ok" for c in result.clips), "clips": len(result.clips)}))


def lifetimes(trace: Path, since_ns: int = 0):
    """(size, tid, lifetime s, allocated at s) of every traced block allocated from ``since_ns`` on and
    freed, and the bytes allocated from then on and never freed.

    ``since_ns`` leaves out the models' loading: transformers and torch build each model with fresh
    weights, then replace them with the loaded ones, and those first weights are freed at a
    collection tens of seconds later, which would read as long-lived buffers of the analysis."""
    import numpy as np

    rec = np.fromfile(trace, dtype=RECORD)
    live: dict[int, tuple[int, int, int]] = {}
    rows = []
    for t, size, ptr, tid, op in rec.tolist():
        if op == 1:
            live[ptr] = (t, size, tid)
        elif ptr in live:
            t0, size0, tid0 = live.pop(ptr)
            if t0 >= since_ns:
                rows.append((size0, tid0, (t - t0) / 1e9, (t0 - rec["t_ns"][0]) / 1e9))
    return rows, sum(v[1] for v in live.values() if v[0] >= since_ns), len(rec)


def summarise(rows, names: dict[int, str], long_s: float) -> list[str]:
    """Lines of the report: long-lived mass by thread and size, then the leading sizes."""
    def bucket(size):
        return next(label for limit, label in BUCKETS if size < limit)

    by_kind = collections.defaultdict(lambda: [0, 0.0, 0.0])  # count, MiB allocated, MiB·s
    by_size = collections.defaultdict(lambda: [0, 0.0])
    for size, tid, life, _ in rows:
        thread = names.get(tid, f"thread {tid}")
        kind = by_kind[(thread, bucket(size), "long" if life >= long_s else "short")]
        kind[0] += 1
        kind[1] += size / 2**20
        kind[2] += size / 2**20 * life
        if life >= long_s:
            entry = by_size[(thread, round(size / 2**20, 2))]
            entry[0] += 1
            entry[1] += size / 2**20 * life
    total_long = sum(v[2] for k, v in by_kind.items() if k[2] == "long") or 1.0
    lines = [f"{'thread':26} {'size':15} {'lives':6} {'count':>8} {'MiB allocated':>14} {'MiB·s':>10}"]
    for (thread, size, kind), (n, mib, mass) in sorted(by_kind.items(), key=lambda kv: -kv[1][2])[:16]:
        lines.append(f"{thread[:26]:26} {size:15} {kind:6} {n:8d} {mib:14.0f} {mass:10.0f}")
    lines.append(f"\nlongest-lived mass (lives ≥ {long_s:g} s), by thread and exact size; share of all long-lived MiB·s:")
    for (thread, mib), (n, mass) in sorted(by_size.items(), key=lambda kv: -kv[1][1])[:12]:
        lines.append(f"   {thread[:26]:26} {mib:8.2f} MiB × {n:5d}   {mass:9.0f} MiB·s   {100 * mass / total_long:5.1f} %")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_common_args(p)
    p.add_argument("--clips", type=int, default=3, help="clips analysed one after another (default 3)")
    p.add_argument("--clip-s", type=float, default=60.0, help="seconds per clip (default 60)")
    p.add_argument("--modalities", default="face,voice,text", help="recognisers to load (default all)")
    p.add_argument("--min-kib", type=int, default=64, help="smallest allocation traced, KiB (default 64)")
    p.add_argument("--long-s", type=float, default=0.5, help="a lifetime this long counts as long-lived (default 0.5 s)")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--names-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    _common.start_like_the_command()
    if args.child:
        child(args.child, args.modalities, args.names_out)
        return
    _common.print_machine("bench_alloc_lifetimes: which large allocations live long, in which thread", args.device)
    shim = build_shim(args.work)
    segment = _media.face_media(args.work, (640, 360), "libx264", 60.0, gop_s=10.0)
    media_s = args.clips * args.clip_s
    media = segment if media_s <= 60.0 else _media.looped_media(args.work, segment, media_s)
    timeline = _media.write_timeline(args.work / f"alloc_{args.clips}x{int(args.clip_s)}.otio", "alloc trace",
                                     [(media, k * args.clip_s, args.clip_s) for k in range(args.clips)])
    trace, names_path = args.work / "alloc_trace.bin", args.work / "alloc_trace_threads.json"
    env = dict(os.environ, LD_PRELOAD=str(shim), EMOGUIDE_ALLOC_TRACE_OUT=str(trace),
               EMOGUIDE_ALLOC_TRACE_MIN=str(args.min_kib * 1024))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(timeline), "--names-out", str(names_path),
           "--modalities", args.modalities]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"traced analysis failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    print(f"analysed        {args.clips} × {args.clip_s:g} s of {media.name} ({args.modalities}); "
          f"{json.loads(out.stdout.strip().splitlines()[-1])}")
    meta = json.loads(names_path.read_text())
    rows, never_freed, n_records = lifetimes(trace, meta["started_ns"])
    names = {int(k): v for k, v in meta["threads"].items()}
    print(f"traced          {n_records} records ≥ {args.min_kib} KiB; of the analysis (the models' loading left "
          f"out): {len(rows)} blocks freed, {never_freed / 2**20:.0f} MiB never freed (kept results, caches)\n")
    print("\n".join(summarise(rows, names, args.long_s)))


if __name__ == "__main__":
    main()
