#!/usr/bin/env bash
# Train face-expression members on a lent GPU machine (the device tool); choose and judge them here.
#
# Why a script: the GPU machine sees only the repository (64 MiB in all, with what is carried), not
# ../shared, and has its own Python (torch, numpy, scikit-learn, Pillow; no emoguide install).
# FER2013's Training + PublicTest JPEGs pack into 48 MB with xz (their JFIF headers repeat): more than
# fits beside the repository, so `pack` writes two parts and the machine gets them in two calls made
# back to back (a machine stays warm ~30 s after a call, and /tmp with it). PrivateTest stays here.
#
#   scripts/gpu_face_training.sh pack        # here: .device_data/fer_part1.tar.xz, fer_part2.tar.xz (git-ignored)
#   # device tool, call 1: run(command="scripts/gpu_face_training.sh stage", carry=[".device_data/fer_part1.tar.xz"])
#   # device tool, call 2 at once: run(command="scripts/gpu_face_training.sh train",
#   #                                  carry=[".device_data/fer_part2.tar.xz"], timeout_s=600)
#   #   MEMBERS="0:48 1:48 0:32 1:32 2:32 3:32" (SEED:WIDTH) train in parallel, one process each,
#   #   EPOCHS=60 plus the usual warm restart; each finished member lands in $OUT as member-seedS-widthW.pt
#   scripts/gpu_face_training.sh choose DIR  # here: combine the candidate ensembles (CANDIDATES) of DIR's
#                                            # members, score each on PublicTest (int8 + mirror, as shipped);
#                                            # the best ships only if it beats the shipped ensemble there
#   scripts/gpu_face_training.sh judge PATH  # here: PrivateTest of the chosen candidate vs the shipped net, once
#   scripts/gpu_face_training.sh ship PATH   # here: install it, record its checksum, rewrite the card
#                                            # (NOTE="- Training run: …" adds a line to the card)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
STAGE=${STAGE:-/tmp/emoguide_stage}   # on the GPU machine: survives between calls while it stays warm
# candidate ensembles, fixed before training (';' between candidates, member names without .pt)
CANDIDATES=${CANDIDATES:-"member-seed0-width48 member-seed1-width48;member-seed0-width32 member-seed1-width32 member-seed2-width32;member-seed0-width32 member-seed1-width32 member-seed2-width32 member-seed3-width32"}

stage() {
  mkdir -p "$STAGE"
  for part in .device_data/fer_part*.tar.xz; do
    [ -f "$part" ] || continue
    tar -C "$STAGE" -xJf "$part"
    echo "staged $part"
  done
  for split in Training PublicTest; do
    echo "$split: $(find "$STAGE/fer2013/$split" -name '*.jpg' 2>/dev/null | wc -l) images staged"
  done
}

case "${1:-}" in
  pack)
    mkdir -p .device_data
    list=$(mktemp -d)
    (cd "$DATA" && find fer2013/Training -name '*.jpg' | sort) > "$list/training"
    awk 'NR % 2 == 1' "$list/training" > "$list/part1"
    (cd "$DATA" && find fer2013/PublicTest -name '*.jpg' | sort) >> "$list/part1"
    awk 'NR % 2 == 0' "$list/training" > "$list/part2"
    for n in 1 2; do
      tar -C "$DATA" -cf - -T "$list/part$n" | xz -6 -T0 > ".device_data/fer_part$n.tar.xz.partial"
      mv ".device_data/fer_part$n.tar.xz.partial" ".device_data/fer_part$n.tar.xz"
    done
    rm -r "$list"
    ls -l .device_data/fer_part*.tar.xz
    ;;
  stage)
    stage
    ;;
  train)
    stage
    [ "$(find "$STAGE/fer2013/Training" -name '*.jpg' | wc -l)" = 28709 ] && \
      [ "$(find "$STAGE/fer2013/PublicTest" -name '*.jpg' | wc -l)" = 3589 ] || {
      echo "FER2013 Training/PublicTest incomplete in $STAGE: was this machine given part 1 by a call just" \
           "before this one (it goes back ~30 s after a call)?" >&2; exit 3; }
    mkdir -p "$STAGE/fer2013/PrivateTest"  # not carried: evaluated where it lives
    out=${OUT:?set by the device tool}
    export PYTHONPATH=engine PYTHONUNBUFFERED=1
    py=${PYTHON:-python3}
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/train.log"
    # decode both splits once, into the cache every member process then reads
    "$py" -c "import sys; from pathlib import Path; from emoguide.training.face import load_split
for s in ('Training', 'PublicTest'): print(s, load_split(Path(sys.argv[1]), s, Path(sys.argv[2]))[0].shape)" \
      "$STAGE" "$STAGE/cache" | tee -a "$out/train.log"
    for spec in ${MEMBERS:-0:48 1:48 0:32 1:32 2:32 3:32}; do
      ( "$py" -m emoguide.training.face --data "$STAGE" --device "${DEVICE:-cuda}" --epochs "${EPOCHS:-60}" \
          --seeds "$spec" --members-out "$out" --no-eval --cache-dir "$STAGE/cache" \
          --members-dir "$STAGE/members" --out "$STAGE/combined-$spec" 2>&1 | sed -u "s/^/[$spec] /" ) \
        >> "$out/train.log" &
    done
    wait
    tail -n 20 "$out/train.log"
    ;;
  choose)
    members=${2:?the folder of member-*.pt files}
    .venv/bin/python - "$members" "$DATA" "$CANDIDATES" <<'PY'
import sys
from pathlib import Path
from emoguide.training.face import evaluate
from emoguide.training.face_ensemble import combine
members, data, candidates = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
shipped = evaluate(data, split="PublicTest").accuracy
print(f"shipped ensemble: PublicTest {shipped:.4f} (int8 + mirror)")
best = None
for k, names in enumerate(c.split() for c in candidates.split(";")):
    files = [members / f"{n}.pt" for n in names]
    if not all(f.is_file() for f in files):
        print(f"candidate {k}: {' '.join(names)}: missing {[f.name for f in files if not f.is_file()]}")
        continue
    out = combine(files, data, members / f"candidate{k}" / "face_expression.pt")
    acc = evaluate(data, weights=out, split="PublicTest").accuracy
    size = out.stat().st_size / 1e6
    print(f"candidate {k}: {' '.join(names)}: PublicTest {acc:.4f} (int8 + mirror), {size:.1f} MB -> {out}")
    best = max(best or (acc, out), (acc, out))
if best and best[0] > shipped:
    print(f"chosen: {best[1]} (PublicTest {best[0]:.4f} > shipped {shipped:.4f}); judge it once on PrivateTest")
else:
    print("no candidate beats the shipped ensemble on PublicTest: nothing to ship")
PY
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
from emoguide.recognition.base import WEIGHTS_DIR, load_weights, save_weights
from emoguide.training.face import WEIGHTS_NAME
from emoguide.training.face_card import write_card
save_weights(load_weights(sys.argv[1]), WEIGHTS_DIR / WEIGHTS_NAME, compress=True)
note = os.environ.get("NOTE", "")  # e.g. NOTE="- Training run: 6 min on an NVIDIA H200 (date)."
print("wrote", write_card(Path(sys.argv[2]), note))
PY
    ;;
  *)
    sed -n '2,22p' "$0"
    exit 2
    ;;
esac
