"""The learned fusion, its baselines and training helpers, on constructed inputs (no data needed)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from emoguide.labels import LABEL_INDEX, NUM_CLASSES
from emoguide.recognition import base, fusion
from emoguide.recognition.base import ModalityResult, WeightsError, sha256_of
from emoguide.recognition.fusion_baselines import BASELINE_NETS, MODALITIES, average_probs, stack_results
from emoguide.recognition.fusion_learned import GatedFusionNet, LearnedFusion
from emoguide.training.fusion_data import Pool, augment, make_pairs
from emoguide.training.fusion_fit import FitConfig, fit, method_probs

torch.set_num_threads(1)


def onehot(label, n=1, p=0.9):
    probs = np.full((n, NUM_CLASSES), (1 - p) / (NUM_CLASSES - 1), dtype=np.float32)
    probs[:, LABEL_INDEX[label]] = p
    return probs


def result(label, present=True, reliability=1.0, n=1, p=0.9):
    return ModalityResult(probs=onehot(label, n, p), confidence=np.full(n, p * reliability, np.float32),
                          present=np.full(n, present), reliability=np.full(n, reliability, np.float32))


def synthetic_pool(modality, strength, n, seed, rel_mean):
    """Recogniser-like outputs whose evidence for the true class grows with their reliability."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, NUM_CLASSES, n)
    rel = np.clip(rng.normal(rel_mean, 0.25, n), 0.05, 1).astype(np.float32)
    logits = rng.normal(0, 1, (n, NUM_CLASSES))
    logits[np.arange(n), y] += strength * rel
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    return Pool(modality, "synthetic", p.astype(np.float32), rel, y, [str(i) for i in range(n)])


def synthetic_pools(seed):
    return {"face": synthetic_pool("face", 3.0, 800, seed, 0.7), "voice": synthetic_pool("voice", 2.5, 300, seed + 1, 0.7),
            "text": synthetic_pool("text", 1.0, 800, seed + 2, 0.5)}


@pytest.fixture(scope="module")
def trained():
    """A learned fusion trained for a few seconds on synthetic recogniser outputs."""
    pools = synthetic_pools(0)
    pairs, _ = make_pairs(pools, 1500, 0)
    net = fit("learned", pairs, pools, FitConfig(epochs=25, seed=0))
    return LearnedFusion(net, "test")


@pytest.fixture()
def untrained():
    torch.manual_seed(0)
    return LearnedFusion(GatedFusionNet(), "untrained")


@pytest.mark.parametrize("present", [s for k in range(4) for s in itertools.combinations(MODALITIES, k)])
def test_any_subset_of_modalities(untrained, present):
    n = 3
    results = {m: (result("happy", n=n) if m in present else ModalityResult.absent(n)) for m in MODALITIES}
    fused = untrained.fuse(results)
    assert fused.probs.shape == (n, NUM_CLASSES) and fused.vad.shape == (n, 3)
    assert fused.confidence.shape == (n,) and fused.disagreement.shape == (n,)
    assert np.allclose(fused.probs.sum(1), 1.0, atol=1e-5)
    total = sum(fused.contributions[m] for m in MODALITIES)
    for m in MODALITIES:
        assert fused.contributions[m].shape == (n,)
        if m not in present:
            assert np.all(fused.contributions[m] == 0.0)
    if present:
        assert np.allclose(total, 1.0, atol=1e-5)
        assert np.all(fused.confidence > 0)
    else:
        assert np.allclose(fused.probs, 1.0 / NUM_CLASSES)
        assert np.all(fused.confidence == 0) and np.allclose(total, 0.0)
        assert np.allclose(fused.vad, 0.0)
    assert fused.method == "learned"


def test_only_some_modalities_given(untrained):
    fused = untrained.fuse({"voice": result("sad", n=2)})
    assert set(fused.contributions) == {"voice"}
    assert np.allclose(fused.contributions["voice"], 1.0)
    with pytest.raises(ValueError):
        untrained.fuse({})
    with pytest.raises(ValueError):
        untrained.fuse({"smell": result("sad")})


