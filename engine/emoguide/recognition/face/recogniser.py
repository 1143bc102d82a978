"""The face modality: detect → track → read expressions where the face changes → windows and brief events.

Reliability of a frame's reading is the detector's confidence times a size
factor: FER2013 faces are 48 px, so faces much smaller than that on screen
(a wide shot) are down-weighted rather than trusted like a close-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from emoguide.labels import NUM_CLASSES
from emoguide.recognition.base import ModalityResult, Recogniser, RecogniserSpec, register, verified_weights, sha256_of
from emoguide.recognition.batch_shapes import pad_rows
from emoguide.recognition.face.detector import FaceDetector
from emoguide.recognition.face.expression import MIRROR_TTA, crop_faces, framing_tag, load_expression_net
from emoguide.recognition.face import expression_gate
from emoguide.recognition.face.spotting import BriefExpression, spot_brief_expressions
from emoguide.recognition.face.tracker import frame_boxes, link_tracks
from emoguide.recognition.windowing import is_sorted, window_slices

#: a face this many pixels wide (in the analysed frame) or more is fully reliable
RELIABLE_FACE_PX = 64.0
#: key frames per detector call. On the CPU the cascade's first stage holds ~8 MB of pyramid
#: activations per 640x360 frame: 32 frames a call rose 260-377 MiB, the largest transient of a
#: whole analysis, while 8 rose 0-50 MiB and ran as fast or faster (34-36 vs 37-42 ms CPU per frame
#: on one thread). Boxes agree to float rounding (identical on 96 frames at 640x360; ≤ 3e-5 px at 480
#: wide: oneDNN picks kernels by batch size). A GPU keeps the larger batch (not measured here).
DETECT_BATCH = {"cpu": 8}
DETECT_BATCH_OTHER = 32
#: faces per expression call. On the CPU a batch of 256 48×48 faces (an 8 s chunk) makes the six int8
#: nets' activations 4-32 MiB each, above malloc's mapping threshold (pipeline/native_memory.py), so
#: every call mapped, faulted in and unmapped them afresh: 1,536 faces took ~650 k page faults and
#: 1.8 s of system time. Batches of 32 stay in the heap and reuse it: 30 k faults, 0.16 s, 8 % more
#: faces/s (152 → 165 on two threads), the same outputs (each row is computed on its own). A GPU
#: keeps the large batch.
CLASSIFY_BATCH = {"cpu": 32}
CLASSIFY_BATCH_OTHER = 256


@dataclass
class FaceFrames:
    """Per-frame arrays (T rows each): the dominant face's reading."""

    probs: np.ndarray  # (T, 7)
    present: np.ndarray  # (T,) bool
    reliability: np.ndarray  # (T,)
    boxes: np.ndarray  # (T, 4), NaN where no face
    face_area_frac: np.ndarray  # (T,)
    n_faces: np.ndarray  # (T,) faces found at the nearest detection


