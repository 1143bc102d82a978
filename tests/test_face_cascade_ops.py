"""The cascade's batched box arithmetic gives the answers of the frame-by-frame, box-by-box code it
replaces: suppression decision for decision, crops and pyramid levels read from a summed-area table
to float rounding, the detector box for box.

These run on the CPU (CI); ``test_cuda_path.py`` repeats the comparison on a GPU, where the batched
forms matter (docs/performance.md, fourteenth pass)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emoguide.recognition.face import cascade_ops

FRAMES = [Path(__file__).parent / "data" / f"smile_{t}.jpg" for t in ("start", "end")]


def smile_frames() -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in FRAMES])


def greedy_by_hand(boxes, scores, groups, threshold, mode):
    """Textbook greedy suppression, frame by frame, one box at a time (ties: lower index first)."""
    kept = []
    for g in sorted(set(groups.tolist())):
        members = [i for i in range(len(boxes)) if groups[i] == g]
        alive = sorted(members, key=lambda i: (-float(scores[i]), i))
        while alive:
            best, alive = alive[0], alive[1:]
            kept.append(best)
            area = cascade_ops._area(boxes)
            alive = [j for j in alive
                     if cascade_ops._overlap(boxes[best], area[best], boxes[j], area[j], mode) <= threshold]
    return kept


def random_boxes(rng, n, frames):
    corner = rng.uniform(0, 100, (n, 2))
    boxes = torch.from_numpy(np.concatenate([corner, corner + rng.uniform(1, 40, (n, 2))], 1)).float()
    # saturated scores tie often (the cascade's softmax reaches 1.0): half the trials use a few values
    scores = torch.from_numpy(rng.choice([0.6, 0.9, 1.0], n) if n % 2 else rng.uniform(0, 1, n)).float()
    return boxes, scores, torch.from_numpy(rng.integers(0, frames, n))


@pytest.mark.parametrize("mode", ["union", "min"])
def test_batched_suppression_keeps_what_greedy_suppression_frame_by_frame_keeps(mode):
    rng = np.random.default_rng(7)
    for _ in range(150):
        boxes, scores, groups = random_boxes(rng, int(rng.integers(0, 70)), int(rng.integers(1, 7)))
        expected = greedy_by_hand(boxes, scores, groups, 0.5, mode)
        assert cascade_ops.batched_nms(boxes, scores, groups, 0.5, mode).tolist() == expected


def test_large_frames_and_many_frames_take_their_own_paths_with_the_same_answer(monkeypatch):
    """A frame over NMS_MATRIX_MAX boxes goes through the loop; frames beyond NMS_BATCH_ENTRIES, in passes."""
    rng = np.random.default_rng(3)
    boxes, scores, groups = random_boxes(rng, 301, 5)
    groups[:120] = 2  # one crowded frame
    expected = greedy_by_hand(boxes, scores, groups, 0.4, "union")
    monkeypatch.setattr(cascade_ops, "NMS_MATRIX_MAX", 100)
    for entries in (2_000, 10**6):  # one frame a pass; every small frame in one pass, the crowded one apart
        monkeypatch.setattr(cascade_ops, "NMS_BATCH_ENTRIES", entries)
        assert cascade_ops.batched_nms(boxes, scores, groups, 0.4).tolist() == expected
    one = groups == 2
    assert cascade_ops.nms(boxes[one], scores[one], 0.4).tolist() == \
        [int(np.flatnonzero(one.numpy()).tolist().index(i)) for i in expected if groups[i] == 2]


def test_crops_from_the_summed_area_table_equal_crops_cut_box_by_box():
    frames = smile_frames()
    planes = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
    images = (planes.float() - cascade_ops.PIXEL_MEAN) * cascade_ops.PIXEL_SCALE
    h, w = frames.shape[1:3]
    rng = np.random.default_rng(0)
    corner = rng.uniform([-80, -80], [w, h], (300, 2))
    boxes = torch.from_numpy(np.concatenate([corner, corner + rng.uniform(-3, 260, (300, 2))], 1)).float()
    boxes[:5] = torch.tensor([[-50.0, -50, -10, -10], [10, 10, 11, 40], [0, 0, w, h], [w - 5, h - 5, w + 90, h + 90],
                              [30.4, 20.6, 80.5, 70.49]])  # outside, too thin, the whole frame, a corner, rounding
    groups = torch.from_numpy(rng.integers(0, len(frames), 300))
    table = cascade_ops.summed_area(planes)
    assert table.dtype == torch.int32 and int(table[:, :, -1, -1].max()) == int(planes.sum((2, 3)).max())
    for size in (24, 48):
        by_table = cascade_ops.crops(table, groups, boxes, size)
        by_box = cascade_ops.crops_by_box(images, groups, boxes, size)
        assert by_table.shape == by_box.shape == (300, 3, size, size)
        assert torch.allclose(by_table, by_box, atol=1e-5, rtol=0)
        assert not by_table[0].any() and not by_table[1].any()  # outside the frame / under 2 pixels: zero
        assert by_table[2].abs().sum() > 0


def test_pyramid_levels_from_the_summed_area_table_equal_area_resizes_of_the_float_frames():
    frames = smile_frames()
    planes = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
    images = (planes.float() - cascade_ops.PIXEL_MEAN) * cascade_ops.PIXEL_SCALE
    table = cascade_ops.summed_area_host(frames)
    assert table.dtype == torch.int32 and torch.equal(table, cascade_ops.summed_area(planes))
    h, w = frames.shape[1:3]
    # the detector's own pyramid, odd and equal sizes, and bins too big for float32 sums (1 x 1: the whole frame)
    sizes = [(int(h * s + 1), int(w * s + 1)) for s in 0.375 * 0.709 ** np.arange(8)] + [(h, w), (7, 300), (1, 1)]
    for size in sizes:
        level = cascade_ops.area_resized(table, size)
        expected = torch.nn.functional.interpolate(images, size=size, mode="area")
        assert level.dtype == torch.float32 and level.shape == expected.shape
        assert torch.allclose(level, expected, atol=1e-6, rtol=0), size
        assert torch.equal(cascade_ops.area_resized(table, size, with_numpy=False), level)  # an accelerator's path
    assert torch.equal(cascade_ops.area_resized(table, (h, w)), images)  # bins of one pixel: the frames themselves
    # one bin of the whole frame: its sum passes float32's exact integers, so the mean is taken in float64
    exact = (planes.double().sum((2, 3)) - cascade_ops.PIXEL_MEAN * h * w) * cascade_ops.PIXEL_SCALE / (h * w)
    for with_numpy in (None, False):
        assert torch.equal(cascade_ops.area_resized(table, (1, 1), with_numpy)[:, :, 0, 0], exact.float())


def test_the_detector_finds_the_same_boxes_from_the_table_as_from_float_frames():
    import importlib.util

    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip("the MTCNN weights come from the facenet-pytorch wheel")
    from emoguide.recognition.face.detector import FaceDetector

    frames = smile_frames()
    detector = FaceDetector()
    assert detector.from_table  # the default
    by_table = detector.detect(frames)
    detector.from_table = False
    from_float = detector.detect(frames)
    for (boxes_a, scores_a), (boxes_b, scores_b) in zip(from_float, by_table):
        assert len(boxes_a) == len(boxes_b) == 1
        assert np.allclose(boxes_a, boxes_b, atol=1e-3) and np.allclose(scores_a, scores_b, atol=1e-5)