def test_reliable_modality_dominates(trained):
    confident = {"face": result("happy", reliability=1.0), "voice": result("sad", reliability=0.05),
                 "text": ModalityResult.absent(1)}
    fused = trained.fuse(confident)
    assert fused.probs[0].argmax() == LABEL_INDEX["happy"]
    assert fused.contributions["face"][0] > fused.contributions["voice"][0]
    flipped = trained.fuse({"face": result("happy", reliability=0.05), "voice": result("sad", reliability=1.0)})
    assert flipped.probs[0].argmax() == LABEL_INDEX["sad"]
    assert flipped.contributions["voice"][0] > flipped.contributions["face"][0]
    assert fused.disagreement[0] > 0.5 and fused.disagreeing_pair[0] == "face~voice"


def test_learned_beats_plain_averaging_on_synthetic_held_out(trained):
    """Reliability and a weak modality carry information plain averaging throws away."""
    test = synthetic_pools(100)
    pairs, _ = make_pairs(test, 3000, 1)
    nets = {"learned": trained.net}
    acc_learned = (method_probs("learned", pairs, nets).argmax(1) == pairs.y).mean()
    acc_avg = (method_probs("average", pairs, nets).argmax(1) == pairs.y).mean()
    assert acc_learned > acc_avg + 0.015


def test_baselines_shapes_and_average():
    P = np.random.default_rng(0).dirichlet(np.ones(NUM_CLASSES), size=(4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1], [1, 0, 0], [0, 1, 1], [0, 0, 1]], np.float32)
    for cls in BASELINE_NETS.values():
        out = cls()(torch.as_tensor(P), torch.as_tensor(mask), torch.as_tensor(mask * 0.7))
        assert out.shape == (4, NUM_CLASSES) and torch.isfinite(out).all()
    avg = average_probs(P, mask)
    assert np.allclose(avg[1], P[1, 0]) and np.allclose(avg[2], P[2, 1:].mean(0))
    assert np.allclose(average_probs(P, np.zeros_like(mask)), 1.0 / NUM_CLASSES)


def test_baseline_masking_ignores_absent_placeholders():
    torch.manual_seed(0)
    for cls in BASELINE_NETS.values():
        net = cls()
        P = np.random.default_rng(1).dirichlet(np.ones(NUM_CLASSES), size=(2, 3)).astype(np.float32)
        mask = np.array([[1, 0, 1], [1, 0, 1]], np.float32)
        P[1, 1] = np.eye(NUM_CLASSES, dtype=np.float32)[3]  # garbage where absent
        P[1, [0, 2]] = P[0, [0, 2]]
        out = net(torch.as_tensor(P), torch.as_tensor(mask), torch.as_tensor(mask * 0.5))
        assert torch.allclose(out[0], out[1], atol=1e-6)


def test_stack_results_zeroes_absent_rows():
    res = {"face": ModalityResult(probs=onehot("sad", 2), confidence=np.ones(2, np.float32),
                                  present=np.array([True, False]), reliability=np.array([0.8, 0.9], np.float32))}
    P, mask, rel = stack_results(res)
    assert P.shape == (2, 3, NUM_CLASSES)
    assert mask.tolist() == [[1, 0, 0], [0, 0, 0]]
    assert rel[0, 0] == pytest.approx(0.8) and rel[1, 0] == 0.0
    assert np.allclose(P[1, 0], 1.0 / NUM_CLASSES)


def test_make_pairs_share_the_label_and_augment_keeps_targets():
    pools = synthetic_pools(3)
    pairs, idx = make_pairs(pools, 200, 0)
    for j, m in enumerate(MODALITIES):
        assert np.all(pools[m].y[idx[:, j]] == pairs.y)
    aug = augment(pairs, pools, np.random.default_rng(0))
    assert np.all(aug.y == pairs.y)
    assert np.all(aug.mask.sum(1) >= 1)
    assert 0.5 < aug.mask.mean() < 0.8
    assert np.all(aug.rel[aug.mask == 0] == 0)


