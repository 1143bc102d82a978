"""Objective evaluation of the guidance: planted faults in generated timelines, precision and recall.

The generator builds timelines from real labelled clips (CREMA-D talking faces,
``crema_d_sample/VideoFlash``) and a known target arc, then plants three kinds
of fault, each with a ground truth that comes from the dataset labels, never
from our models:

* off-target clip: a clip whose *labelled* emotion (category norms) lies far
  from the target arc at its position → the ``arc`` rule should flag it;
* wrong grade: at the target's most positive slot, a clip whose labelled emotion is positive, re-rendered dark and
  desaturated with a libav ``lutyuv`` filter → the ``colour`` rule should flag it;
* wrong pacing: a high-arousal clip (angry/fearful) held four times longer on
  the timeline (LinearTimeWarp 0.25) → the ``pacing`` rule should flag it.

Every other slot gets the clip whose label fits the target best. The real
pipeline analyses every timeline (each clip is decoded once, then cached), the
guidance runs, and a flag counts as a hit when it lands on a planted clip of its
kind. Precision = hits / flags of that kind; recall = hits / planted.

    emoguide eval --task guidance --data ../shared/data
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from emoguide.labels import CATEGORY_VAD, to_common

FAULTS = ("arc", "colour", "pacing")
SEED = 20261124


@dataclass
class GuidanceEvalReport:
    n_timelines: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # kind → {planted, flagged, hits}
    notes: list[str] = field(default_factory=list)

    def precision(self, kind: str) -> float:
        c = self.counts[kind]
        return c["hits"] / c["flagged"] if c["flagged"] else float("nan")

    def recall(self, kind: str) -> float:
        c = self.counts[kind]
        return c["hits"] / c["planted"] if c["planted"] else float("nan")

    def format(self) -> str:
        lines = [f"== guidance: planted faults in {self.n_timelines} generated timelines (seed {SEED})",
                 f"{'fault':<8}{'planted':>9}{'flagged':>9}{'hits':>6}{'precision':>11}{'recall':>8}"]
        tot = {"planted": 0, "flagged": 0, "hits": 0}
        for kind in FAULTS:
            c = self.counts[kind]
            for k in tot:
                tot[k] += c[k]
            lines.append(f"{kind:<8}{c['planted']:>9}{c['flagged']:>9}{c['hits']:>6}"
                         f"{self.precision(kind):>11.2f}{self.recall(kind):>8.2f}")
        p = tot["hits"] / tot["flagged"] if tot["flagged"] else float("nan")
        r = tot["hits"] / tot["planted"] if tot["planted"] else float("nan")
        lines.append(f"{'overall':<8}{tot['planted']:>9}{tot['flagged']:>9}{tot['hits']:>6}{p:>11.2f}{r:>8.2f}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def render_variant(src: Path, dst: Path, graded: bool) -> Path:
    """Re-encode ``src`` to H.264/AAC; ``graded`` darkens luma to 55 % and chroma to 30 % (libav lutyuv)."""
    import av

    if dst.is_file():
        return dst
    tmp = dst.with_name(dst.stem + ".part.mp4")
    rate = Fraction(30000, 1001)
    with av.open(str(src)) as vid, av.open(str(src)) as aud, av.open(str(tmp), "w") as out:
        vin = vid.streams.video[0]
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        aout = out.add_stream("aac", rate=16000, layout="mono")
        graph = None
        if graded:
            graph = av.filter.Graph()
            buf = graph.add_buffer(template=vin)
            eq = graph.add("lutyuv", "y=val*0.55:u=128+(val-128)*0.3:v=128+(val-128)*0.3")
            sink = graph.add("buffersink")
            buf.link_to(eq)
            eq.link_to(sink)
            graph.configure()
        for n, frame in enumerate(vid.decode(vin)):
            if graph is not None:
                graph.push(frame)
                frame = graph.pull()
            f = frame.reformat(format="yuv420p")
            f.pts, f.time_base = n, 1 / rate
            for packet in vout.encode(f):
                out.mux(packet)
        for packet in vout.encode():
            out.mux(packet)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=16000)
        for frame in aud.decode(aud.streams.audio[0]):
            frame.pts = None
            for r in resampler.resample(frame):
                for packet in aout.encode(r):
                    out.mux(packet)
        for packet in aout.encode():
            out.mux(packet)
    tmp.replace(dst)
    return dst


def clip_pool(data_dir: Path, work: Path) -> dict[str, dict]:
    """label → {"path", "graded_path"} for the CREMA-D AV clips of actor 1001."""
    pool = {}
    for flv in sorted((Path(data_dir) / "crema_d_sample" / "VideoFlash").glob("*.flv")):
        label = to_common("crema_d", flv.stem.split("_")[2])
        pool[label] = {"path": render_variant(flv, work / f"{flv.stem}.mp4", graded=False),
                       "graded_path": render_variant(flv, work / f"{flv.stem}_graded.mp4", graded=True)}
    if not pool:
        raise FileNotFoundError(f"no CREMA-D clips in {data_dir}/crema_d_sample/VideoFlash")
    return pool


def generate(pool: dict[str, dict], rng: random.Random, slots: int = 6):
    """One timeline: (otio Timeline, target name, {fault: set(clip_ids)})."""
    import opentimelineio as otio

    from emoguide.guidance.targets import TargetArc

    target_name = rng.choice(["rising", "falling", "four-act"])
    target = TargetArc.preset(target_name)
    positions = [(i + 0.5) / slots for i in range(slots)]
    planted: dict[str, set[str]] = {k: set() for k in FAULTS}
    # a wrong grade is only wrong against a positive intent: it goes where the target is most positive
    colour_slot = max(range(slots), key=lambda i: float(target.at(positions[i])[0]))
    others = rng.sample([i for i in range(slots) if i != colour_slot], 2)
    faults = {colour_slot: "colour", **dict(zip(others, rng.sample(["arc", "pacing"], 2)))}
    track = otio.schema.Track(name="V1")
    for i, pos in enumerate(positions):
        tv, ta = (float(x) for x in target.at(pos))
        dist = {lab: float(np.hypot(CATEGORY_VAD[lab][0] - tv, CATEGORY_VAD[lab][1] - ta)) for lab in pool}
        fitting = min(dist, key=dist.get)
        kind, speed, graded = faults.get(i), 1.0, False
        label = fitting
        if kind == "arc":
            label = max(dist, key=dist.get)
        elif kind == "colour":
            positive = [lab for lab in pool if CATEGORY_VAD[lab][0] > 0.2]
            label, graded = (positive[0] if positive else fitting), True
        elif kind == "pacing":
            intense = [lab for lab in pool if CATEGORY_VAD[lab][1] > 0.5]
            label, speed = rng.choice(intense), 0.25
        path = pool[label]["graded_path" if graded else "path"]
        clip = otio.schema.Clip(name=f"{i}_{label}{'_graded' if graded else ''}",
                                media_reference=otio.schema.ExternalReference(target_url=str(path)),
                                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24),
                                                                     otio.opentime.RationalTime(round(1.8 / speed * 24), 24)))
        if speed != 1.0:
            clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))
        track.append(clip)
        if kind:
            planted[kind].add(f"V1/{i}")
    timeline = otio.schema.Timeline(name=f"generated {target_name}")
    timeline.tracks.append(track)
    return timeline, target_name, planted


def evaluate(data_dir: Path, n_timelines: int = 40) -> GuidanceEvalReport:
    from emoguide.guidance import guide
    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.cache import AnalysisCache
    from emoguide.pipeline.engine import Engine
    from emoguide.pipeline.windows import AnalysisSettings

    work = Path(tempfile.gettempdir()) / "emoguide_guidance_eval"
    work.mkdir(parents=True, exist_ok=True)
    pool = clip_pool(Path(data_dir), work)
    engine = Engine.load()
    cache = AnalysisCache(work / "cache")
    settings = AnalysisSettings(spot_brief=False)
    rng = random.Random(SEED)
    report = GuidanceEvalReport(n_timelines, {k: {"planted": 0, "flagged": 0, "hits": 0} for k in FAULTS})
    for _ in range(n_timelines):
        timeline, target, planted = generate(pool, rng)
        analysis = analyze_timeline(timeline, settings=settings, engine=engine, cache=cache)
        flagged = {k: {s.clip_id for s in guide(analysis, target).by_kind(k)} for k in FAULTS}
        for k in FAULTS:
            report.counts[k]["planted"] += len(planted[k])
            report.counts[k]["flagged"] += len(flagged[k])
            report.counts[k]["hits"] += len(flagged[k] & planted[k])
    report.notes.append(f"clips: CREMA-D actor 1001, labels {', '.join(sorted(pool))}; ground truth from dataset "
                        "labels and category norms, not from our models; one fault of each kind per timeline")
    if engine.unavailable:
        report.notes.append(f"modalities unavailable: {engine.unavailable}")
    return report
