"""What the huge-page heap buys: one cold analysis per process, with and without, interleaved.

The ``emoguide`` command restarts itself with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``
where that helps (``emoguide/pipeline/huge_page_heap.py``), so glibc asks the
kernel for 2 MiB pages for the big buffers it maps per model call. The tunable is
read when a process starts, so each arm runs in processes of its own: ROUNDS
rounds, each one process per arm (which goes first alternates), each loading the
models, warming up on a short clip and timing one cold analysis of the target.
Each child prints wall and CPU seconds, kernel (system) CPU seconds, minor page
faults, stolen seconds and its peak RSS, and a digest of its window
probabilities: both arms must give the same numbers, only faster or slower.

Targets are bench_analyze's (1080p, 4k, demo or a timeline path).

    python benchmarks/bench_huge_pages.py 1080p 4k --rounds 6
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import bench_analyze  # noqa: E402

ARMS = ("huge pages", "default pages")


def child(path: Path, work: Path) -> None:
    """In the child: load, warm up, time one cold analysis, print one JSON line."""
    import numpy as np

    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.cache import AnalysisCache
    from emoguide.pipeline.engine import Engine
    from emoguide.pipeline.huge_page_heap import uses_huge_pages
    from emoguide.pipeline.windows import AnalysisSettings
    from emoguide.timeline.mapping import load_timeline

    settings = AnalysisSettings()
    engine = Engine.load(device="cpu")
    bench_analyze.warm_up(engine, settings, work)
    timeline = load_timeline(path)
    cache = AnalysisCache(work / "cache" / f"hp-{path.stem}-{time.time_ns()}")
    before = resource.getrusage(resource.RUSAGE_SELF)
    with _common.Timer() as t:
        result = analyze_timeline(timeline, base_dir=path.resolve().parent, settings=settings, engine=engine,
                                  cache=cache)
    after = resource.getrusage(resource.RUSAGE_SELF)
    digest = hashlib.sha1()
    for clip in result.clips:
        if clip.windows is not None:
            digest.update(np.round(clip.windows.probs, 5).tobytes())
    print(json.dumps({"huge": uses_huge_pages(), "wall": t.s, "cpu": t.cpu, "steal": t.steal,
                      "sys": after.ru_stime - before.ru_stime, "faults": after.ru_minflt - before.ru_minflt,
                      "peak_mib": after.ru_maxrss / 1024, "digest": digest.hexdigest()[:12]}), flush=True)


def arm_env(arm: str) -> dict[str, str]:
    env = dict(os.environ)
    if arm == "default pages":
        env["EMOGUIDE_HUGE_PAGES"] = "0"
        kept = [t for t in env.pop("GLIBC_TUNABLES", "").split(":") if t and not t.startswith("glibc.malloc.hugetlb")]
        if kept:
            env["GLIBC_TUNABLES"] = ":".join(kept)
    else:
        env.pop("EMOGUIDE_HUGE_PAGES", None)
    return env


def ab(path: Path, work: Path, rounds: int) -> None:
    runs: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    for i in range(rounds):
        for arm in (ARMS if i % 2 == 0 else reversed(ARMS)):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(path), "--work", str(work)]
            out = subprocess.run(cmd, env=arm_env(arm), capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"child failed ({arm}):\n{out.stderr[-3000:]}")
            runs[arm].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"-- {path.name}: {rounds} rounds, one process per arm and round")
    for arm, r in runs.items():
        on = {x["huge"] for x in r}
        print(f"   {arm:14s} (tunable on: {'/'.join(map(str, sorted(on)))})")
        for key, unit in (("wall", "s"), ("cpu", "CPU s"), ("sys", "kernel CPU s"), ("faults", "page faults"),
                          ("peak_mib", "peak MiB")):
            values = [x[key] for x in r]
            scale = 1e-3 if key == "faults" else 1.0
            listed = " ".join(f"{v * scale:.1f}" for v in values)
            print(f"      {unit:13s} min {min(values) * scale:9.1f}  median {statistics.median(values) * scale:9.1f}"
                  f"{'k' if key == 'faults' else ' '}  [{listed}]")
        stolen = " ".join(f"{x['steal']:.1f}" for x in r)
        print(f"      stolen s      {stolen}")
    on, off = runs[ARMS[0]], runs[ARMS[1]]
    for key in ("wall", "cpu"):
        print(f"   default ÷ huge, {key}: min {min(x[key] for x in off) / min(x[key] for x in on):.2f}×, "
              f"median {statistics.median(x[key] for x in off) / statistics.median(x[key] for x in on):.2f}×")
    digests = {x["digest"] for x in on + off}
    print(f"   window probabilities: {'identical in every run' if len(digests) == 1 else f'DIFFER: {digests}'}",
          flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="*", default=["1080p"], help="1080p, 4k, demo or timeline paths")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--work", type=Path, default=_common.DEFAULT_WORK)
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _common.start_like_the_command()  # on in the "huge pages" arm; EMOGUIDE_HUGE_PAGES=0 keeps the other off
        child(args.child, args.work)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    _common.print_machine("bench_huge_pages: huge-page heap on vs off, one process per arm and round")
    built = [bench_analyze.build_target(t, args.work) for t in args.targets]
    for path, _ in built:
        ab(path, args.work, args.rounds)


if __name__ == "__main__":
    main()
