"""Text recogniser: shipped weights give sensible classes, batching is exact, weights are verified."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import copy_weights, flip_a_byte

from emoguide.labels import LABELS, NUM_CLASSES
from emoguide.recognition import base
from emoguide.recognition.base import REGISTRY, WeightsError, sha256_of
from emoguide.recognition.text.recogniser import WEIGHTS_FILE, TextRecogniser, count_words, reliability_from_words


@pytest.fixture(scope="module")
def rec() -> TextRecogniser:
    import torch

    torch.set_num_threads(1)
    return TextRecogniser.load(device="cpu")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("I am so happy, this is wonderful!", "happy"),
        ("I hate you, get out!", "angry"),
        ("I miss her so much, I can't stop crying", "sad"),
    ],
)
def test_clear_sentences_get_their_class(rec, text, expected):
    res = rec.predict([text])
    assert LABELS[int(res.probs[0].argmax())] == expected, dict(zip(LABELS, res.probs[0].round(3)))
    assert res.present[0] and res.confidence[0] > 0


def test_output_shapes_and_distributions(rec):
    texts = ["What? No way!", "The meeting is at noon.", "That is disgusting, gross."]
    res = rec.predict(texts)
    assert res.probs.shape == (3, NUM_CLASSES)
    np.testing.assert_allclose(res.probs.sum(1), 1.0, atol=1e-5)
    assert res.extras["goemotions_probs"].shape == (3, 28)
    assert np.all((res.extras["goemotions_probs"] >= 0) & (res.extras["goemotions_probs"] <= 1))
    np.testing.assert_array_equal(res.extras["n_words"], [3, 5, 4])
    assert rec.spec.modality == "text" and len(rec.spec.version.split("+")[0]) == 12


def test_empty_text_is_absent(rec):
    res = rec.predict(["", "   ", "?!", "hello there"])
    np.testing.assert_array_equal(res.present, [False, False, False, True])
    np.testing.assert_allclose(res.probs[:3], 1.0 / NUM_CLASSES)
    assert np.all(res.reliability[:3] == 0) and np.all(res.confidence[:3] == 0)
    assert np.all(res.extras["goemotions_probs"][:3] == 0)
    assert res.reliability[3] > 0
    assert rec.predict([]).probs.shape == (0, NUM_CLASSES)


def test_batch_of_64_equals_one_by_one(rec):
    subjects = ["I", "My brother", "The whole team", "She", "Nobody here", "We", "You", "They"]
    endings = ["won the prize today!", "lost everything in the fire.", "can't believe you did that to me",
               "am terrified of what comes next", "ate the mouldy bread, yuck", "went to the shop",
               "finally got the job we wanted so badly after months of waiting and hoping", "what"]
    texts = [f"{s} {e}" for s in subjects for e in endings]
    assert len(texts) == 64
    batch = rec.predict(texts)
    for i, t in enumerate(texts):
        one = rec.predict([t])
        np.testing.assert_allclose(batch.probs[i], one.probs[0], atol=2e-5)
        np.testing.assert_allclose(batch.extras["goemotions_probs"][i], one.extras["goemotions_probs"][0], atol=2e-5)
        assert batch.extras["vader_compound"][i] == one.extras["vader_compound"][0]


def test_version_is_weights_hash(rec):
    # "<text weights hash>" or "<text weights hash>+v<valence head hash>" when the valence head ships
    assert rec.spec.version.split("+")[0] == sha256_of(base.WEIGHTS_DIR / WEIGHTS_FILE)[:12]
    assert REGISTRY["text"] is not None


def test_corrupted_weights_fail_checksum(tmp_path, monkeypatch):
    flip_a_byte(copy_weights(tmp_path, monkeypatch, WEIGHTS_FILE))
    sums = json.loads((tmp_path / "checksums.json").read_text())
    with pytest.raises(WeightsError, match="checksum"):
        TextRecogniser.load(device="cpu")
    with pytest.raises(WeightsError):
        TextRecogniser.load(device="cpu", weights_path=tmp_path / WEIGHTS_FILE, expected_sha256=sums[WEIGHTS_FILE])


def test_vader_sign(rec):
    res = rec.predict(["This is a great, lovely day!", "This is terrible, I am furious and miserable."])
    assert res.extras["vader_compound"][0] > 0.3
    assert res.extras["vader_compound"][1] < -0.3


def test_reliability_grows_and_saturates():
    n = np.arange(0, 60)
    r = reliability_from_words(n)
    assert r[0] == 0 and np.all(np.diff(r) > 0) and r[-1] < 1.0 and r[30] > 0.99
    assert count_words("Hello, world -- it's me!") == 5
