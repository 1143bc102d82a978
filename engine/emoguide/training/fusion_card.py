"""Writes ``weights/fusion.md`` from the evaluation's own output (never typed numbers)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from emoguide.evaluation.machine import cpu_model
from emoguide.recognition.base import WEIGHTS_DIR, sha256_of
from emoguide.recognition.fusion_learned import WEIGHTS_FILE


def how_it_compares(results: list) -> str:
    """The learned fusion's standing against each baseline, in words, from the method table in ``results``."""
    table = next((r for r in results if hasattr(r, "rows") and r.title.startswith("fusion methods")), None)
    if table is None:
        return "The method comparison was not run."
    acc = {(row[0], row[1]): row[3] for row in table.rows}
    names = {"early": "early fusion", "tfn": "TFN", "lmf": "LMF", "late": "reliability-weighted late fusion",
             "average": "averaging"}
    parts = []
    for cond in ("all present", "random missing"):
        ours = acc[("learned", cond)]
        others = sorted(((acc[(m, cond)], m) for m in names if (m, cond) in acc), reverse=True)
        ahead = [f"{names[m]} {a:.1%} ({100 * (a - ours):+.1f} points)" for a, m in others if a > ours]
        behind = [f"{names[m]} {a:.1%}" for a, m in others if a <= ours]
        text = f"with {'all modalities present' if cond == 'all present' else 'random modalities missing'} " \
               f"it reaches {ours:.1%}"
        if ahead:
            text += f", behind {', '.join(ahead)}"
        if behind:
            text += f"{' and' if ahead else ','} ahead of {', '.join(behind)}"
        parts.append(text)
    beaten = {cond: any(acc.get((m, cond), 0.0) > acc[("learned", cond)] for m in names)
              for cond in ("all present", "random missing")}
    if not any(beaten.values()):
        lead = "The learned fusion leads every baseline"
    elif all(beaten.values()):
        lead = "The learned fusion does **not** beat every baseline"
    elif beaten["random missing"]:
        lead = ("The learned fusion leads every baseline with all modalities present, **not** with modalities "
                "missing")
    else:
        lead = "The learned fusion leads every baseline with modalities missing, **not** with all present"
    return f"{lead}: {'; '.join(parts)}."


#: the printed table of ``python -m emoguide.training.fusion_select --save`` (how the recipe was chosen)
SELECTION_FILE = WEIGHTS_DIR / "fusion_selection.txt"


def selection_section() -> str:
    """How the training recipe was chosen, from the saved output of the selection run (if there is one)."""
    if not SELECTION_FILE.is_file():
        return ""
    return f"""
## How the recipe was chosen (fusion-train only; fusion-test was not read)
`python -m emoguide.training.fusion_select --data ../shared/data --save` cuts the fusion-train pools in two
folds (RAVDESS actors 17-18 | 19-20; PublicTest and MELD dev in random halves), trains each candidate
on one, scores it on the other, both ways, three seeds; the rule and the candidates' history are in
that module's docstring. Its output:
```
{SELECTION_FILE.read_text(encoding="utf-8").strip()}
```
"""


