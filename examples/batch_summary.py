"""Batch analysis from Python, for TDs: many timelines, one loaded engine, one CSV row per clip.

    python examples/batch_summary.py timelines/ --csv clips.csv
    python examples/batch_summary.py cut1.otio cut2.otio --out-dir annotated/ --csv clips.csv --target four-act

`emoguide analyze timelines/ --out-dir annotated/` runs the same batch from the shell; this script is
the Python route, for pipelines that want the numbers themselves (a spreadsheet, an asset database,
a dailies report). What it shows of the API:

- ``Engine.load()`` once: the models stay loaded from one timeline to the next (loading them costs
  seconds; a clip costs a fraction of its duration);
- one ``AnalysisCache`` for the whole batch, so a re-run only analyses clips whose media, range or
  settings changed (its keys hold the media's path, size and modification time);
- a progress callback: the same events the CLI's bar and the server's PUB socket are built from;
- a timeline that cannot be read is reported and skipped, never the end of the batch;
- annotated copies written atomically, never over the input.

Exit code: 0 every clip analysed, 3 some clips offline or unreadable (see the CSV's status column),
1 a timeline could not be read or written.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

from emoguide.cli.analyze_cmd import collect_inputs
from emoguide.guidance import guide
from emoguide.pipeline.analyze import analyze_timeline
from emoguide.pipeline.cache import AnalysisCache
from emoguide.pipeline.engine import Engine
from emoguide.pipeline.progress import ProgressEvent
from emoguide.timeline.io import OutputError, atomic_write_text, relocate_relative_media, write_timeline
from emoguide.timeline.mapping import load_timeline
from emoguide.timeline.markers import annotated_copy

log = logging.getLogger("batch_summary")

COLUMNS = ("timeline", "clip_id", "clip", "timeline_in_s", "duration_s", "status", "emotion", "probability",
           "valence", "arousal", "dominance", "confidence", "modalities", "brief_expressions", "disagreement",
           "suggestions", "message")


def clip_rows(timeline_path: Path, analysis, guidance=None) -> list[dict]:
    """One row per clip: where it sits in the cut, what it reads as, and how sure."""
    per_clip: dict[str, int] = {}
    for suggestion in guidance.suggestions if guidance else []:
        per_clip[suggestion.clip_id] = per_clip.get(suggestion.clip_id, 0) + 1
    rows = []
    for clip in analysis.clips:
        job, summary = clip.job, clip.summary()
        valence, arousal, dominance = summary["vad"]
        rows.append({
            "timeline": str(timeline_path), "clip_id": job.clip_id, "clip": job.clip_name,
            "timeline_in_s": round(job.timeline_start_s, 3),
            "duration_s": round(job.timeline_end_s - job.timeline_start_s, 3),
            "status": clip.status, "emotion": summary["label"] or "",
            "probability": round(summary["probability"], 3), "valence": round(valence, 3),
            "arousal": round(arousal, 3), "dominance": round(dominance, 3),
            "confidence": round(summary["confidence"], 3), "modalities": "+".join(summary["modalities"]),
            "brief_expressions": len(clip.events), "disagreement": round(summary.get("disagreement", 0.0), 3),
            "suggestions": per_clip.get(job.clip_id, 0), "message": clip.message,
        })
    return rows


def print_progress(event: ProgressEvent) -> None:
    """A line per finished clip; a pipeline would publish these events instead."""
    if event.stage == "clip_done":
        print(f"  clip {int(event.done)}/{int(event.total)} {event.clip_id}: {event.message}", file=sys.stderr)


def analyze_many(paths: list[Path], engine, cache: AnalysisCache | None, out_dir: Path | None = None,
                 target: str | None = None, progress=print_progress) -> tuple[list[dict], list[str]]:
    """(CSV rows of every clip analysed, one message per timeline that could not be read or written)."""
    rows, failures = [], []
    for path in paths:
        try:
            timeline = load_timeline(path)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the batch
            failures.append(str(exc))  # load_timeline's messages name the file
            continue
        print(f"{path}", file=sys.stderr)
        analysis = analyze_timeline(timeline, base_dir=path.resolve().parent, engine=engine, cache=cache,
                                    progress=progress)
        guidance = guide(analysis, target) if target else None
        rows += clip_rows(path, analysis, guidance)
        if out_dir is not None:
            dest = out_dir / f"{path.stem}.emotions.otio"
            annotated = annotated_copy(timeline, analysis, guidance)
            relocate_relative_media(annotated, path.resolve().parent, dest.resolve().parent)
            try:
                write_timeline(annotated, dest, input_path=path)
            except (OutputError, OSError) as exc:  # OutputError: it would have been the input
                failures.append(f"{path}: {exc}")
    return rows, failures


def write_csv(rows: list[dict], path: Path) -> None:
    """The table, written atomically (a reader never sees half a file)."""
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def main(argv: list[str] | None = None, engine=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="timeline files or folders holding them")
    parser.add_argument("--csv", type=Path, required=True, help="where the per-clip table goes")
    parser.add_argument("--out-dir", type=Path, help="also write NAME.emotions.otio copies here")
    parser.add_argument("--target", help="target arc (rising, falling, four-act, flat) to count suggestions against")
    parser.add_argument("--cache-dir", type=Path, help="analysis cache (default: emoguide's own)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    paths = collect_inputs(args.inputs)
    if not paths:
        print(f"no timelines in {', '.join(map(str, args.inputs))}", file=sys.stderr)
        return 1
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    engine = engine or Engine.load()  # CUDA when present, else CPU
    cache = AnalysisCache(args.cache_dir)  # None: emoguide's own folder
    rows, failures = analyze_many(paths, engine, cache, args.out_dir, args.target)
    write_csv(rows, args.csv)
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    print(f"{len(rows)} clips from {len(paths) - len(failures)} of {len(paths)} timelines → {args.csv}")
    if failures:
        return 1
    return 3 if any(r["status"] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
