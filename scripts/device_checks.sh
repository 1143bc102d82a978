#!/usr/bin/env bash
# The GPU checks, in one call on a lent GPU machine (the device tool), which gets the repository only:
#   1. tests/test_cuda_path.py: the CUDA path gives the CPU path's answers (skipped where no GPU is);
#      tests/test_face_cascade_ops.py: the batched box arithmetic the GPU path relies on;
#   2. benchmarks/bench_inference.py --device cuda on frames and speech pre-decoded here (no PyAV there);
#   3. with fer_part1 carried: stages it for the face training call that follows (gpu_face_training.sh).
#
#   .venv/bin/python benchmarks/bench_inference.py --save-inputs .device_data/bench_inputs.npz   # here, once
#   pip download --no-deps --only-binary=:all: facenet-pytorch==2.6.0 -d .whl                    # here, once
#   # device tool: run(command="scripts/device_checks.sh",
#   #                  carry=[".device_data/bench_inputs.npz", ".whl", ".device_data/fer_part1.tar.xz"])
# Logs land in $OUT (cuda_tests.log, bench_inference_cuda.log).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/emoguide-device-checks}
mkdir -p "$out"
py=${PYTHON:-python3}
# facenet-pytorch only for its MTCNN weight files: found, never imported (it would want torchvision)
"$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/facenet_pytorch-*.whl
export PYTHONPATH=/tmp/site:engine PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
if ls .device_data/fer_part*.tar.xz >/dev/null 2>&1; then scripts/gpu_face_training.sh stage; fi
"$py" -m pytest -q -p no:cacheprovider tests/test_cuda_path.py tests/test_face_cascade_ops.py 2>&1 | tee "$out/cuda_tests.log"
"$py" benchmarks/bench_inference.py --device cuda --inputs .device_data/bench_inputs.npz 2>&1 \
  | tee "$out/bench_inference_cuda.log"