def _write_weights(tmp_path):
    torch.manual_seed(0)
    net = GatedFusionNet()
    path = tmp_path / "fusion.pt"
    torch.save({"state_dict": net.state_dict(), "config": {"hidden": net.hidden}, "meta": {}}, path)
    return path


def test_checksum_verified_loading(tmp_path):
    path = _write_weights(tmp_path)
    good = LearnedFusion.load(path, expected_sha256=sha256_of(path))
    assert good.version.startswith("learned-")
    with pytest.raises(WeightsError):
        LearnedFusion.load(path, expected_sha256="0" * 64)
    with pytest.raises(WeightsError):
        LearnedFusion.load(tmp_path / "missing.pt")


def test_default_fusion_prefers_learned_when_weights_ship(tmp_path, monkeypatch):
    path = _write_weights(tmp_path)
    monkeypatch.setattr(base, "WEIGHTS_DIR", tmp_path)
    (tmp_path / "checksums.json").write_text(json.dumps({"fusion.pt": sha256_of(path)}))
    assert fusion.default_fusion().name == "learned"
    assert "learned" in fusion.FUSIONS
    (tmp_path / "checksums.json").write_text(json.dumps({"fusion.pt": "0" * 64}))  # corrupt → visible fallback
    assert fusion.default_fusion().name == "late"
    path.unlink()
    assert fusion.default_fusion().name == "late"


def test_shipped_weights_behave_if_present():
    if not (base.WEIGHTS_DIR / "fusion.pt").is_file():
        pytest.skip("fusion.pt not shipped yet")
    shipped = fusion.default_fusion()
    assert shipped.name == "learned"
    fused = shipped.fuse({"face": result("happy", reliability=1.0), "voice": result("sad", reliability=0.05),
                          "text": ModalityResult.absent(1)})
    assert fused.probs[0].argmax() == LABEL_INDEX["happy"]
    assert fused.contributions["face"][0] > fused.contributions["voice"][0]


# ---------------------------------------------------------------- evaluation helpers
def test_add_noise_hits_the_requested_snr():
    from emoguide.evaluation.robustness import add_noise, white_noise

    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 400, 16000)).astype(np.float32) * 0.3
    for snr in (20.0, 10.0, 0.0):
        noisy = add_noise(clean, snr, white_noise(len(clean), rng))
        noise = noisy - clean
        measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
        assert measured == pytest.approx(snr, abs=0.05)


def test_image_degradations():
    from emoguide.evaluation.robustness import blur, clutter_backgrounds, low_light
    from emoguide.training.fusion_sources import CANVAS_PX, FACE_PX, face_frames

    rng = np.random.default_rng(0)
    faces = np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (3, 48, 1))
    faces[:, 20:28, 20:28] = 255
    assert blur(faces).shape == faces.shape and np.abs(blur(faces).astype(int) - faces).max() > 20
    dark = low_light(faces, rng)
    assert dark.dtype == np.uint8 and dark.mean() < 0.4 * faces.mean()
    plain = face_frames(faces)
    busy = face_frames(faces, clutter_backgrounds(3, CANVAS_PX, rng))
    assert plain.shape == busy.shape == (3, CANVAS_PX, CANVAS_PX, 3)
    off = (CANVAS_PX - FACE_PX) // 2
    assert np.array_equal(plain[:, off:-off, off:-off], busy[:, off:-off, off:-off])  # same face
    assert plain[:, :off].std() == 0 and busy[:, :off].std() > 10  # plain wall vs clutter


def test_crema_vote_parsing():
    from emoguide.evaluation.crema_d import intended, vote_labels

    assert intended("1001_DFA_ANG_XX") == "angry"
    assert intended("1002_IEO_NEU_XX.wav") == "neutral"
    assert vote_labels("A:N") == {"angry", "neutral"}
    assert vote_labels("D") == {"disgust"}


