"""Where an analysis spends its CPU, stage by stage.

One cold analysis per target with the picture and the sound run one after the
other (``Engine.parallel_modalities = False``), so the CPU seconds of the whole
process while a stage runs are that stage's: its own thread, torch's intra-op
threads and CTranslate2's. What is left over is decoding and everything else
(scaling, tracking, crops, windows, fusion). To split the two, the media layer
then decodes the same ranges alone, as the analysis does (its own decode
settings, downscale, RGB, 16 kHz audio): its CPU is the decoding's share, and
what remains is the rest. Stage CPU is what to compare across commits; wall
times on a shared VM move with the neighbours.

    python benchmarks/bench_stages.py              # the 1080p benchmark timeline
    python benchmarks/bench_stages.py 4k demo cut.otio

Targets are bench_analyze's (1080p, 4k, demo or a timeline path); media is
generated under --work, never in the repository.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import bench_analyze  # noqa: E402


class StageClock:
    """Process CPU, thread CPU and wall seconds spent inside wrapped methods, by stage name."""

    def __init__(self) -> None:
        self.cpu = collections.defaultdict(float)
        self.wall = collections.defaultdict(float)
        self.calls = collections.Counter()

    def wrap(self, owner, method: str, stage: str) -> None:
        """Time ``owner.method`` (a class, or one object) from now on, as ``stage``."""
        inner = getattr(owner, method)
        clock = self

        def timed(*args, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                clock.cpu[stage] += time.process_time() - cpu
                clock.wall[stage] += time.perf_counter() - wall
                clock.calls[stage] += 1

        setattr(owner, method, timed)

    def clear(self) -> None:
        for totals in (self.cpu, self.wall, self.calls):
            totals.clear()


def instrument(engine, clock: StageClock) -> None:
    """The model calls of each modality, on the loaded recognisers' objects only."""
    face, voice, text = (engine.recognisers.get(m) for m in ("face", "voice", "text"))
    if face is not None:
        clock.wrap(face.detector, "detect", "face detector")
        clock.wrap(face, "classify_crops", "face expression nets")
    if voice is not None:
        clock.wrap(voice.backbone, "encode", "voice encoder")
        clock.wrap(voice, "frame_tracks", "voice prosody + speech")
        clock.wrap(voice, "windows_from_frames", "voice heads")
        clock.wrap(voice, "transcribe", "transcription (Whisper)")
    if text is not None:
        clock.wrap(text, "forward_texts", "text model")


def decode_alone(path: Path, settings) -> float:
    """CPU seconds of the media layer decoding ``path``'s used ranges as the analysis does, nothing else."""
    from emoguide.timeline.mapping import clip_jobs, load_timeline

    jobs = clip_jobs(load_timeline(path), path.resolve().parent)
    with _common.Timer() as timer:
        _common.pipeline_decode(jobs, settings)
    return timer.cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="*", default=["1080p"], help="1080p, 4k, demo or timeline paths")
    _common.add_common_args(p)
    args = p.parse_args()
    _common.start_like_the_command()
    args.work.mkdir(parents=True, exist_ok=True)
    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.engine import Engine
    from emoguide.pipeline.windows import AnalysisSettings
    from emoguide.timeline.mapping import load_timeline

    _common.print_machine("bench_stages: CPU by stage, picture and sound one after the other", args.device)
    built = [bench_analyze.build_target(t, args.work) for t in args.targets]
    engine = Engine.load(device=args.device)
    engine.parallel_modalities = False
    settings = AnalysisSettings()
    bench_analyze.warm_up(engine, settings, args.work)
    clock = StageClock()
    instrument(engine, clock)
    for path, note in built:
        clock.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        analyze_timeline(load_timeline(path), base_dir=path.resolve().parent, settings=settings, engine=engine)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"-- {path.name} ({note}): {wall:.2f} s wall, {cpu:.2f} CPU-s")
        print(f"   {'stage':28s} {'CPU s':>7s} {'share':>6s} {'wall s':>7s} {'calls':>6s}")
        for stage, seconds in sorted(clock.cpu.items(), key=lambda kv: -kv[1]):
            print(f"   {stage:28s} {seconds:7.2f} {seconds / cpu:6.1%} {clock.wall[stage]:7.2f} "
                  f"{clock.calls[stage]:6d}")
        rest = cpu - sum(clock.cpu.values())
        print(f"   {'decoding and the rest':28s} {rest:7.2f} {rest / cpu:6.1%}", flush=True)
        decode = decode_alone(path, settings)
        print(f"   {'  of which decoding':28s} {decode:7.2f} {decode / cpu:6.1%}   (the media layer alone, same "
              f"ranges, a separate run)")
        if rest >= decode:
            print(f"   {'  and the rest':28s} {rest - decode:7.2f} {(rest - decode) / cpu:6.1%}   (tracking, crops, "
                  f"picture statistics, windows, fusion, queues)", flush=True)
        else:  # two runs of the same decode differ by more than what is left: the rest is lost in that noise
            print(f"   {'  and the rest':28s} {'~0':>7s}          (the separate decode read {decode - rest:.2f} s more "
                  f"than the whole remainder: run-to-run noise)", flush=True)
    print(f"\nload average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()
