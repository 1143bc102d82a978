"""Cut points: at brief-expression offsets and at emotional turns inside a clip.

Source: editing practice summarised by Murch ("In the Blink of an Eye", 2001):
cut on the completion of a thought or emotion; the offset of an expression is
where the beat lands. Brief expressions come from the face recogniser's
onset–apex–offset spotting; turns are changes of the dominant fused emotion
between confident windows.
"""

from __future__ import annotations

import numpy as np

from emoguide.guidance.model import Suggestion
from emoguide.labels import LABELS

SOURCE = "Murch 2001, In the Blink of an Eye: cut when the emotion completes (expression offset)"


def cut_points(facts, ctx) -> list[Suggestion]:
    cfg, out = ctx.config, []
    for f in facts:
        clip = f.analysis
        job = clip.job
        for e in clip.events:
            if e.strength < cfg.brief_min_strength:
                continue
            t = job.media_to_timeline(e.offset_s)
            out.append(Suggestion(
                "cut_point", f"Cut point: after the brief {e.label} ({tc_short(t)})", f.where(ctx.rate, t, t),
                f"A brief {e.label} expression peaks at {e.apex_s - job.media_start_s:.2f} s into the shot and is gone "
                f"by {e.offset_s - job.media_start_s:.2f} s (strength {e.strength:.2f}): cutting at its offset lands on the beat.",
                "cut_point.brief_expression_offset", SOURCE, min(1.0, e.strength + 0.3), 0.35,
                f.clip_id, t, t, e.offset_s, e.offset_s, {"cut_at_media_s": round(e.offset_s, 3), "label": e.label}))
        w = clip.windows
        labels = w.probs.argmax(1)
        confident = w.probs.max(1) >= cfg.turn_min_probability
        for i in range(1, len(w)):
            if labels[i] != labels[i - 1] and confident[i] and confident[i - 1]:
                m = float(0.5 * (w.start_s[i] + w.end_s[i - 1]))
                t = job.media_to_timeline(m)
                a, b = LABELS[labels[i - 1]], LABELS[labels[i]]
                out.append(Suggestion(
                    "cut_point", f"Emotional turn {a} → {b}: a natural in/out point", f.where(ctx.rate, t, t),
                    f"The reading turns from {a} to {b} around {m - job.media_start_s:.1f} s into the shot; "
                    "an edit here follows the turn instead of cutting across it.",
                    "cut_point.emotional_turn", SOURCE, float(np.minimum(w.probs[i].max(), w.probs[i - 1].max())), 0.3,
                    f.clip_id, t, t, m, m, {"cut_at_media_s": round(m, 3), "from": a, "to": b}))
    return out


def tc_short(t: float) -> str:
    return f"{int(t // 60):02d}:{t % 60:05.2f}"


RULES = [cut_points]
