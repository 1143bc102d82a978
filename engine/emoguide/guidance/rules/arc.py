"""Arc: where the measured valence/arousal departs from the target arc, and by how much.

Source: the editor's own intent (the target arc), with the shape presets after
Cutting, Brunick & Candan (2016) and the emotional-arc analysis of Reagan et al.
(2016, "The emotional arcs of stories are dominated by six basic shapes",
EPJ Data Science 5:31). Distance is Euclidean in the valence-arousal plane.
"""

from __future__ import annotations

import numpy as np

from emoguide.guidance.model import Suggestion

SOURCE = "Reagan et al. 2016 (EPJ Data Sci. 5:31) arc shapes; the editor's target arc"


def arc(facts, ctx) -> list[Suggestion]:
    if ctx.target is None:
        return []
    cfg, out = ctx.config, []
    total = max(ctx.duration, 1e-6)
    for f in facts:
        want_v, want_a = ctx.target_at(0.5 * (f.t0 + f.t1))
        dv, da = f.valence - want_v, f.arousal - want_a
        distance = float(np.hypot(dv, da))
        if distance < cfg.arc_tolerance:
            continue
        parts = []
        if abs(dv) >= cfg.arc_tolerance / 2:
            parts.append(f"{'more positive' if dv > 0 else 'more negative'} (valence {f.valence:+.2f} vs {want_v:+.2f})")
        if abs(da) >= cfg.arc_tolerance / 2:
            parts.append(f"{'more intense' if da > 0 else 'calmer'} (arousal {f.arousal:+.2f} vs {want_a:+.2f})")
        out.append(Suggestion(
            "arc", f"Off the {ctx.target.name} arc by {distance:.2f}", f.where(ctx.rate),
            f"This {f.label} shot reads " + " and ".join(parts or ["off target"]) + " than the arc wants here: "
            "swap in a take that plays closer, move the shot, or re-balance with sound and grade.",
            "arc.departure", SOURCE, f.confidence, min(1.0, distance * (0.5 + f.duration / total)),
            f.clip_id, f.t0, f.t1, f.m0, f.m1,
            {"distance": round(distance, 3), "valence_gap": round(dv, 3), "arousal_gap": round(da, 3)}))
    return out


RULES = [arc]
