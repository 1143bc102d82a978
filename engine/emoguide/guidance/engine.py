"""Running every rule over an analysis: ``guide(analysis, target, config) -> Guidance``."""

from __future__ import annotations

from dataclasses import dataclass

from emoguide.guidance.config import GuidanceConfig
from emoguide.guidance.facts import ClipFacts, clip_facts
from emoguide.guidance.model import Guidance
from emoguide.guidance.rules import arc, colour, cut_points, pacing, signals, sound
from emoguide.guidance.targets import TargetArc, resolve_target

ALL_RULES = [*pacing.RULES, *cut_points.RULES, *colour.RULES, *sound.RULES, *arc.RULES, *signals.RULES]


@dataclass
class RuleContext:
    config: GuidanceConfig
    target: TargetArc | None
    duration: float
    rate: float

    def target_at(self, t: float) -> tuple[float, float]:
        v, a = self.target.at(t / max(self.duration, 1e-6))
        return float(v), float(a)

    def intended(self, f: ClipFacts) -> tuple[float, float]:
        """What the cut wants from this shot: the target arc if given, else what the performance carries."""
        if self.target is not None:
            return self.target_at(0.5 * (f.t0 + f.t1))
        return f.valence, f.arousal


def guide(analysis, target: "TargetArc | str | None" = None, config: GuidanceConfig | None = None) -> Guidance:
    config = config or GuidanceConfig()
    duration = max(analysis.duration_s, max((c.job.timeline_end_s for c in analysis.clips), default=0.0))
    arc_target = resolve_target(target, duration)
    ctx = RuleContext(config, arc_target, duration, analysis.rate)
    facts = clip_facts(analysis)
    suggestions = [s for rule in ALL_RULES for s in rule(facts, ctx)]
    curve = arc_target.curve(duration) if arc_target is not None else None
    return Guidance(arc_target.name if arc_target else "none", suggestions, curve)
