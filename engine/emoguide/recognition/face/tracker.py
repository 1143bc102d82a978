"""Following faces between detections so expressions can be read on every frame.

The detector is the expensive part, so it runs on every k-th frame ("key
frames"); detections are linked into tracks by overlap (IoU), the dominant
track is the one with the most face area × confidence over the chunk (the
person the shot is about), and its box is interpolated linearly between key
frames. A frame farther than one detection interval from any detection of the
dominant track has no face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def weight(self) -> float:
        return float(sum(s * (b[2] - b[0]) * (b[3] - b[1]) for b, s in zip(self.boxes, self.scores)))


def link_tracks(key_frames: list[int], detections: list[tuple[np.ndarray, np.ndarray]], min_iou: float = 0.3) -> list[Track]:
    """Greedy IoU association of per-key-frame detections into tracks."""
    tracks: list[Track] = []
    for frame, (boxes, scores) in zip(key_frames, detections):
        used: set[int] = set()
        for box, score in sorted(zip(boxes, scores), key=lambda bs: -bs[1]):
            best, best_iou = None, min_iou
            for ti, track in enumerate(tracks):
                if ti in used or track.frames[-1] >= frame:
                    continue
                overlap = iou(track.boxes[-1], box)
                if overlap > best_iou:
                    best, best_iou = ti, overlap
            if best is None:
                tracks.append(Track())
                best = len(tracks) - 1
            used.add(best)
            tracks[best].frames.append(frame)
            tracks[best].boxes.append(np.asarray(box, np.float32))
            tracks[best].scores.append(float(score))
    return tracks


def dominant_boxes(n_frames: int, track: Track | None, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame box (NaN where none) and score of ``track``, interpolated between its detections."""
    boxes = np.full((n_frames, 4), np.nan, np.float32)
    scores = np.zeros(n_frames, np.float32)
    if track is None or not track.frames:
        return boxes, scores
    frames = np.array(track.frames)
    tb = np.stack(track.boxes)
    ts = np.array(track.scores, np.float32)
    for i in range(n_frames):
        j = int(np.searchsorted(frames, i))
        if j < len(frames) and frames[j] == i:
            boxes[i], scores[i] = tb[j], ts[j]
        elif 0 < j < len(frames) and frames[j] - frames[j - 1] <= 2 * max_gap:
            a = (i - frames[j - 1]) / (frames[j] - frames[j - 1])
            boxes[i] = (1 - a) * tb[j - 1] + a * tb[j]
            scores[i] = min(ts[j - 1], ts[j])
        else:
            near = j - 1 if j == len(frames) else j
            if abs(frames[near] - i) <= max_gap:
                boxes[i], scores[i] = tb[near], ts[near]
    return boxes, scores
