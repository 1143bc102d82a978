"""Options shared by the commands that analyse (`analyze`, `guide`), parsed one way."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_analysis_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--modalities", default="face,voice,text", help="comma list of face,voice,text (default: all)")
    p.add_argument("--fps", type=float, default=4.0,
                   help="face detection samples per second (default 4; faces are tracked in between; 2 saves "
                        "6-10 %% of the time on long single-shot footage, and moves the readings about as much as "
                        "starting the detection a frame or two later does: docs/performance.md)")
    p.add_argument("--window", type=float, default=2.0, help="analysis window in seconds (default 2)")
    p.add_argument("--hop", type=float, default=1.0, help="window hop in seconds (default 1)")
    p.add_argument("--max-side", type=int, default=640, help="decode-time downscale, longest side px (default 640)")
    p.add_argument("--skip-loop-filter", default="bidir", choices=("none", "noref", "bidir", "nokey", "all"),
                   help="decode H.264/HEVC without the deblocking filter on these pictures, for speed (default "
                        "bidir: B-pictures, invisible at the analysis's size; none: decode exactly; nokey/all: "
                        "faster still, but errors carry on to the next keyframe)")
    p.add_argument("--no-brief", action="store_true",
                   help="skip full-rate brief-expression spotting (faster: faces are read --fps times a second "
                        "and the decoder may skip non-reference pictures; no brief-expression cut-point markers; "
                        "see docs/performance.md)")
    p.add_argument("--every-frame", action="store_true",
                   help="read the expression net on every full-rate frame, not only where the face changes "
                        "(slower; the default reads about half the frames)")
    p.add_argument("--no-transcribe", action="store_true", help="never run speech-to-text (captions still used)")
    p.add_argument("--fusion", help="fusion method (default: learned when shipped, else late)")
    p.add_argument("--cache-dir", type=Path,
                   help="analysis cache folder (default ~/.cache/emoguide or $EMOGUIDE_CACHE)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the analysis cache")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, only errors")
    p.add_argument("--json-progress", action="store_true", help="progress as JSON lines on stderr")


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="target arc: rising, falling, four-act, flat/calm, or a keyframe file "
                                    "(.json/.csv); enables creative guidance")
    p.add_argument("--reference", type=Path, help="another timeline whose measured arc is the target")
    p.add_argument("--guidance-config", type=Path, help="JSON/TOML file overriding guidance thresholds")


def settings_from_args(args):
    from emoguide.pipeline.windows import AnalysisSettings

    return AnalysisSettings(window_s=args.window, hop_s=args.hop, sample_fps=args.fps, spot_brief=not args.no_brief,
                            expression_every_frame=args.every_frame, max_side=args.max_side,
                            transcribe=not args.no_transcribe, skip_loop_filter=args.skip_loop_filter)


def engine_from_args(args):
    import logging

    from emoguide.pipeline.engine import Engine

    modalities = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    engine = Engine.load(device=args.device, modalities=modalities, fusion=args.fusion)
    for name, reason in engine.unavailable.items():
        logging.getLogger("emoguide").warning("%s modality unavailable (%s): analysing without it", name, reason)
    return engine


def cache_from_args(args):
    from emoguide.pipeline.cache import AnalysisCache

    return AnalysisCache(args.cache_dir, enabled=not args.no_cache)


def progress_from_args(args, label: str):
    from emoguide.cli.progress_bar import JsonLinesProgress, TerminalProgress

    return JsonLinesProgress(label) if args.json_progress else TerminalProgress(Path(label).name, args.quiet)


def guidance_from_args(args, analysis, engine=None, settings=None, cache=None, analyze=None):
    """Guidance for ``analysis`` when a target or reference was asked for, else None.

    ``analyze(timeline, base_dir)`` analyses the reference timeline when given (the Ray batch
    passes its own, so the driver never loads models); else it runs locally on ``engine``.
    """
    if not getattr(args, "target", None) and not getattr(args, "reference", None):
        return None
    from emoguide.guidance import GuidanceConfig, TargetArc, guide

    config = GuidanceConfig.from_file(args.guidance_config) if args.guidance_config else GuidanceConfig()
    target = args.target
    if args.reference:
        from emoguide.pipeline.analyze import analyze_timeline
        from emoguide.timeline.mapping import load_timeline

        ref = load_timeline(args.reference)
        if analyze is not None:
            ref_analysis = analyze(ref, args.reference.resolve().parent)
        else:
            ref_analysis = analyze_timeline(ref, base_dir=args.reference.resolve().parent, settings=settings,
                                            engine=engine, cache=cache)
        target = TargetArc.from_reference(ref_analysis)
    return guide(analysis, target, config)
