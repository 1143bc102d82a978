"""``emoguide guide``: creative guidance against a target arc, from the cached analysis.

Re-running with another target costs no decoding: the analysis comes from the
cache that `emoguide analyze` filled (same media, models and settings).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from emoguide.cli.common import (add_analysis_arguments, add_target_arguments, cache_from_args, engine_from_args,
                                 guidance_from_args, progress_from_args, settings_from_args)

log = logging.getLogger("emoguide")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "guide", help="editing suggestions against a target emotional arc",
        description="Suggest concrete edits (pacing, cut points, grade, sound, arc, mixed signals, transitions), each "
                    "with where, why, the rule and its source. Uses the analysis cache, so trying another target is "
                    "instant after `emoguide analyze`.",
        epilog="examples:\n  emoguide guide cut.otio --target four-act\n"
               "  emoguide guide cut.otio --target arc.json -o cut.guided.otio --report out/ --json guidance.json\n"
               "  emoguide guide cut.otio --reference director_cut.otio",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("timeline", type=Path, help="the timeline (any format OTIO reads)")
    p.add_argument("-o", "--output", type=Path, help="write the timeline with emotion and guidance markers here")
    p.add_argument("--report", type=Path, help="folder for the HTML/CSV/JSON report with the guidance section")
    p.add_argument("--json", type=Path, help="write the suggestions as JSON here ('-' for stdout)")
    p.add_argument("--top", type=int, default=15, help="how many suggestions to print (default 15)")
    add_target_arguments(p)
    add_analysis_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.report.html import write_report
    from emoguide.timeline.io import OutputError, atomic_write_text, relocate_relative_media, write_timeline
    from emoguide.timeline.mapping import TimelineError, load_timeline
    from emoguide.timeline.markers import annotated_copy

    if not args.target and not args.reference:
        args.target = "four-act"
    try:
        timeline = load_timeline(args.timeline)
    except TimelineError as exc:
        log.error("%s", exc)
        return 1
    settings, engine, cache = settings_from_args(args), engine_from_args(args), cache_from_args(args)
    analysis = analyze_timeline(timeline, base_dir=args.timeline.resolve().parent, settings=settings, engine=engine,
                                cache=cache, progress=progress_from_args(args, str(args.timeline)))
    try:
        guidance = guidance_from_args(args, analysis, engine, settings, cache)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    if args.json:
        text = json.dumps(guidance.to_dict(), indent=1)
        print(text) if str(args.json) == "-" else atomic_write_text(args.json, text)
    if args.output:
        try:
            annotated = annotated_copy(timeline, analysis, guidance)
            relocate_relative_media(annotated, args.timeline.resolve().parent, args.output.resolve().parent)
            write_timeline(annotated, args.output, input_path=args.timeline)
        except (OutputError, OSError) as exc:
            log.error("%s", exc)
            return 1
    if args.report:
        write_report(analysis, args.report, guidance)
    if not args.quiet and str(args.json) != "-":
        print(f"{len(guidance.suggestions)} suggestions against the {guidance.target_name} arc (most impact first):")
        for s in guidance.suggestions[:args.top]:
            print(f"  ▸ {s.title}\n      {s.where} · {s.rule} · confidence {s.confidence:.0%}\n      {s.reason}")
    return 3 if analysis.partial else 0
