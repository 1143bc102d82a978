"""Where an analysis spends its CPU, stage by stage.

One cold analysis per target with the picture and the sound run one after the
other (``Engine.parallel_modalities = False``), so the CPU seconds of the process
while a stage runs are that stage's (its own thread, torch's intra-op threads and
CTranslate2's), but for the picture's decoding: a decode thread runs beside the
models (``pipeline/decode_ahead.py``), decoding the frames to come while a model
reads the ones before. Its CPU and that of libav's worker threads is counted
per thread (Linux's ``/proc``) and taken out of every stage into a row of its
own. What is left over is everything else (audio decoding, tracking, crops,
windows, fusion). Stage CPU is what to compare across commits; wall times on a
shared VM move with the neighbours.

    python benchmarks/bench_stages.py              # the 1080p benchmark timeline
    python benchmarks/bench_stages.py 4k demo cut.otio

Targets are bench_analyze's (1080p, 4k, demo or a timeline path); media is
generated under --work, never in the repository. Elsewhere than on Linux the
decode threads cannot be told apart: their CPU stays in the stages, and the
media layer decoding the same ranges alone (its own decode settings, downscale,
RGB, 16 kHz audio) in a separate run estimates it.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import bench_analyze  # noqa: E402


class DecoderThreads:
    """CPU seconds so far of the threads that decode pictures: ours and libav's workers.

    Ours are the Python threads named in :data:`NAMES`; libav names its frame and slice
    threads ``av:<codec>:…``. Each reading sums every such thread seen so far, a thread
    that has ended counting with its last reading (so it loses only what it ran since).
    Time on the CPU comes from ``/proc/self/task/<tid>/schedstat`` (nanoseconds), else from
    ``stat``'s clock ticks.
    """

    NAMES = ("emoguide-decode-ahead", "emoguide-prefetch")
    TASKS = "/proc/self/task"

    def __init__(self) -> None:
        self.available = os.path.isdir(self.TASKS)
        self._last: dict[str, float] = {}
        self._tick = os.sysconf("SC_CLK_TCK") if self.available else 100

    def cpu(self) -> float:
        if not self.available:
            return 0.0
        ours = {str(t.native_id) for t in threading.enumerate() if t.name in self.NAMES}
        for tid in os.listdir(self.TASKS):
            try:
                if tid not in ours and not _read(f"{self.TASKS}/{tid}/comm").startswith("av:"):
                    continue
                self._last[tid] = self._thread_cpu(tid)
            except OSError:  # ended between the listing and the read
                continue
        return sum(self._last.values())

    def _thread_cpu(self, tid: str) -> float:
        try:
            return int(_read(f"{self.TASKS}/{tid}/schedstat").split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            fields = _read(f"{self.TASKS}/{tid}/stat").rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self._tick


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


class StageClock:
    """CPU and wall seconds spent inside wrapped methods, by stage name, less the decode threads' CPU."""

    def __init__(self, decoders: DecoderThreads) -> None:
        self.decoders = decoders
        self.cpu = collections.defaultdict(float)
        self.wall = collections.defaultdict(float)
        self.calls = collections.Counter()

    def wrap(self, owner, method: str, stage: str) -> None:
        """Time ``owner.method`` (a class, or one object) from now on, as ``stage``."""
        inner = getattr(owner, method)
        clock = self

        def timed(*args, **kwargs):
            cpu, wall, decoding = time.process_time(), time.perf_counter(), clock.decoders.cpu()
            try:
                return inner(*args, **kwargs)
            finally:
                decoding = clock.decoders.cpu() - decoding
                clock.cpu[stage] += time.process_time() - cpu - decoding
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
    decoders = DecoderThreads()
    clock = StageClock(decoders)
    instrument(engine, clock)
    for path, note in built:
        clock.clear()
        cpu, wall, decoding = time.process_time(), time.perf_counter(), decoders.cpu()
        analyze_timeline(load_timeline(path), base_dir=path.resolve().parent, settings=settings, engine=engine)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        decoding = decoders.cpu() - decoding
        print(f"-- {path.name} ({note}): {wall:.2f} s wall, {cpu:.2f} CPU-s")
        print(f"   {'stage':28s} {'CPU s':>7s} {'share':>6s} {'wall s':>7s} {'calls':>6s}")
        for stage, seconds in sorted(clock.cpu.items(), key=lambda kv: -kv[1]):
            print(f"   {stage:28s} {seconds:7.2f} {seconds / cpu:6.1%} {clock.wall[stage]:7.2f} "
                  f"{clock.calls[stage]:6d}")
        rest = cpu - sum(clock.cpu.values()) - decoding
        if decoders.available:
            print(f"   {'picture decoding':28s} {decoding:7.2f} {decoding / cpu:6.1%}          (the decode "
                  f"threads and libav's, beside the models)")
            print(f"   {'the rest':28s} {rest:7.2f} {rest / cpu:6.1%}          (audio decoding, tracking, crops, "
                  f"picture statistics, windows, fusion, queues)", flush=True)
        else:  # no per-thread CPU: the decode threads' is in the stages; a separate decode gives an estimate
            media = decode_alone(path, settings)
            print(f"   {'decoding and the rest':28s} {rest:7.2f} {rest / cpu:6.1%}          (no /proc: the decode "
                  f"threads' CPU is in the stages too; the media layer alone on the same ranges, a separate run: "
                  f"{media:.2f} CPU-s)", flush=True)
    print(f"\nload average at the end: {_common.load_average()}")


if __name__ == "__main__":
    main()