def write_card(results: list, eval_seconds: float) -> Path:
    weights = WEIGHTS_DIR / WEIGHTS_FILE
    blob = torch.load(weights, map_location="cpu", weights_only=True)
    meta = blob.get("meta", {})
    recipe = meta.get("recipe", {})
    n_params = sum(v.numel() for v in blob["state_dict"].values())
    printed = "\n\n".join(r.format() if hasattr(r, "format") else str(r) for r in results)
    text = f"""# Learned fusion (`{WEIGHTS_FILE}`)

Combines the face, voice and text recognisers' per-window outputs (class
distribution, presence, reliability) into one distribution, a confidence, each
modality's contribution and (computed separately, Jensen-Shannon) a disagreement
score. Used by the engine for every window when this file and its checksum ship
(`recognition.fusion.default_fusion()`); otherwise the engine falls back to the
reliability-weighted late fusion.

* **Model**: `GatedFusionNet` ({n_params} parameters): per-modality 7×7 logit calibration;
  per-modality gate MLP on [log p, reliability, max p, entropy, agreement with the other present
  modalities]; softmax over present modalities = the reported contributions; sharpness grows
  with coverage (1 - Π(1 - reliability)). No modality present → uniform, confidence 0.
* **File**: {weights.stat().st_size} bytes, sha256 `{sha256_of(weights)}` (also in `checksums.json`).
* **Recogniser versions it was trained on**: {meta.get('recognisers')}.
* **Valence/arousal/dominance**: not learned by the fusion. Per window the engine takes the
  contribution-weighted VAD of the modalities, using a modality's own learned VAD where its
  recogniser provides one and the category norms of its distribution otherwise
  (`FusedResult.vad_source` = "learned", "mixed" or "norms"). The MSE figures below compare
  norm-derived V/A of the fused distribution with the true class's norms: none of these corpora
  has per-clip valence/arousal ratings that pair with our inputs.

## How it compares (read the method table below)
{how_it_compares(results)} The engine keeps it because it reports each modality's contribution per
window (which the markers and the mixed-signal guidance use) and has an explicit missing-modality
path; early fusion gives one opaque distribution. History: with the first voice head (last Whisper
layer, 2026-11-24) it led early fusion; once the voice classifier became much stronger the plain
methods caught up (2026-12-04: 86.7 % all present, 72.9 % random missing, against early fusion's
86.6 % and 74.7 %), because the fusion read a lone voice worse than the voice recogniser itself
(68.9 % against 76.0 %): its free 7×7 calibrations had learned the confusions of the four
fusion-train actors. Since 2026-12-06 each calibration is also trained to classify on its own and
held near "no change" (the loss below; chosen on fusion-train folds, never on fusion-test): a lone
voice went from 68.9 % to 78.9 %. The same day the face crop's framing was corrected
(`expression.BOX_EXPAND`, chosen on PublicTest by `training/face_framing.py`): the face recogniser
through the detector went from 54.6 % to 63.9 % on PrivateTest, and the fusion was retrained on its
new outputs with the same recipe (the fold selection, re-run, chose it again). Fusion-test was read
after each of the two changes, so twice that day; neither choice was made on it.
Every method in the tables is trained once (seed 0); the spread across seeds was not measured
there, so a gap under a point is not a ranking.

## Data: paired by label across corpora (stated plainly)
No corpus here has a face, a voice and words of the same person at the same moment. A training
"window" is one FER2013 face, one RAVDESS utterance and one MELD utterance **with the same
label**, each represented by its recogniser's prediction on a split that recogniser never
trained on. The fusion therefore learns how far to trust each recogniser's output (its
calibration, confusions, reliability) and what to do when modalities are missing or disagree;
it cannot learn real cross-modal timing.

| | fusion-train | fusion-test |
|---|---|---|
| face | FER2013 PublicTest | FER2013 PrivateTest |
| voice | RAVDESS actors 17-20 | RAVDESS actors 21-24 (people never seen by voice model or fusion) |
| text | MELD dev | MELD test |

Training pools: {meta.get('pools')}. {meta.get('n_pairs')} training pairs, class drawn uniformly,
seed {meta.get('seed')}. Each epoch: 25 % of pairs clean, the rest augmented with modality
dropout (p 0.35 each, at least one kept), mismatch (p 0.15: a modality replaced by a sample of
another class, target unchanged) and reliability degradation (p 0.3: reliability × u,
u ~ U(0.05, 1), and with probability 0.8·(1 - u) the distribution replaced by a wrong-class one).
The voice pools are small (240 clips each), so voice samples repeat across pairs.
Loss: cross-entropy of the fused answer, plus {recipe.get('aux_weight', 0)} × the cross-entropy of each present
modality's calibrated logits on their own (with one modality present the fused answer *is* that
modality's calibrated logits), plus {recipe.get('identity_pull', 0)} × the squared distance of each 7×7
calibration from "no change" (W = I, b = 0), so that it cannot learn the confusions of the four
fusion-train actors. AdamW, learning rate 0.01 (cosine), 60 epochs, batch 128.
{selection_section()}
Licences: FER2013 research use, RAVDESS CC BY-NC-SA 4.0, MELD GPL-3.0; these weights inherit
the most restrictive (non-commercial, share-alike).

## Reproduce
```
emoguide train fusion --data ../shared/data     # = python -m emoguide.training.fusion --data ../shared/data
emoguide eval --task fusion --data ../shared/data
```
Trained {meta.get('date')} on {cpu_model()} ({os.cpu_count()} CPUs, shared), torch {torch.__version__};
evaluation took {eval_seconds:.0f} s.

## Measured (output of `emoguide eval --task fusion`, from this file)
```
{printed}
```
"""
    path = WEIGHTS_DIR / "fusion.md"
    path.write_text(text, encoding="utf-8")
    return path
