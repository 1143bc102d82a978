"""The learned fusion's training terms (each modality alone, the pull toward no calibration) and the
fold split and rule that chose them (``training/fusion_select.py``); synthetic data, no corpus needed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from emoguide.labels import NUM_CLASSES
from emoguide.recognition.fusion_baselines import MODALITIES
from emoguide.training import fusion_select
from emoguide.training.fusion_data import Pool, make_pairs
from emoguide.training.fusion_fit import FitConfig, _alone_loss, fit
from emoguide.recognition.fusion_learned import GatedFusionNet

torch.set_num_threads(1)


def confused_pool(modality: str, n: int, seed: int, swap: tuple[int, int] | None = None) -> Pool:
    """Recogniser-like outputs, right 70 % of the time; ``swap`` exchanges two classes' names (a confusion)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, NUM_CLASSES, n)
    said = np.where(rng.random(n) < 0.7, y, rng.integers(0, NUM_CLASSES, n))
    if swap:
        a, b = swap
        said = np.where(said == a, b, np.where(said == b, a, said))
    logits = rng.normal(0, 0.5, (n, NUM_CLASSES))
    logits[np.arange(n), said] += 2.5
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Pool(modality, "synthetic", p.astype(np.float32), np.full(n, 0.9, np.float32), y,
                [f"03-01-01-01-{i:04d}-01-{17 + i % 4:02d}.flac" for i in range(n)])


def pools(seed: int = 0, swap=None) -> dict[str, Pool]:
    return {m: confused_pool(m, 600, seed + j, swap if m == "voice" else None) for j, m in enumerate(MODALITIES)}


def test_alone_loss_scores_present_modalities_only():
    torch.manual_seed(0)
    net = GatedFusionNet()
    P = torch.softmax(torch.randn(4, len(MODALITIES), NUM_CLASSES), -1)
    mask = torch.tensor([[1, 0, 1], [1, 1, 1], [0, 1, 0], [1, 0, 0]], dtype=torch.float32)
    y = torch.tensor([0, 3, 5, 6])
    z = net.calibrated(torch.log(P))
    rows, cols = torch.nonzero(mask, as_tuple=True)
    expected = torch.nn.functional.cross_entropy(z[rows, cols], y[rows])
    assert torch.allclose(_alone_loss(net, P, mask, y), expected)
    scrambled = P.clone()
    scrambled[mask == 0] = torch.softmax(torch.randn(int((mask == 0).sum()), NUM_CLASSES), -1)
    assert torch.allclose(_alone_loss(net, scrambled, mask, y), expected)  # absent rows carry no loss


def test_identity_pull_keeps_calibrations_near_no_change():
    """A voice pool that systematically says 'sad' (3) for 'angry' (4): a free calibration learns the swap."""
    data = pools(swap=(4, 3))
    pairs, _ = make_pairs(data, 1200, 0)
    cfg = FitConfig(epochs=12, seed=0, aux_weight=1.0)
    free = fit("learned", pairs, data, dataclasses.replace(cfg, identity_pull=0.0))
    pulled = fit("learned", pairs, data, dataclasses.replace(cfg, identity_pull=10.0))
    eye = torch.eye(NUM_CLASSES)
    drift = [float((net.calib_w.detach() - eye).abs().max()) for net in (free, pulled)]
    assert drift[1] < 0.1 < drift[0]


def test_alone_term_teaches_a_lone_modality_to_read_by_itself():
    """Trained only on windows with every modality present, the fused loss never asks the voice's
    calibration to classify alone; the alone term does, and the lone voice then undoes its confusion."""
    from emoguide.training.fusion_data import Augment

    train, held = pools(0, swap=(3, 4)), pools(50, swap=(3, 4))
    pairs, _ = make_pairs(train, 1500, 0)
    voice_only = make_pairs(held, 1500, 1)[0].only("voice")
    raw = float((voice_only.P[:, MODALITIES.index("voice")].argmax(1) == voice_only.y).mean())
    accs = {}
    for weight in (0.0, 1.0):
        cfg = FitConfig(epochs=15, seed=0, aux_weight=weight, identity_pull=0.0)
        net = fit("learned", pairs, train, cfg, Augment(p_drop=0.0, p_mismatch=0.0, p_degrade=0.0))
        with torch.inference_mode():
            logits, _ = net(*(torch.as_tensor(a) for a in (voice_only.P, voice_only.mask, voice_only.rel)))
        accs[weight] = float((logits.argmax(1).numpy() == voice_only.y).mean())
    assert accs[1.0] > max(raw, accs[0.0]) + 0.05


def test_two_folds_split_voice_by_actor_and_the_rest_in_halves():
    folds = fusion_select.two_folds(pools())
    actors = [{fusion_select.ravdess_actor(i) for i in f["voice"].ids} for f in folds]
    assert actors == [{17, 18}, {19, 20}]
    for m in ("face", "text"):
        ids = [set(f[m].ids) for f in folds]
        assert not ids[0] & ids[1] and len(ids[0]) + len(ids[1]) == 600 and abs(len(ids[0]) - len(ids[1])) <= 1


def test_the_rule_needs_half_a_point_and_no_loss_with_all_present():
    def accs(present, missing):
        return {"all present": present, "random missing": missing}

    means = {"current": accs(0.760, 0.644), "small gain": accs(0.763, 0.646), "early (ref.)": accs(0.90, 0.90)}
    assert fusion_select.choose(means) == "current"  # +0.25 points: not enough; references never chosen
    means["trades present away"] = accs(0.750, 0.680)
    assert fusion_select.choose(means) == "current"  # score +1.3 points, but 1 point lower with all present
    means["clear gain"] = accs(0.781, 0.668)
    means["smaller clear gain"] = accs(0.770, 0.660)
    assert fusion_select.choose(means) == "clear gain"
    assert fusion_select.score(means["clear gain"]) == pytest.approx(0.7245)
