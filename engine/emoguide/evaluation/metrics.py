"""The seed paper's classification metrics, computed one way for every task.

Accuracy, macro-F1, unweighted average recall (UAR: the mean per-class recall,
the usual speech-emotion figure), one-vs-rest macro AUC-ROC, Cohen's kappa,
weighted-F1 (MELD's usual figure) and the confusion matrix. Classes absent from
``y_true`` are left out of AUC (it is undefined for them) and that is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn import metrics as skm


@dataclass
class ClassificationReport:
    task: str
    classes: tuple[str, ...]
    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    uar: float
    auc_ovr_macro: float | None
    kappa: float
    per_class_recall: dict[str, float]
    confusion: list[list[int]]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return self.__dict__.copy()

    def format(self) -> str:
        """Human-readable block: headline metrics, per-class recall, confusion matrix."""
        auc = "n/a" if self.auc_ovr_macro is None else f"{self.auc_ovr_macro:.3f}"
        lines = [
            f"== {self.task} (n={self.n})",
            f"accuracy {self.accuracy:.3f}  macro-F1 {self.macro_f1:.3f}  weighted-F1 {self.weighted_f1:.3f}  "
            f"UAR {self.uar:.3f}  AUC-ROC(ovr,macro) {auc}  kappa {self.kappa:.3f}",
            "recall: " + "  ".join(f"{c} {r:.2f}" for c, r in self.per_class_recall.items()),
            "confusion (rows = truth, cols = predicted):",
        ]
        width = max(len(c) for c in self.classes)
        lines.append(" " * (width + 1) + " ".join(f"{c[:5]:>5}" for c in self.classes))
        for c, row in zip(self.classes, self.confusion):
            lines.append(f"{c:>{width}} " + " ".join(f"{v:>5d}" for v in row))
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def classification_report(
    task: str, y_true: np.ndarray, probs: np.ndarray, classes: tuple[str, ...]
) -> ClassificationReport:
    """All metrics from integer truths ``y_true`` (N,) and class probabilities ``probs`` (N, C)."""
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    labels = list(range(len(classes)))
    y_pred = probs.argmax(axis=1)
    recall = skm.recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    seen = sorted(set(y_true.tolist()))
    notes: list[str] = []
    auc: float | None
    if len(seen) < 2:
        auc = None
        notes.append("AUC undefined: fewer than two classes in the truth")
    else:
        aucs = []
        for c in seen:
            aucs.append(skm.roc_auc_score((y_true == c).astype(int), probs[:, c]))
        auc = float(np.mean(aucs))
        missing = [classes[c] for c in labels if c not in seen]
        if missing:
            notes.append(f"AUC over present classes only; absent: {', '.join(missing)}")
    uar = float(np.mean([recall[c] for c in seen])) if seen else 0.0
    return ClassificationReport(
        task=task,
        classes=tuple(classes),
        n=int(len(y_true)),
        accuracy=float(skm.accuracy_score(y_true, y_pred)),
        macro_f1=float(skm.f1_score(y_true, y_pred, labels=seen, average="macro", zero_division=0)),
        weighted_f1=float(skm.f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        uar=uar,
        auc_ovr_macro=auc,
        kappa=float(skm.cohen_kappa_score(y_true, y_pred, labels=labels)),
        per_class_recall={classes[c]: float(recall[c]) for c in labels},
        confusion=skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        notes=notes,
    )
