"""The expression classifier as shipped: an ensemble of nets, run as calibrated int8 copies on the CPU.

The int8 copies must be the shipped nets up to quantisation error (checked on real FER2013
faces), their calibrated state must survive the weight file, and the ensemble must average
its members the way its docstring says.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from emoguide.recognition.face import int8
from emoguide.recognition.face.expression import ExpressionClassifier, ExpressionNet, load_expression_net

pytestmark = pytest.mark.skipif(not int8.available(), reason="this torch has no x86 int8 kernels")

FER_FOLDERS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def fer_faces(shared_data, per_class: int = 40) -> np.ndarray:
    """The first ``per_class`` PrivateTest faces of each label, as the net takes them: (N, 1, 48, 48) 0..1."""
    faces = []
    for label in FER_FOLDERS:
        for path in sorted((shared_data / "fer2013" / "PrivateTest" / label).glob("*.jpg"))[:per_class]:
            faces.append(np.asarray(Image.open(path).convert("L").resize((48, 48)), np.float32) / 255)
    return torch.from_numpy(np.stack(faces)).unsqueeze(1)


def test_the_shipped_int8_copies_read_real_faces_as_the_float_nets_do(shared_data):
    shipped = load_expression_net("cpu")
    assert shipped.int8_members and len(shipped.int8_members) == len(shipped.members)
    as_float = ExpressionClassifier(list(shipped.members))  # the same nets without their int8 copies
    x = fer_faces(shared_data)
    with torch.inference_mode():
        p_int8, p_float = shipped(x).softmax(1), as_float(x).softmax(1)
    agree = float((p_int8.argmax(1) == p_float.argmax(1)).float().mean())
    assert agree >= 0.95, f"int8 and float agree on only {agree:.1%} of {len(x)} faces"
    assert float((p_int8 - p_float).abs().mean()) < 0.02


def test_a_calibrated_int8_state_survives_the_weight_file(tmp_path):
    torch.manual_seed(0)
    net = ExpressionNet(width=4).eval()
    faces = (np.random.default_rng(0).random((64, 48, 48)) * 255).astype(np.uint8)
    path = tmp_path / "w.pt"
    torch.save({"state": int8.calibrate(net, faces)}, path)
    reloaded = int8.from_state(net, torch.load(path, weights_only=False)["state"])
    again = int8.from_state(net, int8.calibrate(net, faces))
    x = torch.from_numpy(faces[:8]).float().div(255).unsqueeze(1)
    with torch.inference_mode():
        np.testing.assert_array_equal(reloaded(x).numpy(), again(x).numpy())  # calibration is deterministic
        logits_float, logits_int8 = net(x), reloaded(x)
    assert logits_int8.shape == (8, 7)
    assert float((logits_int8 - logits_float).abs().max()) < 0.1 * float(logits_float.abs().max()) + 0.05


def test_an_ensemble_averages_its_members_log_probabilities_and_one_member_is_itself():
    torch.manual_seed(0)
    a, b = ExpressionNet(width=4).eval(), ExpressionNet(width=4).eval()
    x = torch.rand(5, 1, 48, 48)
    with torch.inference_mode():
        alone = ExpressionClassifier([a])(x)
        pair = ExpressionClassifier([a, b])(x)
        torch.testing.assert_close(alone.softmax(1), a(x).softmax(1))
        expected = ((a(x).log_softmax(1) + b(x).log_softmax(1)) / 2).softmax(1)
        torch.testing.assert_close(pair.softmax(1), expected)
        # on the CPU the int8 copies are what runs, when there are any
        both = ExpressionClassifier([a], [b])
        torch.testing.assert_close(both(x), b(x).log_softmax(1))


def test_int8_state_that_does_not_load_falls_back_to_the_float_net_with_a_warning(caplog):
    from emoguide.recognition.face.expression import build_classifier

    net = ExpressionNet(width=4).eval()
    checkpoint = {"state_dict": net.state_dict(), "width": 4, "int8": {"not": torch.zeros(1)}}
    with caplog.at_level("WARNING"):
        classifier = build_classifier(checkpoint, "cpu")
    assert classifier.int8_members == [] and len(classifier.members) == 1
    assert "int8 copies did not load" in caplog.text
    x = torch.rand(3, 1, 48, 48)
    with torch.inference_mode():
        torch.testing.assert_close(classifier(x).softmax(1), net(x).softmax(1), atol=1e-5, rtol=1e-4)
