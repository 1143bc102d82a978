"""The CUDA path gives the CPU path's answers: face detection, expression, the voice encoder, face training.

CI has no GPU, so these skip there; they run where torch sees one (the device tool's machine:
``scripts/device_checks.sh``). They need only torch, numpy, Pillow and facenet-pytorch's
weights: no PyAV, so two frames of ``examples/media/single_face_smile.mp4`` sit in
``tests/data`` as JPEGs. GPU convolutions and matrix products run in TF32 by default, so the
comparisons allow TF32's rounding (about 1e-3 relative) rather than demand equality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU path is checked on one")

FRAMES = [Path(__file__).parent / "data" / f"smile_{t}.jpg" for t in ("start", "end")]


def smile_frames() -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in FRAMES])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_the_face_recogniser_on_cuda_finds_the_same_face_and_reads_it_the_same():
    import importlib.util

    if importlib.util.find_spec("facenet_pytorch") is None:  # found, not imported (it would want torchvision)
        pytest.skip("the MTCNN weights come from the facenet-pytorch wheel")
    from emoguide.labels import LABEL_INDEX
    from emoguide.recognition.face.recogniser import FaceRecogniser

    frames, times = smile_frames(), np.array([0.0, 2.37])
    cpu, gpu = FaceRecogniser.load("cpu"), FaceRecogniser.load("cuda")
    assert next(gpu.expression.parameters()).is_cuda
    found_cpu, found_gpu = cpu.detector.detect(frames), gpu.detector.detect(frames)
    for (boxes_c, _), (boxes_g, _) in zip(found_cpu, found_gpu):
        assert len(boxes_c) == len(boxes_g) == 1
        assert iou(boxes_c[0], boxes_g[0]) > 0.95
    on_cpu, on_gpu = cpu.analyze_frames(frames, times), gpu.analyze_frames(frames, times)
    assert on_gpu.present.all()
    # the CPU runs the int8 copies, the GPU the float nets: close, not equal (see face_expression.md)
    assert np.abs(on_cpu.probs - on_gpu.probs).max() < 0.1
    happy = LABEL_INDEX["happy"]
    assert on_gpu.probs[1, happy] > on_gpu.probs[0, happy] + 0.1  # the smile (0.07 -> 0.24 on the CPU)


def test_the_cascade_box_arithmetic_on_cuda_gives_the_cpu_answers():
    """Suppression, crops and the pyramid's levels run on the device there."""
    from test_face_cascade_ops import random_boxes

    from emoguide.recognition.face import cascade_ops

    rng = np.random.default_rng(11)
    for mode in ("union", "min"):
        for _ in range(20):
            boxes, scores, groups = random_boxes(rng, int(rng.integers(1, 300)), 8)
            on_cpu = cascade_ops.batched_nms(boxes, scores, groups, 0.5, mode)
            on_gpu = cascade_ops.batched_nms(boxes.cuda(), scores.cuda(), groups.cuda(), 0.5, mode)
            assert on_gpu.is_cuda and on_gpu.cpu().tolist() == on_cpu.tolist()
    planes = torch.from_numpy(smile_frames()).permute(0, 3, 1, 2).contiguous()
    images = (planes.float() - cascade_ops.PIXEL_MEAN) * cascade_ops.PIXEL_SCALE
    boxes = torch.tensor([[100.0, 40, 260, 200], [-20, -20, 60, 90], [300, 200, 520, 420]])
    groups = torch.tensor([0, 1, 1])
    by_box = cascade_ops.crops_by_box(images, groups, boxes, 48)
    table = cascade_ops.summed_area(planes.cuda())
    on_gpu = cascade_ops.crops(table, groups.cuda(), boxes.cuda(), 48)
    assert on_gpu.is_cuda and torch.allclose(on_gpu.cpu(), by_box, atol=1e-5, rtol=0)
    host_table = cascade_ops.summed_area_host(smile_frames())
    for size in ((101, 181), (13, 22), (1, 1)):  # P-Net's pyramid levels, read from the table on the device
        level, on_host = cascade_ops.area_resized(table, size), cascade_ops.area_resized(host_table, size)
        assert level.is_cuda and torch.allclose(level.cpu(), on_host, atol=1e-6, rtol=0)


def test_the_expression_nets_in_float_agree_across_devices():
    from emoguide.recognition.face.expression import load_expression_net

    crops = torch.from_numpy(np.random.default_rng(0).random((64, 1, 48, 48), np.float32))
    cpu, gpu = load_expression_net("cpu", int8=False), load_expression_net("cuda")
    with torch.inference_mode():
        p_cpu, p_gpu = cpu(crops).exp(), gpu(crops.cuda()).exp().cpu()  # log-probabilities in
    assert p_gpu.shape == p_cpu.shape
    assert torch.allclose(p_cpu, p_gpu, atol=2e-2)
    assert (p_cpu.argmax(1) == p_gpu.argmax(1)).float().mean() >= 0.95


def test_the_voice_encoder_follows_the_device_and_returns_the_cpu_frames(monkeypatch):
    from emoguide.recognition.voice import whisper_torch

    torch.manual_seed(0)
    cpu = whisper_torch.WhisperEncoder().eval()
    gpu = whisper_torch.WhisperEncoder().eval()
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.cuda()
    rng = np.random.default_rng(0)
    # log-mel comes from faster-whisper; the device path under test starts after it
    monkeypatch.setattr(whisper_torch, "log_mel",
                        lambda audio, frames: rng.standard_normal((80, 2 * frames)).astype(np.float32))
    audio = np.zeros(9 * 16000, np.float32)
    rng = np.random.default_rng(0)
    on_cpu = whisper_torch.encode_layer_chunked(audio, 2, encoder=cpu)
    rng = np.random.default_rng(0)
    on_gpu = whisper_torch.encode_layer_chunked(audio, 2, encoder=gpu)
    assert on_gpu.dtype == np.float32 and on_gpu.shape == on_cpu.shape == (450, 384)
    assert np.abs(on_cpu - on_gpu).max() < 5e-2 * np.abs(on_cpu).max()

    backbone = whisper_torch.LayeredBackbone(object(), 2, cpu, with_last=False)
    monkeypatch.setattr(whisper_torch, "load_encoder", lambda device="cpu": cpu.to(device))
    assert backbone.to("cuda").encoder.positions.is_cuda  # what VoiceRecogniser.to("cuda") cascades to


def test_face_training_runs_on_cuda_and_resumes_with_the_cuda_random_state(tmp_path):
    from test_face_training import fake_fer

    from emoguide.training import face

    data = fake_fer(tmp_path / "data")
    result = face.train(data, tmp_path / "out", epochs=2, batch=8, width=4, device="cuda", cache_dir=tmp_path / "c")
    member = torch.load(result["path"], map_location="cpu", weights_only=False)
    assert result["device"] == "cuda" and member["recipe"]["device"] == "cuda"
    assert member["run"]["where"] == torch.cuda.get_device_name()
    assert [h["epoch"] for h in member["history"]] == [1, 2]
    assert all(not v.is_cuda for v in member["state_dict"].values())  # a member file loads on any machine
