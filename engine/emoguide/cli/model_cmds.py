"""``emoguide train`` and ``emoguide eval``: regenerate and measure the shipped models.

Both delegate to ``emoguide.training.<task>`` modules, which own the data
loading, the person-disjoint splits and the metrics; this file only parses
arguments and prints. Training never runs in CI.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from pathlib import Path

TASKS = ("face", "voice", "text", "fusion", "guidance", "vad")
TRAINABLE = ("face", "voice", "text", "fusion", "vad")
DEFAULT_DATA = Path(os.environ.get("EMOGUIDE_DATA", "../shared/data"))


def add_parsers(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="retrain a shipped model from ../shared/data",
                       description="Retrain one model from the labelled data and overwrite its weights, checksum "
                                   "and model card in engine/emoguide/weights/. Slow on a CPU: minutes (fusion) to "
                                   "hours (face: one ensemble member per seed, ~85-95 min each; "
                                   "finished members are reused).")
    t.add_argument("task", choices=TRAINABLE)
    t.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled data folder (default ../shared/data)")
    t.set_defaults(run=run_train)
    e = sub.add_parser("eval", help="measure a model on held-out people",
                       description="Print accuracy, macro-F1, UAR, AUC-ROC (one-vs-rest macro), Cohen's kappa and the "
                                   "confusion matrix on people the model never saw; --task vad prints valence/arousal "
                                   "MSE of the learned heads against the category norms.",
                       epilog="example: emoguide eval --task voice --data ../shared/data")
    e.add_argument("--task", choices=TASKS, required=True)
    e.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled data folder (default ../shared/data)")
    e.add_argument("--json", action="store_true", help="print the reports as JSON")
    e.set_defaults(run=run_eval)


def _module(task: str):
    return importlib.import_module(f"emoguide.training.{task}")


def run_train(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise SystemExit(f"emoguide: data folder {args.data} not found (see ../shared/data/README.md)")
    _module(args.task).main(["--data", str(args.data)])
    return 0


def run_eval(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise SystemExit(f"emoguide: data folder {args.data} not found (see ../shared/data/README.md)")
    reports = _module(args.task).evaluate(args.data)
    if not isinstance(reports, (list, tuple)):
        reports = [reports]
    for report in reports:
        if args.json:
            print(json.dumps(report.as_dict() if hasattr(report, "as_dict") else report, indent=1))
        else:
            print(report.format() if hasattr(report, "format") else report)
    return 0
