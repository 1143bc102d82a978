"""Following faces between detections so expressions can be read on every frame.

The detector is the expensive part, so it runs on every k-th frame ("key
frames"); detections are linked into tracks by overlap (IoU), and each track's
box is interpolated linearly between its key frames. Each frame reads the
heaviest track present there, weight being face area × confidence over the
chunk: the person the shot is about first, and the next face wherever that
person is absent (a cut inside the chunk, the main face turning away), instead
of no face at all. A frame farther than one detection interval from every
detection of every track has no face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: how frames are given a face; part of every cache key (``Engine.versions``), so a change that moves
#: any reading must name itself here. "heaviest-present": each frame reads the heaviest track there
#: (was the chunk's heaviest track only, leaving the frames of a second shot or person without a face).
TRACKING = "iou-link, heaviest-present"


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


def track_boxes(n_frames: int, track: Track | None, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame box (NaN where none) and score of ``track``, interpolated between its detections.

    Between two detections at most ``2 * max_gap`` frames apart the box is interpolated; farther
    apart (the track was lost and found again), and before the first or after the last, a frame
    takes the nearer detection's box if it is at most ``max_gap`` frames away.
    """
    boxes = np.full((n_frames, 4), np.nan, np.float32)
    scores = np.zeros(n_frames, np.float32)
    if track is None or not track.frames or n_frames == 0:
        return boxes, scores
    frames = np.asarray(track.frames)
    tb = np.stack(track.boxes).astype(np.float32)
    ts = np.asarray(track.scores, np.float32)
    last = len(frames) - 1
    i = np.arange(n_frames)
    j = np.searchsorted(frames, i)  # the first detection at or after each frame
    nxt, prev = np.minimum(j, last), np.maximum(j - 1, 0)
    exact = (j <= last) & (frames[nxt] == i)
    span = frames[nxt] - frames[prev]
    between = ~exact & (j > 0) & (j <= last) & (span <= 2 * max_gap)
    a = (i - frames[prev]) / np.maximum(span, 1)
    near = np.where(np.abs(frames[nxt] - i) <= np.abs(frames[prev] - i), nxt, prev)
    alone = ~exact & ~between & (np.abs(frames[near] - i) <= max_gap)
    boxes[exact], scores[exact] = tb[nxt[exact]], ts[nxt[exact]]
    w = a[between][:, None]  # float64, rounded to float32 once, on assignment
    boxes[between] = (1 - w) * tb[prev[between]] + w * tb[nxt[between]]
    scores[between] = np.minimum(ts[prev[between]], ts[nxt[between]])
    boxes[alone], scores[alone] = tb[near[alone]], ts[near[alone]]
    return boxes, scores


def frame_boxes(n_frames: int, tracks: list[Track], max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame box and score of the heaviest track present at each frame (NaN / 0 where none is)."""
    boxes = np.full((n_frames, 4), np.nan, np.float32)
    scores = np.zeros(n_frames, np.float32)
    for track in sorted(tracks, key=lambda t: -t.weight()):  # stable: equal weights keep their order
        free = np.isnan(boxes[:, 0])
        if not free.any():
            break
        b, s = track_boxes(n_frames, track, max_gap)
        take = free & ~np.isnan(b[:, 0])
        boxes[take], scores[take] = b[take], s[take]
    return boxes, scores
