"""Facial expression classifier: a compact VGG-style CNN on 48×48 grey faces (FER2013).

Small on purpose: it runs at full frame rate (brief expressions need it; the
expression gate reads about half of those frames, see ``expression_gate.py``), so
it must classify hundreds of faces per second on a laptop CPU.
Input: float tensor (N, 1, 48, 48) in 0..1; output: logits over
:data:`emoguide.labels.LABELS`. Preprocessing lives here so training and
inference cannot drift apart.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

INPUT_SIZE = 48
#: how much the squared detector box grows (shrinks, below 0) per side before the crop: FER2013's faces
#: fill their images, and the nets read a face best at that framing. Chosen on FER2013 PublicTest through
#: the detector (``training/face_framing.py``): -0.05 reads 69.3 % of detected faces, 0.00 68.2 %, and
#: the +0.15 used before 60.7 %. Part of the face recogniser's version: it changes every reading.
BOX_EXPAND = -0.05
_GREY = np.array([0.299, 0.587, 0.114], np.float32)


def framing_tag() -> str:
    """The face version's suffix for :data:`BOX_EXPAND` ("" for the +0.15 that versions before 2026-12-06 used)."""
    return "" if BOX_EXPAND == 0.15 else f"+box{BOX_EXPAND:+.2f}"


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class ExpressionNet(nn.Module):
    def __init__(self, num_classes: int = 7, width: int = 32, dropout: float = 0.4):
        super().__init__()
        self.features = nn.Sequential(_block(1, width), _block(width, 2 * width), _block(2 * width, 4 * width),
                                      _block(4 * width, 8 * width))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(8 * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - 0.5) / 0.25))


def crop_faces(frames: np.ndarray, frame_index: np.ndarray, boxes: np.ndarray,
               expand: float | None = None) -> np.ndarray:
    """Grey 48×48 crops (N, 48, 48) float32 0..1 for ``boxes`` (N, 4) in pixel x1,y1,x2,y2 of ``frames[frame_index]``.

    The box is squared around its centre and grown by ``expand`` per side (default :data:`BOX_EXPAND`,
    a little shrunk as shipped) to match FER2013's framing; areas outside the frame are edge-padded.
    """
    from PIL import Image

    expand = BOX_EXPAND if expand is None else expand
    out = np.zeros((len(boxes), INPUT_SIZE, INPUT_SIZE), np.float32)
    for i, (fi, box) in enumerate(zip(frame_index, boxes)):
        img = frames[int(fi)]
        x1, y1, x2, y2 = box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        side = max(x2 - x1, y2 - y1) * (1 + 2 * expand)
        left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
        size = max(2, int(round(side)))
        crop = _grey_crop(img, top, left, size)
        resized = Image.fromarray(crop.astype(np.uint8)).resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
        out[i] = np.asarray(resized, np.float32) / 255.0
    return out


