"""``emoguide analyze``: timelines in, annotated timelines and reports out.

Exit codes (so batch scripts can tell what happened):
0 every clip analysed; 3 partial (some clips offline or unreadable: see the
markers and the report); 1 at least one timeline could not be read or written;
130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from emoguide.cli.common import (add_analysis_arguments, add_target_arguments, cache_from_args, engine_from_args,
                                 guidance_from_args, progress_from_args, settings_from_args)
from emoguide.cli.ray_opts import add_ray_arguments

log = logging.getLogger("emoguide")

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="analyse timelines and write emotion markers and a report",
        description="Analyse every clip of one or more timelines (any format OpenTimelineIO reads, or folders of "
                    "them) and write a copy annotated with emotion markers, plus an HTML/CSV/JSON report.",
        epilog="examples:\n  emoguide analyze cut.otio -o cut.emotions.otio --report out/\n"
               "  emoguide analyze reel1.otio reel2.otio --out-dir annotated/\n"
               "  emoguide analyze timelines/ --out-dir annotated/ --report reports/ --quiet\n"
               "  emoguide analyze timelines/ --out-dir annotated/ --ray --ray-address auto   # on a Ray cluster",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, help="timeline files or folders holding them")
    p.add_argument("-o", "--output", type=Path, help="output timeline (one input only); default NAME.emotions.otio")
    p.add_argument("--out-dir", type=Path, help="folder for annotated timelines (batch)")
    p.add_argument("--in-place", action="store_true", help="overwrite the input timeline (never done otherwise)")
    p.add_argument("--report", type=Path, help="folder for the HTML/CSV/JSON report (one sub-folder per timeline in batch)")
    add_analysis_arguments(p)
    add_target_arguments(p)
    add_ray_arguments(p)
    p.set_defaults(run=run)


def collect_inputs(inputs: list[Path]) -> list[Path]:
    """Expand folders into the timeline files inside them (by suffixes OTIO can read)."""
    import opentimelineio as otio

    suffixes = {s.lower() for s in otio.adapters.suffixes_with_defined_adapters(read=True)}
    # too generic or not edits (captions, marker lists) inside a folder; pass such files explicitly
    suffixes -= {"json", "srt", "vtt", "csv", "txt"}
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files.extend(sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower().lstrip(".") in suffixes
                                and ".emotions." not in p.name))
        else:
            files.append(item)
    return files


def output_path(src: Path, args: argparse.Namespace, batch: bool) -> Path:
    if args.in_place:
        return src
    if args.output and not batch:
        return args.output
    name = f"{src.stem}.emotions.otio"
    return (args.out_dir / name) if args.out_dir else src.with_name(name)


def run(args: argparse.Namespace) -> int:
    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.timeline.mapping import TimelineError, load_timeline

    files = collect_inputs(args.inputs)
    if not files:
        log.error("no timeline files found in %s", ", ".join(map(str, args.inputs)))
        return EXIT_FAILED
    batch = len(files) > 1
    if args.output and batch:
        log.error("-o/--output names one file; with several inputs use --out-dir")
        return 2
    settings = settings_from_args(args)
    cache = cache_from_args(args)
    if args.ray:
        return _run_on_ray(args, files, batch, settings, cache)
    engine = engine_from_args(args)
    worst = EXIT_OK
    for src in files:
        try:
            timeline = load_timeline(src)
        except TimelineError as exc:
            log.error("%s", exc)
            worst = EXIT_FAILED
            continue
        analysis = analyze_timeline(timeline, base_dir=src.resolve().parent, settings=settings, engine=engine,
                                    cache=cache, progress=progress_from_args(args, str(src)))
        guidance = guidance_from_args(args, analysis, engine, settings, cache)
        worst = _worse(worst, _finish(args, src, timeline, analysis, guidance, batch))
    return worst


def _run_on_ray(args, files: list[Path], batch: bool, settings, cache) -> int:
    """All timelines' clips analysed together on Ray workers, then written one by one as locally."""
    from emoguide.cli.progress_bar import BatchTerminalProgress
    from emoguide.cli.ray_opts import ray_batch_from_args
    from emoguide.pipeline.distributed import BatchItem, RayUnavailable
    from emoguide.timeline.mapping import TimelineError, load_timeline

    worst = EXIT_OK
    loaded = []
    for src in files:
        try:
            loaded.append((src, load_timeline(src)))
        except TimelineError as exc:
            log.error("%s", exc)
            worst = EXIT_FAILED
    try:
        ray_batch = ray_batch_from_args(args)
    except RayUnavailable as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    shared_bar = None if args.json_progress else BatchTerminalProgress(args.quiet)
    try:
        analyses = ray_batch.analyze([BatchItem(tl, src.resolve().parent,
                                                shared_bar.for_timeline(src.name) if shared_bar else
                                                progress_from_args(args, str(src)))
                                      for src, tl in loaded], settings, cache)
        if shared_bar:
            shared_bar.close()

        def analyze_reference(timeline, base_dir):
            return ray_batch.analyze([BatchItem(timeline, base_dir)], settings, cache)[0]

        for (src, timeline), analysis in zip(loaded, analyses):
            guidance = guidance_from_args(args, analysis, settings=settings, cache=cache, analyze=analyze_reference)
            worst = _worse(worst, _finish(args, src, timeline, analysis, guidance, batch))
    finally:
        if shared_bar:
            shared_bar.close()
        ray_batch.close()
    return worst


def _worse(a: int, b: int) -> int:
    """The exit code that says more: failed > partial > ok."""
    return max((a, b), key=[EXIT_OK, EXIT_PARTIAL, EXIT_FAILED].index)


def _finish(args, src: Path, timeline, analysis, guidance, batch: bool) -> int:
    """Write one analysed timeline's annotated copy and report; its exit code."""
    from emoguide.report.html import write_report
    from emoguide.timeline.io import OutputError, relocate_relative_media, write_timeline
    from emoguide.timeline.markers import annotated_copy

    annotated = annotated_copy(timeline, analysis, guidance)
    dest = output_path(src, args, batch)
    relocate_relative_media(annotated, src.resolve().parent, dest.resolve().parent)
    try:
        write_timeline(annotated, dest, input_path=src, in_place=args.in_place)
    except (OutputError, OSError) as exc:
        log.error("%s: %s", src, exc)
        return EXIT_FAILED
    if args.report:
        folder = args.report / src.stem if batch else args.report
        page = write_report(analysis, folder, guidance)
        if not args.quiet:
            print(f"report: {page}")
    for clip in analysis.clips:
        if clip.status in ("offline", "error"):
            log.warning("%s: clip %s (%s): %s", src.name, clip.job.clip_name, clip.job.clip_id, clip.message)
    if not args.quiet:
        ok = sum(c.status == "ok" for c in analysis.clips)
        print(f"{src.name}: {ok}/{len(analysis.clips)} clips analysed → {dest}")
    return EXIT_PARTIAL if analysis.partial else EXIT_OK
