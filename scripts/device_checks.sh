#!/usr/bin/env bash
# The GPU checks, in one call on a lent GPU machine (the device tool), which gets the repository only:
#   1. tests/test_cuda_path.py: the CUDA path gives the CPU path's answers (skipped where no GPU is);
#      tests/test_face_cascade_ops.py: the batched box arithmetic the GPU path relies on;
#   2. benchmarks/bench_inference.py --device cuda: with PyAV carried (scripts/device_wheels.sh), on
#      frames and speech it decodes there; else on those pre-decoded here (--inputs);
#   3. with PyAV carried: benchmarks/bench_analyze.py 1080p 4k on the GPU, then on that machine's CPU
#      (the picture side: no Whisper or MiniLM there), the issue's ratio 1 on a GPU;
#   4. with fer_part1 carried: stages it for the face training call that follows (gpu_face_training.sh).
#
#   scripts/device_wheels.sh                                                                     # here, once
#   # device tool: run(command="scripts/device_checks.sh", carry=[".device_data/av_site.tar.xz", ".whl"],
#   #                  timeout_s=540)
#   # without PyAV (older way): .venv/bin/python benchmarks/bench_inference.py --save-inputs
#   #   .device_data/bench_inputs.npz here, and carry that instead of av_site.tar.xz
# Logs land in $OUT (cuda_tests.log, bench_inference_cuda.log, bench_analyze_{cuda,cpu}.log).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/emoguide-device-checks}
mkdir -p "$out"
py=${PYTHON:-python3}
# carried wheels: facenet-pytorch only for its MTCNN weight files (found, never imported: it would want
# torchvision); OpenTimelineIO and PyAV (scripts/device_wheels.sh) where carried
"$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
if [ -f .device_data/av_site.tar.xz ]; then tar -xJf .device_data/av_site.tar.xz -C /tmp/site; fi
export PYTHONPATH=/tmp/site:engine PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
if ls .device_data/fer_part*.tar.xz >/dev/null 2>&1; then scripts/gpu_face_training.sh stage; fi
"$py" -m pytest -q -p no:cacheprovider tests/test_cuda_path.py tests/test_face_cascade_ops.py 2>&1 | tee "$out/cuda_tests.log"
if "$py" -c "import av, opentimelineio" 2>/dev/null; then
  "$py" benchmarks/bench_inference.py --device cuda 2>&1 | tee "$out/bench_inference_cuda.log"
  for device in cuda cpu; do
    timeout 200 "$py" benchmarks/bench_analyze.py 1080p 4k --device "$device" 2>&1 | tee "$out/bench_analyze_$device.log"
  done
else
  "$py" benchmarks/bench_inference.py --device cuda --inputs .device_data/bench_inputs.npz 2>&1 \
    | tee "$out/bench_inference_cuda.log"
fi
