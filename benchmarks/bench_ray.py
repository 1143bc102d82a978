"""Local loop vs Ray batch on the same batch of timelines, cold cache both times.

Prints, for each way of running:
  start     local: Engine.load once; Ray: ray.init + every worker loading its models
            (in parallel, one engine per worker)
  analyze   analysing every clip of every timeline, models already loaded
  total     start + analyze
and analyze and total ratios Ray / local. It also checks that both runs give the
same statuses and window probabilities (max |Δp|), since a fast wrong answer is
no answer.

The batch: --timelines copies of a cut built from the repo's example clips
(different sub-ranges per copy, so nothing repeats), default analysis settings,
every modality. On one machine Ray cannot beat the local loop by much: the
local engine already uses every core through torch's threads; Ray's win is
adding machines (see docs/performance.md, "Scale out with Ray").

    python benchmarks/bench_ray.py                    # 6 timelines, 2 workers
    python benchmarks/bench_ray.py --local-threads 1   # same torch threads per engine both ways
    python benchmarks/bench_ray.py --timelines 12 --workers 4 --address auto
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo.otio"
RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def build_batch(n: int) -> list[otio.schema.Timeline]:
    """``n`` cuts of the demo's clips, each using a different trimmed range of them."""
    demo = otio.adapters.read_from_file(str(DEMO))
    media = [(c.name, c.media_reference.target_url, c.media_reference.available_range) for c in demo.find_clips()]
    batch = []
    for k in range(n):
        tl = otio.schema.Timeline(name=f"reel{k + 1}", global_start_time=RT(86400, 24))
        track = otio.schema.Track(name="V1")
        for i in range(3):
            name, url, avail = media[(k + i) % len(media)]
            rate = avail.duration.rate
            length = avail.duration.value
            first = int((k * 7 + i * 3) % max(1, int(length * 0.3)))
            ref = otio.schema.ExternalReference(target_url=str(DEMO.parent / url), available_range=avail)
            track.append(otio.schema.Clip(name=name, media_reference=ref,
                                          source_range=TR(RT(first, rate), RT(int(length * 0.6), rate))))
        tl.tracks.append(track)
        batch.append(tl)
    return batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timelines", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--address", help="Ray cluster address (default: a local Ray instance)")
    parser.add_argument("--local-threads", type=int,
                        help="torch threads of the local run (default: torch's, one per core; each Ray worker "
                             "gets one per CPU it reserves)")
    args = parser.parse_args(argv)

    import torch

    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.distributed import BatchItem, RayBatch, connect
    from emoguide.pipeline.engine import Engine

    batch = build_batch(args.timelines)
    media_s = sum(c.source_range.duration.to_seconds() for tl in batch for c in tl.find_clips())
    print(f"batch: {len(batch)} timelines, {3 * len(batch)} clips, {media_s:.1f} s of media; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")

    t0 = time.perf_counter()
    engine = Engine.load()
    t1 = time.perf_counter()
    if args.local_threads:  # after loading: CTranslate2 (Whisper) resets the OpenMP thread count it shares with torch
        torch.set_num_threads(args.local_threads)
    local = [analyze_timeline(tl, engine=engine) for tl in batch]
    t2 = time.perf_counter()
    del engine
    rows = {f"local (1 engine, {torch.get_num_threads()} torch threads)": (t1 - t0, t2 - t1)}

    t0 = time.perf_counter()
    connect(args.address, log_to_driver=False,
            **({} if args.address else {"_temp_dir": tempfile.mkdtemp(prefix="ray"),
                                        "object_store_memory": 200 * 1024 ** 2}))
    ray_batch = RayBatch(functools.partial(Engine.load), workers=args.workers)
    ray_batch.start()
    t1 = time.perf_counter()
    distributed = ray_batch.analyze([BatchItem(tl) for tl in batch])
    t2 = time.perf_counter()
    ray_batch.close()
    rows[f"Ray ({args.workers} workers × 1 torch thread)"] = (t1 - t0, t2 - t1)

    same = [[c.status for c in a.clips] == [c.status for c in b.clips] for a, b in zip(local, distributed)]
    dp = max((float(np.abs(ca.windows.probs - cb.windows.probs).max()) for a, b in zip(local, distributed)
              for ca, cb in zip(a.clips, b.clips) if ca.windows is not None and len(ca.windows)), default=0.0)
    print("\n| run | start s | analyze s | total s | media s / analyze s |\n|---|---|---|---|---|")
    for name, (start, work) in rows.items():
        print(f"| {name} | {start:.1f} | {work:.1f} | {start + work:.1f} | {media_s / work:.2f} |")
    (ls, la), (rs, ra) = rows.values()
    print(f"\nRay / local: analyze {ra / la:.2f}×, total {(rs + ra) / (ls + la):.2f}×; "
          f"same statuses: {all(same)}; max |Δp| {dp:.2e}; load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
