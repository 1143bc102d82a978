"""The expression gate: anchors, bisection where the face or its reading changes, blending elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EXAMPLES

from emoguide.media.video import read_video_range
from emoguide.recognition.face.expression_gate import DEFAULT_GATE, ExpressionGate, gated_readings
from emoguide.recognition.face.recogniser import FaceRecogniser

RNG = np.random.default_rng(7)
PROJECTION = RNG.normal(size=(36, 7)).astype(np.float32) * 4


class Net:
    """A stand-in expression net that sees every 8×8 block of the crop, and counts what it reads."""

    def __init__(self):
        self.read = 0

    def __call__(self, crops):
        self.read += len(crops)
        blocks = crops.reshape(len(crops), 6, 8, 6, 8).mean(axis=(2, 4)).reshape(len(crops), 36)
        logits = (blocks - 0.5) @ PROJECTION
        e = np.exp(logits - logits.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True)).astype(np.float32)


def still_face(n: int) -> np.ndarray:
    return np.repeat(RNG.uniform(0.2, 0.8, (1, 48, 48)).astype(np.float32), n, axis=0)


def test_a_still_face_is_read_at_the_anchors_only_and_blended_exactly():
    crops, net = still_face(17), Net()
    probs, read = gated_readings(crops, np.arange(17), 4, net)
    assert np.flatnonzero(read).tolist() == [0, 4, 8, 12, 16] and net.read == 5
    np.testing.assert_allclose(probs, Net()(crops), atol=1e-6)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_a_brief_local_change_between_anchors_is_read_frame_by_frame():
    crops = still_face(13)
    crops[5:7, 24:32, 16:24] += 0.3  # a mouth corner for two frames: 1 % of the crop's mean, 0.3 in its block
    net = Net()
    probs, read = gated_readings(crops, np.arange(13), 4, net)
    assert read[[4, 5, 6, 7, 8]].all() and not read[[1, 2, 3, 9, 10, 11]].any()
    np.testing.assert_allclose(probs, Net()(crops), atol=1e-6)  # the blended frames really are unchanged
    # the same change judged on the whole crop's mean is too small to see: the blocks are what catch it
    whole = ExpressionGate(block=48)
    probs_whole, read_whole = gated_readings(crops, np.arange(13), 4, Net(), whole)
    assert not read_whole[5:7].any()
    assert np.abs(probs_whole[5] - Net()(crops[5:6])[0]).max() > 0.01


def test_a_changing_reading_is_bisected_and_blends_stay_probabilities():
    ramp = np.linspace(0.0, 0.6, 33, dtype=np.float32)[:, None, None]
    crops = np.clip(still_face(33) * 0.5 + ramp * (np.arange(48) / 48.0)[None, None, :], 0, 1).astype(np.float32)
    net = Net()
    truth = Net()(crops)
    assert np.abs(np.diff(truth[::8], axis=0)).max() > DEFAULT_GATE.max_prob_change  # the reading really moves
    probs, read = gated_readings(crops, np.arange(33), 8, net)
    assert read.sum() > 5  # more than the anchors 0, 8, 16, 24, 32
    for i in np.flatnonzero(~read):  # every blended frame sits between read neighbours that agree
        lo, hi = np.flatnonzero(read[:i])[-1], i + np.flatnonzero(read[i:])[0]
        assert np.abs(probs[lo] - probs[hi]).max() <= DEFAULT_GATE.max_prob_change
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert np.abs(probs - truth).max() < DEFAULT_GATE.max_prob_change


def test_nothing_is_blended_across_a_frame_without_a_face():
    first, second = still_face(5), still_face(4) * 0.5
    crops = np.concatenate([first, second])
    frame_index = np.array([0, 1, 2, 3, 4, 20, 21, 22, 23])
    probs, read = gated_readings(crops, frame_index, 4, Net())
    assert read[[0, 4, 5, 8]].all()  # each run's ends
    np.testing.assert_allclose(probs, Net()(crops), atol=1e-6)
    # the same face on both sides of the gap: only the split into runs makes frames 4 and 5 readings
    same = np.concatenate([first, first[:4]])
    probs, read = gated_readings(same, frame_index, 4, Net())
    assert read[[0, 4, 5, 8]].all() and not read[[1, 2, 3, 6, 7]].any()


def test_step_one_and_no_faces():
    crops, net = still_face(6), Net()
    probs, read = gated_readings(crops, np.arange(6), 1, net)
    assert read.all() and net.read == 6
    probs, read = gated_readings(np.zeros((0, 48, 48), np.float32), np.zeros(0, int), 4, Net())
    assert len(probs) == 0 and len(read) == 0
    assert DEFAULT_GATE.anchor_step(1 / 30) == 4 and DEFAULT_GATE.anchor_step(1 / 23.976) == 3
    assert DEFAULT_GATE.anchor_step(0.25) == 1  # sampled at 4 fps: every frame is read


@pytest.fixture(scope="module")
def face():
    return FaceRecogniser.load("cpu")


@pytest.mark.parametrize("clip", ["cremad_1001_DFA_angry.mp4", "crying_wolfganglanger.mp4"])
def test_real_footage_gated_reads_fewer_faces_with_the_same_windows_and_events(face, clip, monkeypatch):
    frames, times, _ = read_video_range(EXAMPLES / "media" / clip, 0.0, 4.0)
    frames = list(frames)
    full = face.analyze_frames(frames, times, detect_every=7, every_frame=True)
    calls = []
    classify = face.classify_crops
    monkeypatch.setattr(face, "classify_crops", lambda crops, *a, **k: calls.append(len(crops)) or classify(crops))
    gated = face.analyze_frames(frames, times, detect_every=7)
    faces = int(full.present.sum())
    assert faces > 30 and sum(calls) < 0.8 * faces
    assert np.array_equal(gated.present, full.present) and np.array_equal(gated.boxes, full.boxes, equal_nan=True)
    starts = np.arange(0.0, max(times[-1] - 1.0, 0.5), 1.0)
    w_full = face.aggregate(full, times, starts, starts + 2.0)
    w_gated = face.aggregate(gated, times, starts, starts + 2.0)
    assert np.abs(w_full.probs - w_gated.probs).max() < 0.03
    ev_full, ev_gated = face.spot(full, times), face.spot(gated, times)
    assert [e.label for e in ev_gated] == [e.label for e in ev_full]
    for a, b in zip(ev_full, ev_gated):
        assert a.onset_s < b.offset_s and b.onset_s < a.offset_s


def test_the_gate_sweep_benchmark_replays_exactly_what_a_gated_run_reads(face):
    """benchmarks/bench_gate_sweep.py scores 64 gates by replaying one every-frame reading per file; its
    held-out figures are only honest if a replay reads the same crops and gives the same readings as
    the recogniser's own gated run."""
    import sys

    sys.path.insert(0, str(EXAMPLES.parent / "benchmarks"))
    import bench_gate_sweep as sweep

    r = sweep.read_every_frame(face, EXAMPLES / "media" / "cremad_1001_DFA_happy.mp4")
    assert len(r["idx"]) > 30
    frames, n_read = sweep.replay(face, r, DEFAULT_GATE)
    assert n_read == r["gated_read"] < len(r["idx"])
    np.testing.assert_allclose(frames.probs, r["gated"].probs, atol=1e-5)
    assert sweep.replay(face, r, ExpressionGate(anchor_s=0.0))[1] == len(r["idx"])  # every frame an anchor
