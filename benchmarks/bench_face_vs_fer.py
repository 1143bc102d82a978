"""Face pipeline throughput vs the `fer` package's per-frame analysis, on the same frames.

The frames are decoded once by emoguide's media layer exactly as an analysis
sees them (the generated 1080p face footage, scaled to the analysis's 640 px,
every frame of a 10 s range) and saved to a .npy file; both sides then analyse
that same array, so decoding is not part of either number.

  emoguide   FaceRecogniser.analyze_frames in 8 s chunks as the pipeline calls it:
             detector every k-th frame (k = frame rate / 4 fps, the default),
             tracker in between, expression net gated (anchors every 1/8 s and
             the frames where the face changes: recognition/face/expression_gate.py);
             the same with the expression net on every frame (--every-frame); and,
             like for like with fer, the detector and expression net on every frame
  fer        detector.detect_emotions(frame) for every frame (the core of fer's
             Video.analyze), with fer's Haar cascade (its default) and with
             MTCNN (what fer's README uses for video), in its own venv

Prints frames/s for each, the frames where a face was found (same frames, so
the counts should agree) and the speed ratios; the goal is ≥ 20× fer.

fer needs TensorFlow, so it lives in a separate venv made by
benchmarks/fer_env.sh (run automatically on first use unless --no-install);
when fer cannot be installed the script prints why and measures emoguide only.

    python benchmarks/bench_face_vs_fer.py
    python benchmarks/bench_face_vs_fer.py --seconds 20 --device cuda
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _media  # noqa: E402

HERE = Path(__file__).resolve().parent


def decode_frames(work: Path, seconds: float, max_side: int) -> tuple[np.ndarray, np.ndarray, float]:
    from emoguide.media.probe import probe
    from emoguide.media.video import read_video_range

    media = _media.face_media(work, (1920, 1080), "libx264", 40.0)
    frames, times, _ = read_video_range(media, 2.0, 2.0 + seconds, max_side=max_side)
    return frames, times, float(probe(media).video_rate)


def run_emoguide(frames, times, rate, device, detect_every: int, every_frame: bool = False) -> dict:
    from emoguide.pipeline.clip import CHUNK_S
    from emoguide.recognition.face.recogniser import FaceRecogniser

    face = FaceRecogniser.load(device=device)
    face.analyze_frames(frames[:16], times[:16], detect_every=detect_every)  # warm-up
    chunk = max(1, int(round(CHUNK_S * rate)))
    present = 0
    with _common.Timer() as t:
        for i in range(0, len(frames), chunk):
            present += int(face.analyze_frames(frames[i:i + chunk], times[i:i + chunk],
                                               detect_every=detect_every,
                                               every_frame=every_frame).present.sum())
    return {"frames": len(frames), "seconds": t.s, "frames_with_face": present}


def ensure_fer_env(work: Path, install: bool) -> tuple[Path | None, str]:
    """(python of the fer venv, '') or (None, why not)."""
    python = work / "fer-venv" / "bin" / "python"
    check = [str(python), "-c", "import tensorflow; from fer.fer import FER"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    if not install:
        return None, f"no working fer venv at {python.parent.parent} (run: bash benchmarks/fer_env.sh {work})"
    print(f"creating the fer venv ({work / 'fer-venv'}; TensorFlow is large, this takes minutes) …", flush=True)
    out = subprocess.run(["bash", str(HERE / "fer_env.sh"), str(work)], capture_output=True, text=True)
    if out.returncode != 0 or subprocess.run(check, capture_output=True).returncode != 0:
        tail = "\n".join(line for line in (out.stdout + out.stderr).splitlines() if "WARNING: Location" not in line)
        return None, f"fer_env.sh failed (exit {out.returncode}):\n{tail[-2000:]}"
    return python, ""


def run_fer(python: Path, frames_path: Path, mtcnn: bool) -> dict:
    cmd = [str(python), str(HERE / "_fer_worker.py"), str(frames_path)] + (["--mtcnn"] if mtcnn else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_common_args(p)
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of footage (every frame) to analyse (default 10)")
    p.add_argument("--no-install", action="store_true", help="do not create the fer venv when it is missing")
    p.add_argument("--skip-fer-mtcnn", action="store_true", help="only fer's default Haar detector (MTCNN is slow)")
    args = p.parse_args()
    _common.start_like_the_command()
    _common.print_machine("bench_face_vs_fer: emoguide face pipeline vs fer, same frames", args.device)
    from emoguide.pipeline.windows import AnalysisSettings

    settings = AnalysisSettings()
    frames, times, rate = decode_frames(args.work, args.seconds, settings.max_side)
    frames_path = args.work / f"fer_frames_{len(frames)}x{frames.shape[2]}x{frames.shape[1]}.npy"
    np.save(frames_path, frames)
    k = max(1, int(round(rate / settings.sample_fps)))
    print(f"frames          {len(frames)} frames ({args.seconds:g} s at {rate:.3f} fps) of real face footage, "
          f"{frames.shape[2]}×{frames.shape[1]} RGB, identical for both\n", flush=True)

    rows = [("emoguide, detect every %d (default)" % k, run_emoguide(frames, times, rate, args.device, k)),
            ("emoguide, detect every %d, --every-frame" % k, run_emoguide(frames, times, rate, args.device, k, True)),
            ("emoguide, detect + read every frame", run_emoguide(frames, times, rate, args.device, 1, True))]
    python, why = ensure_fer_env(args.work, not args.no_install)
    if python is None:
        print(f"fer             NOT MEASURED: {why}\n")
    else:
        for mtcnn in ([False] if args.skip_fer_mtcnn else [False, True]):
            r = run_fer(python, frames_path, mtcnn)
            label = f"fer {r.get('fer', '')} {'MTCNN' if mtcnn else 'Haar (default)'}"
            rows.append((label, r))

    print(f"{'':38} {'frames/s':>9} {'s':>8} {'frames with a face':>19}")
    for label, r in rows:
        if "error" in r:
            print(f"{label:38} failed: {r['error']}")
            continue
        print(f"{label:38} {r['frames'] / r['seconds']:9.1f} {r['seconds']:8.2f} {r['frames_with_face']:>12} / {r['frames']}")
        if r.get("nms_substitute_s") is not None:
            rest = r["seconds"] - r["nms_substitute_s"]
            print(f"{'':4}(torchvision's NMS op did not load beside the CPU torch wheel; a NumPy NMS stood in and took "
                  f"{r['nms_substitute_s']:.2f} s: without it fer MTCNN runs at {r['frames'] / rest:.1f} frames/s)")
    ok = {label: r for label, r in rows if "error" not in r}
    fer_rows = [(label, r) for label, r in ok.items() if label.startswith("fer")]
    if fer_rows:
        print("\nratios (frames/s of emoguide ÷ frames/s of fer; goal ≥ 20×)")
        for e_label, e in [(lbl, r) for lbl, r in ok.items() if lbl.startswith("emoguide")]:
            for f_label, f in fer_rows:
                ratio = (e["frames"] / e["seconds"]) / (f["frames"] / f["seconds"])
                print(f"   {e_label:36} vs {f_label:28} {ratio:7.1f}×  {'met' if ratio >= 20 else 'MISSED'}")
    print(f"\nload average    {_common.load_average()} (at end)")


if __name__ == "__main__":
    main()