def _grey_crop(img: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """Grey float32 ``size``×``size`` crop of RGB ``img`` at (top, left), edge-padded where it leaves the frame.

    Edge padding is clamping the indices. Cropping before the grey conversion converts only the face's
    pixels, not the whole frame once per face. Where the crop leaves the frame (a close-up's box,
    squared and expanded, often does) the part inside is padded by repeating its edge pixels: the
    same bytes as clamped 2-D fancy indexing, ~10× faster (that cost ~2-4 ms per 270 px face, most of
    the crops' time on close-ups). The grey conversion then runs on an array of the same shape and
    bytes as before, so the numbers are identical (converting first and padding the grey plane
    differed in the last bit where the inside part was a sliver: numpy sums such shapes differently).
    """
    h, w = img.shape[:2]
    y0, y1, x0, x1 = max(top, 0), min(top + size, h), max(left, 0), min(left + size, w)
    if y0 >= y1 or x0 >= x1:  # wholly outside (a box tracked off screen): every pixel is a clamped edge one
        rows = np.clip(np.arange(top, top + size), 0, h - 1)
        cols = np.clip(np.arange(left, left + size), 0, w - 1)
        crop = img[rows[:, None], cols[None, :]]
    else:
        crop = img[y0:y1, x0:x1]  # a view, no index arrays
        pad = ((y0 - top, top + size - y1), (x0 - left, left + size - x1), (0, 0))
        if any(a or b for a, b in pad):
            crop = np.pad(crop, pad, mode="edge")
    return crop.astype(np.float32) @ _GREY


#: Each face is classified once, not also mirrored and averaged (flip test-time augmentation). With
#: the six-net ensemble the mirror pass adds nothing measurable and doubles the cost of the model that
#: runs on every frame: FER2013 PublicTest, int8, 0.7069 with it and 0.7072 without (macro-F1 0.700 /
#: 0.698), decided there on 2026-12-04; PrivateTest, read after: 0.723 / 0.724. (With one to three
#: nets the mirror had been worth ~1 point; averaging six nets already does what it did.)
MIRROR_TTA = False


class ExpressionClassifier(nn.Module):
    """What the face recogniser runs: one net or an ensemble of them; float anywhere, int8 on the CPU.

    Returns log-probabilities, the mean of the members' log-softmax, so ``softmax`` of the output
    is the members' normalised geometric mean (with one member: exactly its own softmax).
    Members trained from different seeds make different mistakes; averaging them is the
    cheapest accuracy there is once each member runs in int8 (see ``int8.py``).

    The int8 copies are a plain list, not registered submodules: ``.to("cuda")`` moves the
    float members and leaves the quantised ones on the CPU, where their kernels are, and
    each call picks the copies that live where its input does.
    """

    def __init__(self, members: list[nn.Module], int8_members: list[nn.Module] | None = None):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.int8_members = list(int8_members or [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nets = self.int8_members if self.int8_members and x.device.type == "cpu" else self.members
        if len(nets) == 1:
            return nets[0](x).log_softmax(1)
        return torch.stack([net(x).log_softmax(1) for net in nets]).mean(0)


def checkpoint_members(checkpoint: dict) -> list[dict]:
    """The member entries of a weight file: ``checkpoint["members"]``, or the file itself when it holds one net."""
    return checkpoint["members"] if "members" in checkpoint else [checkpoint]


def member_net(member: dict) -> ExpressionNet:
    """The float net one member entry describes, in eval mode (batch norm not folded: int8 fuses it itself)."""
    net = ExpressionNet(width=member["width"])
    net.load_state_dict(member["state_dict"])
    return net.eval()


def load_expression_net(device: str = "cpu", weights=None, int8: bool = True) -> ExpressionClassifier:
    """The shipped classifier, checksum-verified (see weights/face_expression.md), ready for inference.

    ``weights``: another checkpoint instead (a candidate fresh from training, not yet shipped,
    hence no checksum to verify), prepared exactly as the shipped one is.
    ``int8``: on the CPU, run the calibrated int8 copies when the file carries them and this torch
    has the kernels (``int8.available``); otherwise, and always on a GPU, the float nets.
    """
    from emoguide.recognition.base import load_weights, verified_weights
    from emoguide.recognition.face import int8 as quantised

    path = weights if weights is not None else verified_weights("face_expression.pt")
    quantised.silence_deprecation_notes()  # torch.load of int8 tensors notes a deprecated storage class
    return build_classifier(load_weights(path), device, int8)


def build_classifier(checkpoint: dict, device: str = "cpu", int8: bool = True) -> ExpressionClassifier:
    """The classifier a weight file's contents describe (see :func:`load_expression_net`)."""
    from emoguide.recognition.face import int8 as quantised

    members = checkpoint_members(checkpoint)
    nets = [member_net(member) for member in members]
    use_int8 = (int8 and str(device) == "cpu" and all("int8" in m for m in members)
                and quantised.available())  # a model moved to the CPU later runs its float nets
    int8_nets = []
    if use_int8:
        try:
            int8_nets = [quantised.from_state(net, m["int8"]) for net, m in zip(nets, members)]
        except (RuntimeError, KeyError, ValueError) as exc:  # a torch whose int8 kernels differ: float still works
            log.warning("face expression: int8 copies did not load (%s); running the float nets", exc)
    # channels-last weights: oneDNN's direct convolutions for this layout ran the net 1.8x faster on the
    # CPU (256 faces with the mirror pass: 7.0 -> 3.9 ms per face on one thread), same probabilities (1e-7)
    classifier = ExpressionClassifier([fold_batchnorm(net) for net in nets], int8_nets)
    return classifier.eval().to(device, memory_format=torch.channels_last)


def fold_batchnorm(model: ExpressionNet) -> ExpressionNet:
    """Fold each eval-mode BatchNorm into the convolution before it (inference only).

    The same function up to float rounding (≤ 2e-7 on the probabilities), but one pass
    over each activation instead of two: the net runs on every frame, and this halves its
    CPU time (256 faces with flip TTA: 2.4–2.8 s → 1.2 s CPU on the 2-core dev machine).
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for block in model.features:
        for i in range(len(block) - 1):
            if isinstance(block[i], nn.Conv2d) and isinstance(block[i + 1], nn.BatchNorm2d):
                block[i] = fuse_conv_bn_eval(block[i], block[i + 1])
                block[i + 1] = nn.Identity()
    return model
