"""How close is a full analysis to the physical limit of decoding the same media?

For each target, in one run on the same media, prints:
  raw decode     plain PyAV decode of exactly the used ranges (video + audio, no scaling):
                 the least any analysis of this timeline must pay on this machine
  media decode   emoguide's media layer alone (decode + libav downscale + RGB at the
                 analysis's rate, 16 kHz audio)
  analyze        a full `analyze_timeline` at default settings, cold cache, models loaded
  cached         the same analysis again with a warm cache
and the ratios analyze / raw decode (goal ≤ 1.5×) and analyze / media decode.
Model loading is timed separately (the server pays it once per process).

Targets (default: 1080p 4k):
  1080p   40 s of real face footage (the repo's example clips, looped, scaled up) as
          1080p H.264, cut into 5 clips that use 60 % of it: the rest is never decoded
  4k      24 s of the same as 2160p HEVC (libx265; falls back to H.264 and says so
          when this PyAV lacks the encoder), 4 clips using 60 %
  demo    examples/demo.otio (480p, 6 clips)
  PATH    any timeline emoguide reads

Generated media is cached under --work (default /tmp/emoguide-bench), never in the repo.

    python benchmarks/bench_analyze.py                 # 1080p and 4K
    python benchmarks/bench_analyze.py demo cut.otio   # the demo and your own timeline
    python benchmarks/bench_analyze.py --repeat 5      # five raw decodes and analyses each: least and median
    python benchmarks/bench_analyze.py 1080p --ab-gate 6   # + gated vs every-frame, 6 rounds each
    python benchmarks/bench_analyze.py 4k --ab-loop-filter 5   # + loop filter skipped vs exact decode
    python benchmarks/bench_analyze.py --ab-overlap 6   # + decoding overlapped with the models vs before
    python benchmarks/bench_analyze.py --ab-half-fps 4  # + face detection at 4 vs 2 frames a second
    python benchmarks/bench_analyze.py --ab-table 6     # + detector input read from a summed-area table vs resized
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _media  # noqa: E402

GENERATED = {  # target → (size, codec, media seconds, clips)
    "1080p": ((1920, 1080), "libx264", 40.0, 5),
    "4k": ((3840, 2160), "libx265", 24.0, 4),
}


def build_target(target: str, work: Path) -> tuple[Path, str]:
    """(timeline path, note about how its media was made)."""
    if target == "demo":
        return _common.REPO / "examples" / "demo.otio", "repo demo timeline"
    if target not in GENERATED:
        return Path(target), "given timeline"
    size, codec, seconds, n_clips = GENERATED[target]
    used_codec, fallback = _media.pick_codec(codec)
    t0 = time.perf_counter()
    media = _media.face_media(work, size, used_codec, seconds)
    made_s = time.perf_counter() - t0
    path = _media.write_timeline(work / f"bench_{target}.otio", f"bench {target}",
                                 _media.sub_range_clips(media, seconds, n_clips))
    note = f"{size[0]}×{size[1]} {used_codec}, {seconds:g} s of looped face footage, GOP 2 s"
    note += f" ({'cached' if made_s < 1 else f'encoded in {made_s:.0f} s'})"
    return path, note + (f"; NOTE: {fallback}" if fallback else "")


def bench_one(path: Path, note: str, engine, settings, work: Path, repeat: int = 1) -> dict:
    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.cache import AnalysisCache
    from emoguide.timeline.mapping import clip_jobs, load_timeline

    timeline = load_timeline(path)
    base = path.resolve().parent
    jobs = clip_jobs(timeline, base)
    used_s = sum(j.media_duration_s for j in jobs if not j.problem)
    files = {j.source.path for j in jobs if j.source is not None and not j.problem}
    total_s = sum(_probe_duration(f) for f in files)

    _common.raw_decode(jobs)  # warm the OS file cache so every measurement reads from memory
    raw = _common.raw_decode(jobs)
    raw_skip = (_common.raw_decode(jobs, settings.skip_loop_filter) if settings.skip_loop_filter != "none"
                else None)
    media = _common.pipeline_decode(jobs, settings)
    cache_dir = work / "cache" / f"{path.stem}-{time.time_ns()}"
    cache = AnalysisCache(cache_dir)
    load0 = _common.load_average()
    with _common.Timer() as cold:
        result = analyze_timeline(timeline, base_dir=base, settings=settings, engine=engine, cache=cache)
    with _common.Timer() as warm:
        analyze_timeline(timeline, base_dir=base, settings=settings, engine=engine, cache=cache)
    rounds = [(raw.seconds, cold.s)]
    for _ in range(repeat - 1):  # more pairs, each a raw decode then a cold analysis
        again = _common.raw_decode(jobs)
        with _common.Timer() as t:
            analyze_timeline(timeline, base_dir=base, settings=settings, engine=engine,
                             cache=AnalysisCache(work / "cache" / f"{path.stem}-{time.time_ns()}"))
        rounds.append((again.seconds, t.s))
    statuses = [c.status for c in result.clips]
    print(f"-- {path.name}: {note}")
    print(f"   clips           {len(jobs)} ({statuses.count('ok')} ok); used media {used_s:.1f} s of {total_s:.1f} s "
          f"in {len(files)} file(s): {raw.video_frames} video frames decoded")
    print(f"   raw decode      {raw.seconds:8.2f} s  {used_s / raw.seconds:7.1f}× real time   (PyAV, used ranges only)")
    if raw_skip is not None:  # the analysis decodes this way: its ratio to this is printed too
        print(f"   raw, no filter  {raw_skip.seconds:8.2f} s  {used_s / raw_skip.seconds:7.1f}× real time   "
              f"(the same with the loop filter skipped as the analysis does: {settings.skip_loop_filter})")
    print(f"   media decode    {media.seconds:8.2f} s  {used_s / media.seconds:7.1f}× real time   "
          f"(+ scale to {settings.max_side} px, RGB, 16 kHz audio: {media.video_frames} frames)")
    print(f"   analyze         {cold.s:8.2f} s  {used_s / cold.s:7.1f}× real time   "
          f"ratio to raw decode {cold.s / raw.seconds:5.2f}× (goal ≤ 1.5×), to media decode "
          f"{cold.s / media.seconds:5.2f}×" + (f", to raw without the filter {cold.s / raw_skip.seconds:5.2f}×"
                                              if raw_skip is not None else ""))
    print(f"   analyze CPU     {cold.cpu:8.2f} s  (this process, all threads; {cold.steal:.2f} s stolen by the VM's "
          f"neighbours meanwhile)")
    print(f"   cached re-run   {warm.s:8.2f} s  ratio to raw decode {warm.s / raw.seconds:5.2f}×")
    if repeat > 1:
        import statistics

        raws, analyses = [r for r, _ in rounds], [a for _, a in rounds]
        print(f"   {repeat} rounds      raw decode {' '.join(f'{r:.2f}' for r in raws)} s; analyze "
              f"{' '.join(f'{a:.2f}' for a in analyses)} s (the first round is the one above)")
        print(f"   least / median  ratio {min(analyses) / min(raws):5.2f}× (least analysis ÷ least raw decode), "
              f"{statistics.median(analyses) / statistics.median(raws):5.2f}× (medians); per round "
              f"{' '.join(f'{a / r:.2f}' for r, a in rounds)}")
    print(f"   load average    {load0} before analyze, {_common.load_average()} after", flush=True)
    return {"target": path.name, "raw": min(r for r, _ in rounds), "media": media.seconds,
            "analyze": min(a for _, a in rounds), "cached": warm.s, "used_s": used_s, "cpu": cold.cpu,
            "rounds": len(rounds)}


def ab_gate(path: Path, engine, settings, work: Path, rounds: int) -> None:
    """Gated vs every-frame expression readings (see :func:`ab_runs`)."""
    ab_runs(path, engine, {"gated": {"settings": dataclasses.replace(settings, expression_every_frame=False)},
                           "every frame": {"settings": dataclasses.replace(settings, expression_every_frame=True)}},
            work, rounds, "gated vs every frame")


def ab_loop_filter(path: Path, engine, settings, work: Path, rounds: int) -> None:
    """The shipped loop-filter skipping (``settings``' level: this script keeps the default) vs an exact
    decode (see :func:`ab_runs`)."""
    shipped = settings.skip_loop_filter
    ab_runs(path, engine, {f"skip {shipped}": {"settings": dataclasses.replace(settings, skip_loop_filter=shipped)},
                           "exact decode": {"settings": dataclasses.replace(settings, skip_loop_filter="none")}},
            work, rounds, f"loop filter skipped ({shipped}) vs exact decode")


def ab_overlap(path: Path, engine, settings, work: Path, rounds: int) -> None:
    """Decoding overlapped with the models (shipped: one thread decoding ahead across clips, the detector
    run on key frames as they arrive) vs as before (a decoder per clip, the detector once per chunk).
    The same frames and the same detector batches either way (see :func:`ab_runs`)."""
    ab_runs(path, engine, {"overlapped": {"settings": settings},
                           "before": {"settings": settings, "decode_ahead": False, "early_detection": False}},
            work, rounds, "decode overlapped with the models vs a decoder per clip, detection per chunk")


def ab_half_fps(path: Path, engine, settings, work: Path, rounds: int) -> None:
    """The face detector at half the sampling rate (``--fps``; picture statistics sampled with it) vs the
    given rate: what a cheaper schedule saves. What it moves in the readings is
    ``bench_detect_schedule.py``'s subject (see :func:`ab_runs`)."""
    half = settings.sample_fps / 2
    ab_runs(path, engine, {f"{settings.sample_fps:g} fps": {"settings": settings},
                           f"{half:g} fps": {"settings": dataclasses.replace(settings, sample_fps=half)}},
            work, rounds, f"face detection at {settings.sample_fps:g} vs {half:g} frames a second")


def ab_table(path: Path, engine, settings, work: Path, rounds: int) -> None:
    """The face detector's pyramid and crops read from one summed-area table of the frames (shipped)
    vs resized from a float copy of them; the same boxes to float rounding (see :func:`ab_runs`)."""
    ab_runs(path, engine, {"table": {"settings": settings},
                           "float frames": {"settings": settings, "detector_from_table": False}},
            work, rounds, "detector input from a summed-area table vs area resizes of float frames")


#: ``--FLAG ROUNDS`` → (the comparison, what it compares, for ``--help``)
AB_COMPARISONS = {
    "ab-gate": (ab_gate, "the gated and every-frame expression readings"),
    "ab-overlap": (ab_overlap, "decoding overlapped with the models (shipped: decoding ahead across clips, detecting "
                               "key frames as they arrive) with a decoder per clip and detection per chunk"),
    "ab-loop-filter": (ab_loop_filter, "the shipped loop-filter skipping with an exact decode"),
    "ab-half-fps": (ab_half_fps, "face detection at --fps with half that rate"),
    "ab-table": (ab_table, "the face detector's input read from a summed-area table with area resizes of float "
                           "frames"),
}


def ab_runs(path: Path, engine, arms: dict, work: Path, rounds: int, title: str) -> None:
    """Two ways of running ``analyze_timeline`` (``arms``: name → its keyword arguments, the candidate
    first; ``early_detection=False`` also keeps the face detector from starting before a chunk is
    complete, ``detector_from_table=False`` sets ``FaceDetector.from_table``) in interleaved cold
    analyses in this process.

    A shared VM's neighbours move identical runs by 10-20 % (CPU seconds too: caches and clocks are
    shared), so one run each cannot show a ~10 % change. Interleaving spreads slow spells over both
    arms, and the minimum of each arm is the run least disturbed. The pairs (each round's two runs,
    back to back) share their slow spells most: their ratios' median, and how often the first arm
    won, pool across repeated A/Bs where the minima of a busier half hour would not.
    """
    import statistics

    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.cache import AnalysisCache
    from emoguide.timeline.mapping import load_timeline

    timeline = load_timeline(path)
    runs: dict[str, list] = {arm: [] for arm in arms}
    for i in range(rounds):
        for arm in (arms if i % 2 == 0 else reversed(list(arms))):  # alternate which arm goes first
            cache = AnalysisCache(work / "cache" / f"ab-{path.stem}-{time.time_ns()}")
            kwargs = dict(arms[arm])
            face = engine.recognisers.get("face")
            early = kwargs.pop("early_detection", True)
            if not early and face is not None:  # the detector only once the chunk is complete, as before
                face.detect_arrived = lambda *args: None
            from_table = kwargs.pop("detector_from_table", None)
            if from_table is not None:
                from_table, face.detector.from_table = face.detector.from_table, from_table  # keep the setting
            try:
                with _common.Timer() as t:
                    analyze_timeline(timeline, base_dir=path.resolve().parent, engine=engine, cache=cache, **kwargs)
            finally:
                if not early and face is not None:
                    del face.detect_arrived
                if from_table is not None:
                    face.detector.from_table = from_table
            runs[arm].append((t.s, t.cpu, t.steal))
    print(f"-- {path.name}: {title}, {rounds} interleaved rounds (wall s / CPU s / stolen s)")
    for arm, r in runs.items():
        listed = "  ".join(f"{w:.2f}/{c:.1f}/{st:.1f}" for w, c, st in r)
        print(f"   {arm:12s} min wall {min(w for w, _, _ in r):6.2f} s  min CPU {min(c for _, c, _ in r):6.1f} s   "
              f"median wall {statistics.median(w for w, _, _ in r):6.2f} s  "
              f"median CPU {statistics.median(c for _, c, _ in r):6.1f} s   [{listed}]")
    (a, ra), (b, rb) = runs.items()
    print(f"   {b} ÷ {a}: min wall {min(w for w, _, _ in rb) / min(w for w, _, _ in ra):.2f}×, "
          f"min CPU {min(c for _, c, _ in rb) / min(c for _, c, _ in ra):.2f}×, "
          f"median wall {statistics.median(w for w, _, _ in rb) / statistics.median(w for w, _, _ in ra):.2f}×, "
          f"median CPU {statistics.median(c for _, c, _ in rb) / statistics.median(c for _, c, _ in ra):.2f}×",
          flush=True)
    pairs = [wb / wa for (wa, _, _), (wb, _, _) in zip(ra, rb)]  # round by round: both arms ran back to back
    print(f"   pairs (wall, {b} ÷ {a}, round by round): {' '.join(f'{r:.2f}' for r in pairs)}; "
          f"median {statistics.median(pairs):.2f}×, {a} faster in {sum(r > 1 for r in pairs)} of {len(pairs)}",
          flush=True)


def warm_up(engine, settings, work: Path) -> None:
    """One short analysis first, so first-call costs (allocator, thread pools, lazy inits) are not timed."""
    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.timeline.mapping import load_timeline

    media = _common.REPO / "examples" / "media" / "cremad_1001_DFA_happy.mp4"
    path = _media.write_timeline(work / "warm_up.otio", "warm up", [(media, 0.0, 1.9)])
    with _common.Timer() as t:
        analyze_timeline(load_timeline(path), settings=settings, engine=engine)
    print(f"warm-up         {t.s:8.2f} s (one 1.9 s clip, not counted)", flush=True)


def _probe_duration(path) -> float:
    from emoguide.media.probe import probe

    return probe(path).duration_s


def main() -> None:
    from emoguide.pipeline.engine import Engine
    from emoguide.pipeline.windows import AnalysisSettings

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="*", default=["1080p", "4k"], help="1080p, 4k, demo or timeline paths")
    _common.add_common_args(p)
    p.add_argument("--no-brief", action="store_true", help="turn brief-expression spotting off (non-default)")
    p.add_argument("--every-frame", action="store_true",
                   help="read the expression net on every full-rate frame, not gated (non-default)")
    p.add_argument("--fps", type=float, default=AnalysisSettings.sample_fps,
                   help=f"face sampling rate (default {AnalysisSettings.sample_fps:g}, the analysis default)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="measure the raw decode and the cold analysis N times each, alternating, and also print the "
                        "ratio of the least of each and of the medians (a shared VM's neighbours move single runs "
                        "by 10-20 %%)")
    for flag, (_, what) in AB_COMPARISONS.items():
        p.add_argument(f"--{flag}", type=int, default=0, metavar="ROUNDS",
                       help=f"after the table, compare {what} on each target in ROUNDS interleaved cold analyses "
                            "(min and median of each)")
    args = p.parse_args()
    _common.start_like_the_command()
    args.work.mkdir(parents=True, exist_ok=True)
    _common.print_machine("bench_analyze: full analysis vs decode-only of the used ranges", args.device)
    built = [build_target(t, args.work) for t in args.targets]  # encode first: not part of any timing
    settings = AnalysisSettings(sample_fps=args.fps, spot_brief=not args.no_brief,
                                expression_every_frame=args.every_frame)
    with _common.Timer() as load:
        engine = Engine.load(device=args.device)
    expression = "on every frame" if settings.expression_every_frame else "gated"
    spotting = f"on (full rate, expression net {expression})" if settings.spot_brief else "off"
    print(f"settings        {'default' if settings == AnalysisSettings() else 'NON-DEFAULT'}: brief-expression "
          f"spotting {spotting}, face detection {settings.sample_fps:g} fps, "
          f"max side {settings.max_side} px, transcription {'on' if settings.transcribe else 'off'}, "
          f"loop filter skipped on: {settings.skip_loop_filter}")
    import torch

    print(f"torch threads   {torch.get_num_threads()} during the analyses (Engine.load's setting)")
    print(f"model load      {load.s:8.2f} s (once per process), device {engine.device}, "
          f"modalities {', '.join(sorted(engine.recognisers))}"
          + (f"; unavailable: {engine.unavailable}" if engine.unavailable else ""), flush=True)
    warm_up(engine, settings, args.work)
    rows = [bench_one(path, note, engine, settings, args.work, args.repeat) for path, note in built]
    least = " (least of each over the rounds)" if args.repeat > 1 else ""
    print(f"\nsummary (ratio = full analysis time / raw PyAV decode time of the same ranges{least}; goal ≤ 1.5×)")
    for r in rows:
        verdict = "met" if r["analyze"] / r["raw"] <= 1.5 else "MISSED"
        print(f"   {r['target']:<22} {r['used_s']:6.1f} s used   analyze {r['analyze']:7.2f} s   raw decode "
              f"{r['raw']:6.2f} s   ratio {r['analyze'] / r['raw']:6.2f}×  {verdict}   (analysis CPU {r['cpu']:.1f} s)")
    for flag, (compare, _) in AB_COMPARISONS.items():
        rounds = getattr(args, flag.replace("-", "_"))
        if rounds > 0:
            print()
            for path, _ in built:
                compare(path, engine, settings, args.work, rounds)


if __name__ == "__main__":
    main()
