"""How much of the detector's box the expression net should see (``python -m emoguide.training.face_framing``).

Why: the expression nets learned FER2013's framing (a 48 px face that fills its image), but in a
video they read a crop cut around the face detector's box. If that crop is looser than FER's
framing the face is smaller than the nets expect, and they read it worse. This measures it on
FER2013 **PublicTest** (the split the face model's choices are made on; PrivateTest is not read):
each face, upscaled to 96 px, is continued past its borders by mirroring (a natural surround, not
a flat wall whose edge a loose crop would see), the detector finds it, and the nets read the crop
at each expansion of the squared box (:data:`emoguide.recognition.face.expression.BOX_EXPAND`).

The rule, fixed before the run of 2026-12-06: ship the expansion with the best accuracy on the
detected faces, from -0.15 to +0.15 in steps of 0.05. That run gave -0.15 0.617, -0.10 0.669,
**-0.05 0.693**, 0.00 0.682, +0.05 0.668, +0.10 0.641, +0.15 (shipped until then) 0.607; on the
flat-walled canvas the fusion's face pool uses, +0.15 gave 0.599 and -0.05 0.695.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emoguide.training.fusion import DEFAULT_DATA

EXPANSIONS = (-0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15)
FACE_PX, SURROUND_PX = 96, 24


def mirrored_frames(images: np.ndarray) -> np.ndarray:
    """(N, 144, 144, 3) frames: each grey face upscaled to 96 px and continued outwards by mirroring."""
    from PIL import Image

    frames = [np.pad(np.asarray(Image.fromarray(im).resize((FACE_PX, FACE_PX), Image.BILINEAR)), SURROUND_PX,
                     mode="reflect") for im in images]
    return np.repeat(np.stack(frames)[..., None], 3, axis=-1)


def central_boxes(detector, frames: np.ndarray, batch: int = 64) -> np.ndarray:
    """(N, 4) the detected box nearest each frame's centre (mirrored copies of a face can be found too); NaN if none."""
    centre = frames.shape[1] / 2
    boxes = np.full((len(frames), 4), np.nan, np.float32)
    for start in range(0, len(frames), batch):
        for k, (found, _) in enumerate(detector.detect(frames[start:start + batch])):
            if len(found):
                off = np.hypot((found[:, 0] + found[:, 2]) / 2 - centre, (found[:, 1] + found[:, 3]) / 2 - centre)
                boxes[start + k] = found[int(np.argmin(off))]
    return boxes


def accuracy_by_expansion(face, images: np.ndarray, labels: np.ndarray, expansions=EXPANSIONS) -> dict:
    """{expansion: accuracy on the detected faces}, and the share detected under key None."""
    from emoguide.recognition.face import expression

    frames = mirrored_frames(images)
    boxes = central_boxes(face.detector, frames)
    idx = np.flatnonzero(~np.isnan(boxes[:, 0]))
    results: dict = {None: len(idx) / len(images)}
    for ex in expansions:
        probs = face.classify_crops(expression.crop_faces(frames, idx, boxes[idx], expand=ex))
        results[ex] = float(np.mean(probs.argmax(1) == labels[idx]))
    return results


def main(argv: list[str] | None = None) -> None:
    from emoguide.pipeline.engine import Engine
    from emoguide.training.fusion_sources import fer_items, load_grey

    parser = argparse.ArgumentParser(prog="emoguide.training.face_framing", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    items = fer_items(args.data, "PublicTest")
    images, labels = load_grey([p for p, _ in items]), np.array([y for _, y in items])
    face = Engine.load(modalities=("face",)).recognisers["face"]
    results = accuracy_by_expansion(face, images, labels)
    print(f"FER2013 PublicTest, {len(images)} faces, {results.pop(None):.1%} detected; accuracy on those:")
    for ex, acc in results.items():
        print(f"  BOX_EXPAND {ex:+.2f}: {acc:.4f}")
    print(f"rule (best): {max(results, key=results.get):+.2f}")


if __name__ == "__main__":
    main()
