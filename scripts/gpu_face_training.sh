#!/usr/bin/env bash
# Train a face-expression candidate on a lent GPU machine (the device tool), judge it here.
#
# Why a script: the GPU machine sees only the repository (64 MiB with what is carried), not
# ../shared, and has its own Python (torch, numpy, scikit-learn, Pillow; no emoguide install).
# FER2013's Training + PublicTest JPEGs pack into 47 MB with xz (their JFIF headers repeat);
# PrivateTest stays here, where the candidate is evaluated once before it may replace the
# shipped weights.
#
#   scripts/gpu_face_training.sh pack            # here: writes .device_data/fer2013.tar.xz (git-ignored)
#   # device tool: run(command="scripts/gpu_face_training.sh train", carry=[".device_data"], timeout_s=600)
#   #   EPOCHS=60 WIDTH=48 SEEDS="0 1" by default: one member per seed, combined (with int8 copies
#   #   calibrated on Training faces) into $OUT/face_expression.pt, the candidate that comes back
#   scripts/gpu_face_training.sh judge PATH      # here: PrivateTest of the candidate vs the shipped net
#   scripts/gpu_face_training.sh ship PATH       # here: install it, record its checksum, rewrite the card
#                                                (NOTE="- Training run: …" adds a line to the card)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
PACK=.device_data/fer2013.tar.xz

case "${1:-}" in
  pack)
    mkdir -p .device_data
    tar -C "$DATA" -cf - fer2013/Training fer2013/PublicTest | xz -6 -T0 > "$PACK.partial"
    mv "$PACK.partial" "$PACK"
    ls -l "$PACK"
    ;;
  train)
    work=$(mktemp -d)
    tar -C "$work" -xJf "$PACK"
    mkdir -p "$work/fer2013/PrivateTest"  # not carried: evaluated where it lives
    PYTHONPATH=engine PYTHONUNBUFFERED=1 "${PYTHON:-python3}" -m emoguide.training.face --data "$work" \
      --device "${DEVICE:-cuda}" \
      --epochs "${EPOCHS:-60}" --width "${WIDTH:-48}" --seeds ${SEEDS:-0 1} --out "${OUT:?set by the device tool}" \
      --no-eval --cache-dir "$work/cache" --members-dir "$work/members"
    ;;
  judge)
    .venv/bin/python - "$2" "$DATA" <<'PY'
import sys
from pathlib import Path
from emoguide.training.face import evaluate
candidate, data = Path(sys.argv[1]), Path(sys.argv[2])
for name, report in (("candidate " + str(candidate), evaluate(data, weights=candidate)), ("shipped", evaluate(data))):
    print(f"--- {name}\n{report.format()}\n")
PY
    ;;
  ship)
    .venv/bin/python - "$2" "$DATA" <<'PY'
import os, sys
from pathlib import Path
import torch
from emoguide.recognition.base import WEIGHTS_DIR, save_weights
from emoguide.training.face import WEIGHTS_NAME
from emoguide.training.face_card import write_card
save_weights(torch.load(sys.argv[1], map_location="cpu", weights_only=False), WEIGHTS_DIR / WEIGHTS_NAME)
note = os.environ.get("NOTE", "")  # e.g. NOTE="- Training run: 6 min on an NVIDIA H200 (date)."
print("wrote", write_card(Path(sys.argv[2]), note))
PY
    ;;
  *)
    sed -n '2,16p' "$0"
    exit 2
    ;;
esac
