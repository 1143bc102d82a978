"""Runs inside the separate fer venv (see fer_env.sh): fer's per-frame analysis of frames saved by
bench_face_vs_fer.py, printed as one JSON line. Not importable from emoguide's environment on purpose.

This is the core of fer's ``Video.analyze`` loop (``detector.detect_emotions(frame)`` on every frame)
without its CSV/video writing, so the fer number here is, if anything, flattering to fer.
"""

import argparse
import json
import os
import time

import numpy as np


NMS_S = [0.0]  # seconds spent in the substitute NMS, reported so fer's MTCNN number can be read without it


def substitute_nms_if_missing() -> bool:
    """PyPI's torchvision is built against CUDA torch; beside the CPU torch wheel its C++ ops do not load
    ("operator torchvision::nms does not exist"), which breaks facenet-pytorch's MTCNN (fer's mtcnn=True).
    Then replace ``torchvision.ops.boxes.nms`` (which batched_nms calls) with a greedy NumPy NMS, timed."""
    import sys

    import torch

    try:
        import torchvision.ops.boxes as tvb

        tvb.nms(torch.zeros((1, 4)), torch.ones(1), 0.5)
        return False
    except (RuntimeError, AttributeError, ImportError):
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
    # torchvision's import registers fake kernels for its C++ ops and fails when nms is not defined:
    # define the op's schema (the kernel below is what runs) before importing it again
    lib = torch.library.Library("torchvision", "FRAGMENT")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    substitute_nms_if_missing.lib = lib  # keep the registration alive

    def nms(boxes, scores, iou_threshold):
        t0 = time.perf_counter()
        b = boxes.detach().cpu().numpy().astype(np.float64)
        order = np.argsort(-scores.detach().cpu().numpy(), kind="stable")
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        keep = []
        while order.size:
            i, rest = order[0], order[1:]
            keep.append(i)
            w = np.clip(np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]), 0, None)
            h = np.clip(np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]), 0, None)
            inter = w * h
            order = rest[inter / (area[i] + area[rest] - inter + 1e-12) <= iou_threshold]
        NMS_S[0] += time.perf_counter() - t0
        return torch.as_tensor(np.asarray(keep, dtype=np.int64), device=boxes.device)

    lib.impl("nms", nms, "CPU")
    import torchvision.ops.boxes as tvb

    tvb.nms = nms
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("frames", help=".npy of RGB uint8 frames (T, H, W, 3)")
    p.add_argument("--mtcnn", action="store_true", help="fer's MTCNN detector (facenet-pytorch) instead of Haar")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    import fer

    try:
        from fer import FER
    except ImportError:  # fer 25.x no longer re-exports it
        from fer.fer import FER

    substituted = substitute_nms_if_missing() if args.mtcnn else False
    frames = np.load(args.frames)
    bgr = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]  # fer takes OpenCV-style BGR
    t0 = time.perf_counter()
    cascade = None
    if not args.mtcnn and not os.path.exists(cv2.data.haarcascades + "haarcascade_frontalface_default.xml"):
        cascade = os.path.join(os.path.dirname(fer.__file__), "data", "haarcascade_frontalface_default.xml")
    detector = FER(mtcnn=args.mtcnn, cascade_file=cascade)
    load_s = time.perf_counter() - t0
    detector.detect_emotions(bgr[0])  # warm-up, not timed
    NMS_S[0] = 0.0
    t0 = time.perf_counter()
    found = [len(detector.detect_emotions(f)) for f in bgr]
    seconds = time.perf_counter() - t0
    try:
        import torch
        torch_threads = torch.get_num_threads()
    except ImportError:
        torch_threads = None
    print(json.dumps({"fer": fer.__version__, "detector": "mtcnn" if args.mtcnn else "haar", "load_s": load_s,
                      "frames": len(bgr), "seconds": seconds, "frames_with_face": sum(n > 0 for n in found),
                      "faces": int(sum(found)), "torch_threads": torch_threads,
                      "nms_substitute_s": NMS_S[0] if substituted else None}))


if __name__ == "__main__":
    main()
