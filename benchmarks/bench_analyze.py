"""How close is a full analysis to the physical limit of decoding the same media?

Prints, for one timeline and one run, three times and their ratios:
  decode   PyAV decode of exactly the used ranges (video at the analysis's
           rate and size, audio at 16 kHz mono): what any analysis must pay
  analyze  a full `analyze_timeline` with a cold cache (models already loaded)
  cached   the same analysis again with a warm cache
Model loading is timed separately (the server pays it once per process).

    python benchmarks/bench_analyze.py                       # the demo timeline
    python benchmarks/bench_analyze.py cut.otio --no-brief   # your own; options as `emoguide analyze`
    python benchmarks/bench_analyze.py --generate 1080p      # a generated 1080p H.264 clip, 20 s
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # media_fixtures: generated test media


def decode_only(jobs, settings) -> float:
    from emoguide.media.audio import read_audio_range
    from emoguide.media.probe import probe
    from emoguide.media.video import iter_video_frames

    t0 = time.perf_counter()
    for job in jobs:
        if job.problem or job.source is None:
            continue
        info = probe(job.source.path)
        if info.has_video:
            fps = None if settings.spot_brief else settings.sample_fps
            for _ in iter_video_frames(job.source.path, job.media_start_s, job.media_end_s, sample_fps=fps,
                                       max_side=settings.max_side, info=info):
                pass
        if info.has_audio:
            read_audio_range(job.source.path, job.media_start_s, job.media_end_s, rate=16000)
    return time.perf_counter() - t0


def generated_timeline(kind: str, folder: Path) -> Path:
    import opentimelineio as otio
    from media_fixtures import make_indexed_video

    size = {"1080p": (1920, 1080), "4k": (3840, 2160)}[kind]
    codec = "libx265" if kind == "4k" else "libx264"
    media = make_indexed_video(folder / f"bench_{kind}.mp4", Fraction(24000, 1001), 480, size=size, timecode=None,
                               audio=True, codec=codec)
    rate = 24000 / 1001
    ref = otio.schema.ExternalReference(target_url=str(media))
    clip = otio.schema.Clip(name=media.stem, media_reference=ref, source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(480, rate)))
    tl = otio.schema.Timeline(name=f"bench {kind}")
    track = otio.schema.Track()
    track.append(clip)
    tl.tracks.append(track)
    path = folder / f"bench_{kind}.otio"
    otio.adapters.write_to_file(tl, str(path))
    return path


def main() -> None:
    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.cache import AnalysisCache
    from emoguide.pipeline.engine import Engine
    from emoguide.pipeline.windows import AnalysisSettings
    from emoguide.timeline.mapping import clip_jobs, load_timeline

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("timeline", nargs="?", type=Path, default=REPO / "examples" / "demo.otio")
    p.add_argument("--generate", choices=("1080p", "4k"), help="benchmark a generated clip instead")
    p.add_argument("--no-brief", action="store_true")
    p.add_argument("--fps", type=float, default=4.0)
    p.add_argument("--device")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="emoguide-bench-"))
    path = generated_timeline(args.generate, tmp) if args.generate else args.timeline
    settings = AnalysisSettings(sample_fps=args.fps, spot_brief=not args.no_brief)
    timeline = load_timeline(path)
    jobs = clip_jobs(timeline, path.resolve().parent)
    media_s = sum(j.media_duration_s for j in jobs if not j.problem)

    t0 = time.perf_counter()
    engine = Engine.load(device=args.device)
    load_s = time.perf_counter() - t0
    decode_only(jobs, settings)  # warm the OS file cache so both runs read from memory
    decode_s = decode_only(jobs, settings)
    cache = AnalysisCache(tmp / "cache")
    t0 = time.perf_counter()
    analyze_timeline(timeline, base_dir=path.resolve().parent, settings=settings, engine=engine, cache=cache)
    analyze_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    analyze_timeline(timeline, base_dir=path.resolve().parent, settings=settings, engine=engine, cache=cache)
    cached_s = time.perf_counter() - t0

    print(f"timeline        {path.name}: {len(jobs)} clips, {media_s:.1f} s of used media, device {engine.device}")
    print(f"settings        brief-expression spotting {'on (full rate)' if settings.spot_brief else 'off'}, "
          f"face sampling {settings.sample_fps:g} fps, max side {settings.max_side} px")
    print(f"model load      {load_s:8.2f} s   (once per process)")
    print(f"decode only     {decode_s:8.2f} s   {media_s / decode_s:6.1f}× real time")
    print(f"full analysis   {analyze_s:8.2f} s   {media_s / analyze_s:6.1f}× real time   "
          f"ratio to decode {analyze_s / decode_s:5.2f}×")
    print(f"cached re-run   {cached_s:8.2f} s   ratio to decode {cached_s / decode_s:5.2f}×")


if __name__ == "__main__":
    main()
