"""Face detection: a three-stage cascade (P-, R-, O-Net; Zhang et al. 2016, "Joint Face
Detection and Alignment using Multitask Cascaded Convolutional Networks").

Written here in plain torch; only the trained weights come from the
``facenet-pytorch`` wheel (its ``data/{pnet,rnet,onet}.pt``, MIT licence), which
we install without its dependencies: its own code needs torchvision, which
would replace our pinned torch. Frames of a chunk are detected as one batch
per pyramid scale; the pyramid's levels and the later stages' crops are read
from one integer summed-area table of the uint8 frames (``cascade_ops``), with
no float copy of the frames.

Output per frame: ``(boxes (K, 4) x1,y1,x2,y2 in pixels, scores (K,))``.

The nets' weights are kept channels-last: oneDNN's convolutions ran faster so
(37.9 -> 31.5 ms per 640x360 frame on one thread when measured, identical boxes);
planar or channels-last input to P-Net now makes no difference (3.5 ms a frame
either way, twenty-sixth pass).
"""

from __future__ import annotations

import importlib.util
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emoguide.recognition.base import WeightsError
from emoguide.recognition.batch_shapes import pad_rows
from emoguide.recognition.face.cascade_ops import (PIXEL_MEAN, PIXEL_SCALE, area_resized, batched_nms, crops,
                                                   crops_by_box, regress, square, summed_area, summed_area_host)


def _weights_dir() -> Path:
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or spec.origin is None:
        raise WeightsError("face detector weights not installed: pip install --no-deps facenet-pytorch==2.6.0")
    return Path(spec.origin).parent / "data"


class _PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.conv4_1(x).softmax(1)


class _RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x):
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).flatten(1)  # the original weights are W-major
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), self.dense5_1(x).softmax(1)


class _ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x):
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).flatten(1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_1(x).softmax(1)


class FaceDetector:
    """Batched three-stage face detector. ``min_face`` is in pixels of the frames passed in."""

    def __init__(self, device: str = "cpu", min_face: int = 32, thresholds=(0.6, 0.7, 0.8), factor: float = 0.709):
        folder = _weights_dir()
        self.nets = {}
        for name, cls in (("pnet", _PNet), ("rnet", _RNet), ("onet", _ONet)):
            net = cls()
            try:
                net.load_state_dict(torch.load(folder / f"{name}.pt", map_location="cpu", weights_only=True))
            except (OSError, RuntimeError) as exc:
                raise WeightsError(f"cannot load face detector weights {folder / name}.pt: {exc}") from exc
            self.nets[name] = net.eval().to(device, memory_format=torch.channels_last)
        self.device, self.min_face, self.thresholds, self.factor = device, min_face, thresholds, factor
        #: P-Net's pyramid and the later stages' crops read from one summed-area table of the frames (True,
        #: every device's default: less CPU, no float copy of the frames) or resized from a float copy
        #: (False: the reference the tests hold the table against; the same boxes to float rounding)
        self.from_table = True

    def to(self, device: str) -> "FaceDetector":
        for net in self.nets.values():
            net.to(device, memory_format=torch.channels_last)
        self.device = device
        return self

    @torch.inference_mode()
    def detect(self, frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Faces in each RGB uint8 frame of ``frames`` (T, H, W, 3)."""
        t, h, w = frames.shape[:3]
        if self.from_table:
            table = self._summed_area(frames)
            resized_to, cut = partial(area_resized, table), partial(crops, table)
        else:
            images = self._planes(frames).float().sub_(PIXEL_MEAN).mul_(PIXEL_SCALE)  # one float copy
            resized_to, cut = partial(F.interpolate, images, mode="area"), partial(crops_by_box, images)
        boxes, scores, groups = self._stage1(resized_to, t, h, w)
        for stage, size in (("rnet", 24), ("onet", 48)):
            if not len(boxes):
                break
            patches = cut(groups, boxes, size)
            # padded to a few batch sizes (batch_shapes.py), the padding cut off again
            reg, prob = (out[:len(patches)] for out in self.nets[stage](pad_rows(patches)))
            score = prob[:, 1]
            keep = score > self.thresholds[1 if stage == "rnet" else 2]
            boxes, scores, groups, reg = boxes[keep], score[keep], groups[keep], reg[keep]
            if stage == "rnet":
                keep = batched_nms(boxes, scores, groups, 0.7)
                boxes = square(regress(boxes[keep], reg[keep]))
            else:
                boxes = regress(boxes, reg)
                keep = batched_nms(boxes, scores, groups, 0.7, "min")
                boxes = boxes[keep]
            scores, groups = scores[keep], groups[keep]
        boxes = boxes.cpu().numpy().astype(np.float32)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        scores, groups = scores.cpu().numpy().astype(np.float32), groups.cpu().numpy()
        return [(boxes[groups == i].reshape(-1, 4), scores[groups == i]) for i in range(t)]

    def _summed_area(self, frames: np.ndarray) -> torch.Tensor:
        """The frames' summed-area table on the detector's device: built by numpy for the CPU, by torch
        on an accelerator (the uint8 frames go up, not a table four times their size)."""
        if torch.device(self.device).type == "cpu":
            return summed_area_host(frames)
        return summed_area(self._planes(frames))

    def _planes(self, frames: np.ndarray) -> torch.Tensor:
        """The uint8 frames as planes (T, 3, H, W) on the detector's device. Planar while still uint8: the
        area resize on the channels-last view of (T, H, W, 3) frames ran 1.2-1.6x slower than on planes,
        with the same values (max difference 0)."""
        return torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).contiguous()

    def _stage1(self, resized_to, t: int, h: int, w: int):
        """P-Net over the image pyramid; ``resized_to(size=(height, width))`` gives all frames at one scale."""
        device = torch.device(self.device)
        scale = 12.0 / self.min_face
        all_boxes, all_scores, all_groups = [], [], []
        while min(h, w) * scale >= 12:
            resized = resized_to(size=(int(h * scale + 1), int(w * scale + 1)))
            reg, prob = self.nets["pnet"](resized)
            mask = prob[:, 1] >= self.thresholds[0]
            idx = mask.nonzero()  # (n, 3): image, y, x
            if len(idx):
                g, y, x = idx[:, 0], idx[:, 1].float(), idx[:, 2].float()
                cell = torch.stack([x * 2 + 1, y * 2 + 1, x * 2 + 12, y * 2 + 12], 1) / scale
                r = reg.permute(0, 2, 3, 1)[mask]
                s = prob[:, 1][mask]
                keep = batched_nms(cell, s, g, 0.5)
                all_boxes.append(regress(cell[keep], r[keep]))
                all_scores.append(s[keep])
                all_groups.append(g[keep])
            scale *= self.factor
        if not all_boxes:
            empty = torch.zeros(0, 4, device=device)
            return empty, torch.zeros(0, device=device), torch.zeros(0, dtype=torch.long, device=device)
        boxes, scores, groups = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_groups)
        keep = batched_nms(boxes, scores, groups, 0.7)
        return square(boxes[keep]), scores[keep], groups[keep]
