"""Combine trained expression nets into one weight file: the members and their calibrated int8 copies.

    python -m emoguide.training.face_ensemble --members /tmp/a/face_expression.pt /tmp/b/face_expression.pt \\
        --data ../shared/data --out /tmp/candidate/face_expression.pt

``python -m emoguide.training.face`` calls :func:`combine` after training its seeds, so this
is needed on its own only to re-combine members that already exist. Each member is
calibrated for int8 here (see ``recognition/face/int8.py``) because calibration needs real
faces, and only the training machine has them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emoguide.labels import LABELS
from emoguide.recognition.base import WEIGHTS_DIR, load_weights, save_weights
from emoguide.recognition.face import int8
from emoguide.recognition.face.expression import checkpoint_members, member_net
from emoguide.training.face import FER_CACHE, WEIGHTS_NAME, load_split

#: FER2013 Training faces (and their mirrors) the int8 activation ranges are calibrated on
CALIBRATION_FACES = 2048


def calibration_faces(data_dir: Path, cache_dir: Path = FER_CACHE, n: int = CALIBRATION_FACES) -> np.ndarray:
    """A fixed random draw (seed 0) of Training faces: never the faces that judge the model."""
    x, _ = load_split(data_dir, "Training", cache_dir)
    pick = np.random.default_rng(0).choice(len(x), min(n, len(x)), replace=False)
    return x[np.sort(pick)]


def half_floats(state: dict) -> dict:
    """The float nets stored in float16: half the file, loaded back into float32 parameters.

    Only a GPU runs these copies (the CPU runs the int8 ones), and float16 keeps 11 bits of
    each weight: the shipped ensemble's float PrivateTest accuracy is measured from these
    (face_expression.md). Integer buffers (batch norm's counter) stay as they are.
    """
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def combine(member_files: list[Path], data_dir: Path, out: Path, cache_dir: Path = FER_CACHE) -> Path:
    """Write ``out`` holding every member of ``member_files`` (each a one-net or a combined file), calibrated.

    Through ``save_weights``: atomic, and the checksum is recorded when ``out`` is the shipped file.
    """
    int8.silence_deprecation_notes()  # member files may hold int8 tensors already
    faces = calibration_faces(data_dir, cache_dir)
    members = []
    for path in member_files:
        for member in checkpoint_members(load_weights(path)):
            entry = {k: v for k, v in member.items() if k not in ("int8", "labels")}
            entry["source"] = str(path)
            if int8.available():
                entry["int8"] = int8.calibrate(member_net(member), faces)  # from the float32 weights
            entry["state_dict"] = half_floats(member["state_dict"])
            members.append(entry)
    blob = {"members": members, "labels": list(LABELS), "int8_engine": int8.ENGINE,
            "calibration": f"{len(faces)} FER2013 Training faces and their mirrors (fixed draw, seed 0)"}
    return save_weights(blob, Path(out), compress=True)  # six members in float16 + int8: 21.5 MB raw


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=Path, nargs="+", required=True, help="weight files to combine")
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="FER2013 (for calibration)")
    p.add_argument("--out", type=Path, required=True,
                   help=f"the combined file (the shipped one is {WEIGHTS_DIR / WEIGHTS_NAME})")
    p.add_argument("--cache-dir", type=Path, default=FER_CACHE)
    args = p.parse_args(argv)
    print(f"wrote {combine(args.members, args.data, args.out, args.cache_dir)}")


if __name__ == "__main__":
    main()