@register("face")
class FaceRecogniser(Recogniser):
    def __init__(self, detector: FaceDetector, expression: torch.nn.Module, version: str, device: str = "cpu"):
        super().__init__()
        self.detector = detector
        self.expression = expression
        self._modules = {"detector": detector, "expression": expression}
        self.device = device
        self.spec = RecogniserSpec(modality="face", version=version, window_s=2.0, hop_s=1.0, sample_rate=4.0)

    @classmethod
    def load(cls, device: str | None = None) -> "FaceRecogniser":
        from emoguide.recognition.base import pick_device

        device = pick_device(device)
        path = verified_weights("face_expression.pt")
        # the mirror setting and the crop's framing change every reading, so they are part of the version
        # (cache keys, fusion.md); the framing only where it is not the +0.15 of the versions before it
        version = sha256_of(path)[:12] + ("" if MIRROR_TTA else "+nomirror") + framing_tag()
        return cls(FaceDetector(device), load_expression_net(device), version, device)

    def predict(self, batch) -> ModalityResult:
        frames, times, starts, ends = batch
        return self.aggregate(self.analyze_frames(frames, times), times, starts, ends)

    def analyze_frames(self, frames: Sequence[np.ndarray], times: np.ndarray, detect_every: int = 1,
                       every_frame: bool = False, detections: list | None = None) -> FaceFrames:
        """Per-frame readings of ``frames`` (RGB uint8, an array (T, H, W, 3) or a list of (H, W, 3)).

        A list is not stacked: only the detector's key frames are copied into a batch,
        and only the face boxes are cropped from the others (stacking a chunk of
        640×360 frames cost 1.2 s per minute of video and held it twice). At full frame
        rate the expression net reads anchors and the frames where the face changes
        (:mod:`~emoguide.recognition.face.expression_gate`); ``every_frame`` reads them all.
        ``detections``: the first key frames' faces, found by :meth:`detect_arrived` while
        the frames were still arriving; the rest are found here.
        """
        n = len(frames)
        h, w = frames[0].shape[:2] if n else (0, 0)
        key = list(range(0, n, max(1, detect_every)))
        if key and key[-1] != n - 1:
            key.append(n - 1)
        detections = list(detections or [])
        step = self._detect_batch()
        if len(detections) % step or len(detections) > len(key):
            raise ValueError(f"{len(detections)} early detections do not make whole batches of this chunk's "
                             f"{len(key)} key frames")
        for i in range(len(detections), len(key), step):
            detections.extend(self.detector.detect(np.stack([frames[k] for k in key[i:i + step]])))
        boxes, scores = frame_boxes(n, link_tracks(key, detections), max(1, detect_every))
        present = ~np.isnan(boxes[:, 0])
        probs = np.full((n, NUM_CLASSES), 1.0 / NUM_CLASSES, np.float32)
        idx = np.nonzero(present)[0]
        if len(idx):
            crops = crop_faces(frames, idx, boxes[idx])
            gate = expression_gate.DEFAULT_GATE  # read here, as Engine.versions reads it for the cache key
            step = 1 if every_frame or n < 2 else gate.anchor_step(float(np.median(np.diff(times))))
            probs[idx] = expression_gate.gated_readings(crops, idx, step, self.classify_crops, gate)[0]
        side = np.where(present, np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 0.0)
        reliability = np.where(present, scores * np.clip(side / RELIABLE_FACE_PX, 0.2, 1.0), 0.0).astype(np.float32)
        area = np.where(present, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / float(h * w), 0.0)
        nearest = _nearest_counts(key, detections, n)
        return FaceFrames(probs, present, reliability, boxes, area.astype(np.float32), nearest.astype(np.int32))

    def detect_arrived(self, frames: Sequence[np.ndarray], detect_every: int, detections: list) -> None:
        """Find the faces of the next whole batches of key frames among ``frames``, a chunk still arriving.

        Appends to ``detections`` (pass them to :meth:`analyze_frames` with the whole chunk). Why:
        the detector then works while the decoder is still producing the rest of the chunk,
        instead of both cores waiting on the decoder and then on the detector. A batch runs
        only when its last key frame is in: the key frames are every ``detect_every``-th frame
        plus the chunk's last, which joins the final batch, so these batches are exactly those
        :meth:`analyze_frames` would run itself, with the same boxes.
        """
        step, every = self._detect_batch(), max(1, detect_every)
        while len(frames) > (len(detections) + step - 1) * every:
            first = len(detections)
            detections.extend(self.detector.detect(np.stack([frames[(first + j) * every] for j in range(step)])))

    def _detect_batch(self) -> int:
        return DETECT_BATCH.get(str(self.device), DETECT_BATCH_OTHER)

    def classify_crops(self, crops: np.ndarray, batch: int | None = None, mirror: bool = MIRROR_TTA) -> np.ndarray:
        """Expression probabilities (N, 7) of grey 48×48 crops; with ``mirror``, each face and its mirror
        in one pass, averaged (off as shipped: see ``expression.MIRROR_TTA``).

        ``batch`` faces per call (default :data:`CLASSIFY_BATCH` for the device); batches are padded
        to few lengths (see :mod:`emoguide.recognition.batch_shapes`).
        """
        batch = batch or CLASSIFY_BATCH.get(str(self.device), CLASSIFY_BATCH_OTHER)
        out = []
        with torch.inference_mode():
            for i in range(0, len(crops), batch):
                chunk = crops[i:i + batch]
                n = len(chunk)
                x = pad_rows(torch.from_numpy(chunk).unsqueeze(1).to(self.device))
                if not mirror:
                    out.append(self.expression(x).softmax(1)[:n].cpu().numpy())  # padded rows dropped
                    continue
                both = self.expression(torch.cat([x, torch.flip(x, dims=[3])])).softmax(1)  # face + mirror, one pass
                out.append((0.5 * (both[:n] + both[len(x):len(x) + n])).cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, NUM_CLASSES), np.float32)

    def aggregate(self, frames: FaceFrames, times: np.ndarray, window_starts: np.ndarray,
                  window_ends: np.ndarray) -> ModalityResult:
        """Reliability-weighted mean of the frames inside each window."""
        n = len(window_starts)
        probs = np.full((n, NUM_CLASSES), 1.0 / NUM_CLASSES, np.float32)
        present = np.zeros(n, bool)
        reliability = np.zeros(n, np.float32)
        area = np.zeros(n, np.float32)
        faces = np.zeros(n, np.float32)
        times = np.asarray(times)
        order = None if is_sorted(times) else np.argsort(times, kind="stable")
        if order is not None:  # slices need sorted times; the frames' order inside a window does not matter
            times = times[order]
            frames = type(frames)(**{k: v[order] for k, v in vars(frames).items()})
        lo, hi = window_slices(times, window_starts, window_ends)
        for i in range(n):
            sel = slice(lo[i], hi[i])
            if hi[i] <= lo[i]:
                continue
            weight = frames.reliability[sel]
            faces[i] = float(frames.n_faces[sel].max())
            if weight.sum() <= 0:
                continue
            present[i] = True
            probs[i] = (frames.probs[sel] * weight[:, None]).sum(0) / weight.sum()
            # reliability of the window: mean frame reliability, scaled by how much of it had a face
            reliability[i] = float(weight.mean())
            area[i] = float(frames.face_area_frac[sel][frames.present[sel]].mean())
        confidence = (probs.max(axis=1) * reliability).astype(np.float32)
        return ModalityResult(probs=probs, confidence=confidence, present=present, reliability=reliability,
                              extras={"face_area_frac": area, "n_faces": faces})

    def spot(self, frames: FaceFrames, times: np.ndarray) -> list[BriefExpression]:
        return spot_brief_expressions(frames.probs, times, frames.present)


def _nearest_counts(key: list[int], detections: list, n: int) -> np.ndarray:
    """Faces found at the key frame nearest each frame (the earlier one on a tie, as argmin picks)."""
    if not key:
        return np.zeros(n, int)
    k = np.asarray(key)
    counts = np.array([len(d[0]) for d in detections])
    j = np.clip(np.searchsorted(k, np.arange(n)), 0, len(k) - 1)
    prev = np.maximum(j - 1, 0)
    take_prev = np.abs(k[prev] - np.arange(n)) <= np.abs(k[j] - np.arange(n))
    return counts[np.where(take_prev, prev, j)]
