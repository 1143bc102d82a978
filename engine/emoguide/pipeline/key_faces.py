"""Find the faces on a chunk's key frames in the decode thread, as the frames are decoded.

Why: the face detector is the largest stage of an analysis on a CPU (a third of
it at 1080p), and it used to run in the analysis thread, so that thread did the
detector and then the expression nets one after the other, while the decode
thread, once its buffer was full, waited. Here the detector runs where the frames
are made: the decode thread (:mod:`emoguide.pipeline.decode_ahead`, or a clip's
own prefetch thread) finds the faces of the next clip's key frames while the
analysis thread reads the expressions of this one.

The stream it yields is the clip's frames with :class:`KeyFaces` items between
them. The chunking and the key frames are the picture side's
(:data:`CHUNK_S`; every ``detect_every``-th frame of a chunk, plus its last), and
the batches are exactly those ``FaceRecogniser.analyze_frames`` would run itself:
the key frames in order, ``batch`` at a time, the chunk's last frame in the final
batch. So the boxes are the same to the bit; only the thread differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

#: seconds of video analysed together: a chunk ends with the first frame this far from its first
CHUNK_S = 8.0
#: the decode thread finds the key frames' faces (shipped). False leaves them all to the analysis thread
#: at each chunk's end, as before; ``benchmarks/bench_analyze.py --ab-faces-ahead`` measures one against
#: the other (the same results either way)
IN_DECODE_THREAD = True


@dataclass(frozen=True)
class KeyFaces:
    """The faces of the next key frames of the chunk being decoded (the detector's output, in order).

    ``chunk_end``: the frame before this item was the chunk's last, and these are the
    last of its key frames: the chunk is complete.
    """

    detections: list
    chunk_end: bool


def key_frame_faces(frames: Iterable, detect: Callable[[np.ndarray], list] | None, detect_every: int,
                    batch: int) -> Iterator:
    """Yield each of ``frames`` (objects with ``image`` and ``time_s``), and a :class:`KeyFaces`
    after each frame that completes a batch of key frames or a chunk.

    ``detect``: the detector, called on ``np.stack`` of up to ``batch`` key frames; None
    only marks the chunks' ends (empty :class:`KeyFaces`), leaving every face to the
    analysis thread. Closing this generator closes ``frames``.
    """
    every, batch = max(1, detect_every), max(1, batch)
    keys: list[np.ndarray] = []  # key frames of this chunk still to detect
    first_t, index, last = None, 0, None
    try:
        for frame in frames:
            if first_t is None:
                first_t, index = frame.time_s, 0
            yield frame
            last = frame
            ends = frame.time_s - first_t >= CHUNK_S
            if detect is not None and (index % every == 0 or ends):
                keys.append(frame.image)
            if ends:
                yield KeyFaces(_detect_all(keys, detect, batch), chunk_end=True)
                keys, first_t, last = [], None, None
            elif len(keys) == batch:
                yield KeyFaces(list(detect(np.stack(keys))), chunk_end=False)
                keys = []
            index += 1
        if last is not None:  # the clip's last chunk, shorter than CHUNK_S
            if detect is not None and (index - 1) % every:
                keys.append(last.image)  # its last frame is a key frame too
            yield KeyFaces(_detect_all(keys, detect, batch), chunk_end=True)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def _detect_all(keys: list[np.ndarray], detect, batch: int) -> list:
    found: list = []
    for i in range(0, len(keys), batch):
        found.extend(detect(np.stack(keys[i:i + batch])))
    return found
