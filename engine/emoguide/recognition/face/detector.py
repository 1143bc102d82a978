"""Face detection: a three-stage cascade (P-, R-, O-Net; Zhang et al. 2016, "Joint Face
Detection and Alignment using Multitask Cascaded Convolutional Networks").

Written here in plain torch; only the trained weights come from the
``facenet-pytorch`` wheel (its ``data/{pnet,rnet,onet}.pt``, MIT licence), which
we install without its dependencies: its own code needs torchvision, which
would replace our pinned torch. Frames of a chunk are detected as one batch
per pyramid scale.

Output per frame: ``(boxes (K, 4) x1,y1,x2,y2 in pixels, scores (K,))``.

The nets' weights are kept channels-last: frames arrive as (T, H, W, 3) and
their permuted view already is, so oneDNN runs the convolutions without
reordering (37.9 -> 31.5 ms per 640x360 frame on one thread, identical boxes).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emoguide.recognition.base import WeightsError
from emoguide.recognition.batch_shapes import pad_rows


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


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union") -> torch.Tensor:
    """Greedy non-maximum suppression; indices kept, best first. ``mode="min"`` divides by the smaller box."""
    order = scores.argsort(descending=True)
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    if 1 < len(order) <= NMS_MATRIX_MAX:
        return _nms_matrix(boxes[order], area[order], threshold, mode, order)
    keep = []
    while order.numel():
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        xx1 = torch.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = torch.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = torch.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = torch.minimum(boxes[i, 3], boxes[rest, 3])
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        denom = torch.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom.clamp(min=1e-9) <= threshold]
    return torch.tensor(keep, dtype=torch.long)


#: up to this many boxes, suppression uses one overlap matrix (4 MB) instead of a loop of tensor ops
NMS_MATRIX_MAX = 1024


def _nms_matrix(boxes: torch.Tensor, area: torch.Tensor, threshold: float, mode: str, order: torch.Tensor):
    """:func:`nms` with every pairwise overlap computed at once (the same float operations, so the
    same boxes survive); the greedy pass then only walks a boolean matrix."""
    xx1 = torch.maximum(boxes[:, None, 0], boxes[None, :, 0])
    yy1 = torch.maximum(boxes[:, None, 1], boxes[None, :, 1])
    xx2 = torch.minimum(boxes[:, None, 2], boxes[None, :, 2])
    yy2 = torch.minimum(boxes[:, None, 3], boxes[None, :, 3])
    inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
    denom = torch.minimum(area[:, None], area[None, :]) if mode == "min" else area[:, None] + area[None, :] - inter
    suppress = (inter / denom.clamp(min=1e-9) > threshold).cpu().numpy()
    alive = np.ones(len(boxes), bool)
    keep = []
    for i in range(len(boxes)):
        if alive[i]:
            keep.append(i)
            alive[i + 1:] &= ~suppress[i, i + 1:]
    return order.cpu()[torch.tensor(keep, dtype=torch.long)]


def _batched_nms(boxes, scores, groups, threshold, mode="union"):
    with _single_thread():  # one small suppression per frame: threads cost more than they save
        keep = [torch.nonzero(groups == g).flatten()[nms(boxes[groups == g], scores[groups == g], threshold, mode)]
                for g in torch.unique(groups)]
    return torch.cat(keep) if keep else torch.zeros(0, dtype=torch.long)


def _square(boxes: torch.Tensor) -> torch.Tensor:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1 = boxes[:, 0] + (w - side) / 2
    y1 = boxes[:, 1] + (h - side) / 2
    return torch.stack([x1, y1, x1 + side, y1 + side], 1)


def _regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes + reg * torch.stack([w, h, w, h], 1)


class _single_thread:
    """Run a stretch of tiny tensor ops on one intra-op thread.

    Hundreds of per-box resizes are each too small to split across threads; with two
    OpenMP threads the spin-up and spin-wait cost 4–5× the work (``_crops`` of 551 boxes:
    0.49 s CPU on 2 threads, 0.10 s on 1, same output).
    """

    def __enter__(self):
        self.threads = torch.get_num_threads()
        if self.threads != 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.threads != 1:
            torch.set_num_threads(self.threads)


def _crops(images: torch.Tensor, groups: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Resized crops (K, 3, size, size); parts outside the frame are zero (as the cascade was trained)."""
    with _single_thread():
        return _crops_loop(images, groups, boxes, size)


