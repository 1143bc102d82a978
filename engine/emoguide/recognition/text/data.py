"""Readers for the text corpora in ``../shared/data/text`` (official splits only).

GoEmotions rows are ``text<TAB>ids<TAB>comment id`` with comma-separated label
ids into ``labels.txt`` (27 emotions + neutral, multi-label). Its Ekman grouping
is the one published with the dataset (``ekman_mapping.json`` in
google-research/goemotions); ``ekman_labels.txt`` only names the groups, so the
grouping is written out here and checked against that file. MELD utterances
(``*_sent_emo.csv``) carry one of 7 emotions. Both map to the common label space
through :data:`emoguide.labels.CORPUS_MAPS`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoguide.labels import LABEL_INDEX, to_common

#: Ekman group -> GoEmotions labels (google-research/goemotions data/ekman_mapping.json).
EKMAN_GROUPS: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
            "relief", "pride", "admiration", "desire", "caring"),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}
SPLITS = ("train", "dev", "test")


@dataclass
class TextSplit:
    """One split of one corpus.

    ``multi`` is (N, 28) multi-hot GoEmotions labels, or None for corpora without them.
    ``y7`` is (N,) index into :data:`emoguide.labels.LABELS`, -1 where the example has
    no single common-space label (GoEmotions comments spanning several Ekman groups).
    """

    corpus: str
    split: str
    texts: list[str]
    y7: np.ndarray
    multi: np.ndarray | None = None


def goemotions_labels(data_dir: Path) -> list[str]:
    return (Path(data_dir) / "text" / "goemotions" / "labels.txt").read_text(encoding="utf-8").split()


def ekman_of_label(labels: list[str], data_dir: Path | None = None) -> np.ndarray:
    """(28,) Ekman-group name per GoEmotions label index, validated against ``ekman_labels.txt``."""
    if data_dir is not None:
        named = set((Path(data_dir) / "text" / "goemotions" / "ekman_labels.txt").read_text().split())
        if named != set(EKMAN_GROUPS):
            raise ValueError(f"ekman_labels.txt names {sorted(named)}, expected {sorted(EKMAN_GROUPS)}")
    group = {lab: g for g, labs in EKMAN_GROUPS.items() for lab in labs}
    return np.array([group[lab] for lab in labels])


def read_goemotions(data_dir: Path, split: str) -> TextSplit:
    """One official GoEmotions split; ``y7`` set where all labels fall in one Ekman group."""
    labels = goemotions_labels(data_dir)
    ekman = ekman_of_label(labels, data_dir)
    texts, multi, y7 = [], [], []
    path = Path(data_dir) / "text" / "goemotions" / f"{split}.tsv"
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            ids = [int(i) for i in parts[1].split(",")]
            row = np.zeros(len(labels), dtype=np.float32)
            row[ids] = 1.0
            groups = {ekman[i] for i in ids}
            texts.append(parts[0])
            multi.append(row)
            y7.append(LABEL_INDEX[to_common("ekman", groups.pop())] if len(groups) == 1 else -1)
    return TextSplit("goemotions", split, texts, np.array(y7, dtype=np.int64), np.stack(multi))


def read_meld(data_dir: Path, split: str) -> TextSplit:
    """One official MELD split (utterance text and its emotion)."""
    path = Path(data_dir) / "text" / "meld" / f"{split}_sent_emo.csv"
    texts, y7 = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["Utterance"])
            y7.append(LABEL_INDEX[to_common("meld", row["Emotion"].strip())])
    return TextSplit("meld", split, texts, np.array(y7, dtype=np.int64))


def read_all(data_dir: Path) -> dict[tuple[str, str], TextSplit]:
    """Every (corpus, split) the text recogniser trains and evaluates on."""
    out = {}
    for split in SPLITS:
        out[("goemotions", split)] = read_goemotions(data_dir, split)
        out[("meld", split)] = read_meld(data_dir, split)
    return out