def test_crema_crowd_majority_from_summary(shared_data):
    from emoguide.evaluation.crema_d import crowd_majority_accuracy, read_summary

    crowd = crowd_majority_accuracy(read_summary(shared_data))
    assert crowd["both"][1] > 7000
    # the crowd hears the voice worst and does best with both, as CREMA-D reports per rater
    assert crowd["voice"][0] < crowd["face"][0] < crowd["both"][0]


def test_shipped_fusion_beats_plain_averaging_on_cached_held_out_pairs():
    """Data-dependent but cheap: reuses the /tmp prediction cache that `emoguide eval --task fusion` writes."""
    from emoguide.training.fusion import test_sets
    from emoguide.training.fusion_data import CACHE_DIR

    files = {"face": ("face_expression.pt", "PrivateTest"), "voice": ("voice_emotion.pt", "actors21-24"),
             "text": ("text_emotion.pt", "meld_test")}
    pools = {}
    for m, (weights, split) in files.items():
        w = base.WEIGHTS_DIR / weights
        # cache names carry the recogniser version: the weights' hash, plus "+…" for attached VAD heads
        found = sorted(CACHE_DIR.glob(f"{m}_{split}_{sha256_of(w)[:12]}*.npz")) if w.is_file() else []
        cached = found[-1] if found else None
        if cached is None or not (base.WEIGHTS_DIR / "fusion.pt").is_file():
            pytest.skip("shipped weights or cached held-out predictions absent (run `emoguide eval --task fusion`)")
        pools[m] = Pool.load(cached)
    shipped = LearnedFusion.load()
    sets = test_sets(pools)
    for cond in ("all present", "random missing"):
        ps = sets[cond]
        learned = (shipped.forward_arrays(ps.P, ps.mask, ps.rel)[0].argmax(1) == ps.y).mean()
        averaged = (average_probs(ps.P, ps.mask).argmax(1) == ps.y).mean()
        assert learned > averaged, cond
    # alone, a modality is read at least as well as its recogniser reads it (the fusion used to lose 7 points
    # on a lone voice: fusion.md)
    for m in MODALITIES:
        ps = sets[f"{m} only"]
        learned = (shipped.forward_arrays(ps.P, ps.mask, ps.rel)[0].argmax(1) == ps.y).mean()
        alone = (ps.P[:, MODALITIES.index(m)].argmax(1) == ps.y).mean()
        assert learned >= alone, m


def test_the_card_states_the_learned_fusions_standing_from_the_method_table():
    from emoguide.training.fusion import Table
    from emoguide.training.fusion_card import how_it_compares

    table = Table("fusion methods on label-paired held-out windows", ["method", "condition", "n", "acc"])
    for method, present, missing in [("learned", 0.858, 0.745), ("early", 0.867, 0.742), ("late", 0.786, 0.677)]:
        table.rows += [[method, "all present", 3000, present], [method, "random missing", 3000, missing]]
    text = how_it_compares(["a unimodal report", table])
    assert text.startswith("The learned fusion leads every baseline with modalities missing, **not** with all present:")
    assert "all modalities present it reaches 85.8%, behind early fusion 86.7% (+0.9 points) and ahead of " \
           "reliability-weighted late fusion 78.6%" in text
    assert "random modalities missing it reaches 74.5%, ahead of early fusion 74.2%" in text
    table.rows[2][3] = 0.85  # early fusion below the learned one with all present, still ahead with some missing
    table.rows[3][3] = 0.75
    assert how_it_compares([table]).startswith(
        "The learned fusion leads every baseline with all modalities present, **not** with modalities missing:")
    table.rows[3][3] = 0.74  # below it everywhere
    assert how_it_compares([table]).startswith("The learned fusion leads every baseline:")
    table.rows[2][3], table.rows[3][3] = 0.87, 0.75  # ahead of it everywhere
    assert how_it_compares([table]).startswith("The learned fusion does **not** beat every baseline:")
    assert how_it_compares([]) == "The method comparison was not run."
