"""Choose the fusion's training recipe without touching fusion-test (``python -m emoguide.training.fusion_select``).

Why: fusion-test (FER2013 PrivateTest, RAVDESS actors 21-24, MELD test) is scored once, for the
card. A recipe change has to be judged elsewhere, so this splits the fusion-*train* pools in two
folds (RAVDESS by actor: 17-18 | 19-20; FER2013 PublicTest and MELD dev in seeded random halves,
as they have no person ids), trains each candidate on one fold's label-paired windows, scores it
on the other's, swaps, and repeats over seeds. It prints accuracy per condition (the same
conditions as ``emoguide eval --task fusion``) and applies the rule written below before any
candidate was scored.

The rule (fixed 2026-12-06, before the first run): the score is the mean over folds and seeds of
(accuracy with all modalities present + accuracy with random modalities missing) / 2. A candidate
replaces the current recipe only if its score beats the current one's by at least 0.5 points and
its all-present accuracy is no more than 0.5 points lower. Early and late fusion are printed for
reference only.

How the candidates came about (2026-12-06): the first run had "current", "alone 0.5" and
"alone 1.0" (each modality's calibrated logits also scored on their own); alone 1.0 cleared the
rule by 0.6 points. That run also showed every trained method reading a lone voice *worse* than
the voice recogniser itself (late fusion's "voice only" is the recogniser: 0.68 vs 0.60-0.62):
the free 7×7 calibrations learn the confusions of a few actors. The identity-pull candidates were
added then, on these folds only; fusion-test was not read for any of it. "alone 1.0, near-I 0.1"
had the best score (0.725 vs 0.702) and ships; its neighbours (0.03, 0.3, alone 0.5) scored 0.721-0.722.
The same day the face crop's framing changed (``expression.BOX_EXPAND`` +0.15 → -0.05, which moves
every face reading), so the run was repeated on the new face predictions: the same winner, 0.760 vs
0.740 (the table in ``weights/fusion_selection.txt``). A pull scaled per modality by 1/pool size,
tried on the old predictions, scored 0.728: under the margin, not taken.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from emoguide.training.fusion import DEFAULT_DATA, N_TRAIN_PAIRS, fusion_pools, test_sets
from emoguide.training.fusion_data import Pool, make_pairs
from emoguide.training.fusion_fit import FitConfig, fit, method_probs

#: name → (net kind, recipe); "current" trained the weights shipped before this selection, and
#: FitConfig's defaults are the chosen recipe (``None``: an untrained method)
CANDIDATES = {
    "current": ("learned", FitConfig(aux_weight=0.0, identity_pull=0.0)),
    "alone 0.5": ("learned", FitConfig(aux_weight=0.5, identity_pull=0.0)),
    "alone 1.0": ("learned", FitConfig(aux_weight=1.0, identity_pull=0.0)),
    "near-I 1.0": ("learned", FitConfig(aux_weight=0.0, identity_pull=1.0)),
    "alone 0.5, near-I 0.1": ("learned", FitConfig(aux_weight=0.5, identity_pull=0.1)),
    "alone 1.0, near-I 0.03": ("learned", FitConfig(aux_weight=1.0, identity_pull=0.03)),
    "alone 1.0, near-I 0.1": ("learned", FitConfig(aux_weight=1.0, identity_pull=0.1)),
    "alone 1.0, near-I 0.3": ("learned", FitConfig(aux_weight=1.0, identity_pull=0.3)),
    "alone 1.0, near-I 1.0": ("learned", FitConfig(aux_weight=1.0, identity_pull=1.0)),
    "early (ref.)": ("early", FitConfig()),
    "late (ref.)": ("late", None),
}
CONDITIONS = ("all present", "random missing", "one mismatched", "face only", "voice only", "text only")
MARGIN = 0.005  # the rule's half a point


def ravdess_actor(clip_id: str) -> int:
    """Actor number from a RAVDESS file name (its last dash-separated field)."""
    return int(Path(clip_id).stem.split("-")[-1])


def two_folds(pools: dict[str, Pool], seed: int = 0) -> list[dict[str, Pool]]:
    """The fusion-train pools cut in two: voice by actor (17-18 | 19-20), face and text at random."""
    rng = np.random.default_rng(seed)
    halves = {}
    for m, pool in pools.items():
        if m == "voice":
            first = np.array([ravdess_actor(i) <= 18 for i in pool.ids])
        else:
            first = np.zeros(len(pool.y), bool)
            first[rng.permutation(len(pool.y))[: len(pool.y) // 2]] = True
        halves[m] = (pool.subset(np.flatnonzero(first)), pool.subset(np.flatnonzero(~first)))
    return [{m: h[k] for m, h in halves.items()} for k in (0, 1)]


def cross_validate(pools: dict[str, Pool], seeds=(0, 1, 2), candidates=CANDIDATES) -> dict[str, dict[str, float]]:
    """Mean accuracy per candidate and condition, over both train/score fold orders and ``seeds``."""
    torch.set_num_threads(1)
    folds = two_folds(pools)
    scores = {name: {c: [] for c in CONDITIONS} for name in candidates}
    for k in (0, 1):
        train, held = folds[k], folds[1 - k]
        sets = test_sets(held)
        for seed in seeds:
            pairs, _ = make_pairs(train, N_TRAIN_PAIRS, seed)
            for name, (kind, cfg) in candidates.items():
                net = fit(kind, pairs, train, dataclasses.replace(cfg, seed=seed)) if cfg else None
                for cond in CONDITIONS:
                    probs = method_probs(kind, sets[cond], {kind: net})
                    scores[name][cond].append(float(np.mean(probs.argmax(1) == sets[cond].y)))
    return {name: {c: float(np.mean(v)) for c, v in conds.items()} for name, conds in scores.items()}


def score(accs: dict[str, float]) -> float:
    return (accs["all present"] + accs["random missing"]) / 2


def choose(means: dict[str, dict[str, float]]) -> str:
    """The rule in the module docstring: the best candidate that clears both margins, else "current"."""
    base = means["current"]
    best = "current"
    for name, accs in means.items():
        if name == "current" or name.endswith("(ref.)"):
            continue
        clears = (score(accs) >= score(base) + MARGIN and accs["all present"] >= base["all present"] - MARGIN)
        if clears and score(accs) > score(means[best]):
            best = name
    return best


def format_table(means: dict[str, dict[str, float]]) -> str:
    width = max(len(n) for n in means)
    lines = [f"{'recipe':<{width}}  " + "  ".join(f"{c:>14}" for c in CONDITIONS) + "  score"]
    for name, accs in means.items():
        lines.append(f"{name:<{width}}  " + "  ".join(f"{accs[c]:>14.3f}" for c in CONDITIONS)
                     + f"  {score(accs):.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="emoguide.training.fusion_select", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per fold order")
    parser.add_argument("--save", action="store_true",
                        help="also write the table to weights/fusion_selection.txt (the model card shows it)")
    args = parser.parse_args(argv)
    t0 = time.time()
    train_pools, _, _ = fusion_pools(args.data)
    means = cross_validate(train_pools, seeds=tuple(range(args.seeds)))
    text = (f"accuracy on the held fold, mean of 2 fold orders x {args.seeds} seeds; "
            "score = (all present + random missing) / 2\n"
            f"{format_table(means)}\nrule: {choose(means)}")
    print(f"{text}\n({time.time() - t0:.0f} s)")
    if args.save:
        from emoguide.training.fusion_card import SELECTION_FILE

        SELECTION_FILE.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {SELECTION_FILE}")


if __name__ == "__main__":
    main()