def _crops_loop(images: torch.Tensor, groups: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    _, _, height, width = images.shape
    out = torch.zeros(len(boxes), 3, size, size)
    for k, (g, b) in enumerate(zip(groups.tolist(), boxes.round().long().tolist())):
        x1, y1, x2, y2 = b
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        patch = torch.zeros(3, y2 - y1, x2 - x1)
        sx1, sy1, sx2, sy2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        patch[:, sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = images[g, :, sy1:sy2, sx1:sx2]
        out[k] = F.interpolate(patch[None], size=(size, size), mode="area")[0]
    return out


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

    def to(self, device: str) -> "FaceDetector":
        for net in self.nets.values():
            net.to(device, memory_format=torch.channels_last)
        self.device = device
        return self

    @torch.inference_mode()
    def detect(self, frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Faces in each RGB uint8 frame of ``frames`` (T, H, W, 3)."""
        # planar (NCHW) copy made while still uint8: the pyramid's area resize on the channels-last view of
        # (T, H, W, 3) frames ran 1.2-1.6x slower than on planes, with the same values (max difference 0)
        images = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).contiguous()
        images = images.float().sub_(127.5).mul_(0.0078125)  # in place: one float copy of the frames, not two
        t, _, h, w = images.shape
        boxes, scores, groups = self._stage1(images)
        for stage, size in (("rnet", 24), ("onet", 48)):
            if not len(boxes):
                break
            crops = _crops(images.cpu(), groups.cpu(), boxes.cpu(), size).to(self.device)
            reg, prob = (out[:len(crops)] for out in self.nets[stage](pad_rows(crops)))  # few shapes: batch_shapes.py
            score = prob[:, 1]
            keep = score > self.thresholds[1 if stage == "rnet" else 2]
            boxes, scores, groups, reg = boxes[keep], score[keep], groups[keep], reg[keep]
            if stage == "rnet":
                keep = _batched_nms(boxes, scores, groups, 0.7)
                boxes = _square(_regress(boxes[keep], reg[keep]))
            else:
                boxes = _regress(boxes, reg)
                keep = _batched_nms(boxes, scores, groups, 0.7, "min")
                boxes = boxes[keep]
            scores, groups = scores[keep], groups[keep]
        out = []
        for i in range(t):
            sel = groups == i
            b = boxes[sel].cpu().numpy().astype(np.float32)
            if len(b):
                b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
                b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
            out.append((b.reshape(-1, 4), scores[sel].cpu().numpy().astype(np.float32)))
        return out

    def _stage1(self, images: torch.Tensor):
        t, _, h, w = images.shape
        scale = 12.0 / self.min_face
        all_boxes, all_scores, all_groups = [], [], []
        while min(h, w) * scale >= 12:
            resized = F.interpolate(images, size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
            reg, prob = self.nets["pnet"](resized)
            mask = prob[:, 1] >= self.thresholds[0]
            idx = mask.nonzero()  # (n, 3): image, y, x
            if len(idx):
                g, y, x = idx[:, 0], idx[:, 1].float(), idx[:, 2].float()
                cell = torch.stack([x * 2 + 1, y * 2 + 1, x * 2 + 12, y * 2 + 12], 1) / scale
                r = reg.permute(0, 2, 3, 1)[mask]
                s = prob[:, 1][mask]
                keep = _batched_nms(cell, s, g, 0.5)
                all_boxes.append(_regress(cell[keep], r[keep]))
                all_scores.append(s[keep])
                all_groups.append(g[keep])
            scale *= self.factor
        if not all_boxes:
            empty = torch.zeros(0, 4, device=images.device)
            return empty, torch.zeros(0, device=images.device), torch.zeros(0, dtype=torch.long, device=images.device)
        boxes, scores, groups = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_groups)
        keep = _batched_nms(boxes, scores, groups, 0.7)
        return _square(boxes[keep]), scores[keep], groups[keep]
