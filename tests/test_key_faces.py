"""The decode thread finds the key frames' faces: the same batches the analysis thread would run.

``key_frame_faces`` must cut chunks where the picture side cuts them, pick the same key
frames (every k-th of a chunk plus its last) and group them into the same detector
batches, in order; otherwise boxes, and so readings, would change with the thread
that found them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from emoguide.pipeline.key_faces import CHUNK_S, KeyFaces, key_frame_faces

RATE = 16  # frames per second: times k / 16 are exact in binary, so chunk edges are unambiguous


@dataclass
class Frame:
    image: np.ndarray
    time_s: float


def frames(n: int, first: int = 0) -> list[Frame]:
    return [Frame(np.full((2, 2, 3), i, np.int32), i / RATE) for i in range(first, first + n)]


class Recorder:
    """A detector that returns, for each frame, its own index (so the order is checkable)."""

    def __init__(self):
        self.batches: list[list[int]] = []

    def __call__(self, batch: np.ndarray) -> list:
        self.batches.append([int(image[0, 0, 0]) for image in batch])
        return list(self.batches[-1])


def expected_batches(chunks: list[range], every: int, batch: int) -> list[list[int]]:
    """What ``FaceRecogniser.analyze_frames`` runs on each chunk: its key frames, ``batch`` at a time."""
    out = []
    for chunk in chunks:
        keys = [chunk[i] for i in range(0, len(chunk), every)]
        if keys[-1] != chunk[-1]:
            keys.append(chunk[-1])
        out += [keys[i:i + batch] for i in range(0, len(keys), batch)]
    return out


@pytest.mark.parametrize("n, every, batch", [(300, 3, 4), (260, 6, 8), (129, 4, 8), (7, 3, 2), (1, 6, 8)])
def test_chunks_key_frames_and_batches_are_the_picture_sides(n, every, batch):
    assert CHUNK_S == 8.0  # at 16 frames/s a chunk is 129 frames: 0 s to 8 s, both ends in
    chunks = [range(s, min(s + 129, n)) for s in range(0, n, 129)]
    detect = Recorder()
    stream = list(key_frame_faces(frames(n), detect, every, batch))

    assert [item.time_s * RATE for item in stream if not isinstance(item, KeyFaces)] == list(range(n))
    assert detect.batches == expected_batches(chunks, every, batch)
    found = [item for item in stream if isinstance(item, KeyFaces)]
    assert [f.detections for f in found if f.detections] == detect.batches  # each batch's faces, in order
    ends = [i for i, item in enumerate(stream) if isinstance(item, KeyFaces) and item.chunk_end]
    assert len(ends) == len(chunks)
    assert [stream[i - 1].time_s * RATE for i in ends] == [chunk[-1] for chunk in chunks]  # after each last frame
    for i, item in enumerate(stream):  # a batch comes right after the frame that completes it, no later
        if isinstance(item, KeyFaces) and item.detections:
            previous = next(s for s in reversed(stream[:i]) if not isinstance(s, KeyFaces))
            assert previous.time_s * RATE == item.detections[-1]


def test_a_chunk_whose_last_frame_completes_a_batch_still_ends_with_its_marker():
    detect = Recorder()
    stream = list(key_frame_faces(frames(10), detect, 3, 4))  # key frames 0 3 6 9: one whole batch
    assert detect.batches == [[0, 3, 6, 9]]
    assert isinstance(stream[-2], KeyFaces) and stream[-2].detections == [0, 3, 6, 9] and not stream[-2].chunk_end
    assert stream[-1] == KeyFaces([], chunk_end=True)


def test_without_a_detector_only_the_chunk_ends_are_marked():
    stream = list(key_frame_faces(frames(300), None, 3, 4))
    markers = [item for item in stream if isinstance(item, KeyFaces)]
    assert markers == [KeyFaces([], chunk_end=True)] * 3
    assert len(stream) == 303


def test_nothing_comes_of_no_frames():
    detect = Recorder()
    assert list(key_frame_faces(iter([]), detect, 3, 4)) == [] and detect.batches == []


def test_closing_the_stream_closes_the_decoder_and_errors_pass_through():
    closed = []

    def decoder():
        try:
            yield from frames(50)
        finally:
            closed.append(True)

    stream = key_frame_faces(decoder(), Recorder(), 3, 4)
    next(stream)
    stream.close()
    assert closed == [True]

    def broken(batch):
        raise RuntimeError("detector failed")

    with pytest.raises(RuntimeError, match="detector failed"):
        list(key_frame_faces(frames(20), broken, 3, 4))
