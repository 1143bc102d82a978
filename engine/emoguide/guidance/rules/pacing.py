"""Pacing: shot length against the arousal a shot carries.

Source: Cutting, DeLong & Nothelfer (2010), "Attention and the evolution of
Hollywood film", Psychological Science 21(3); Cutting, Brunick & Candan (2016)
on act structure: shots shorten where films build tension, and faster cutting
raises arousal and intensifies the valence a scene already has. We model the
expected shot length as ``base × 2^(−k·arousal)`` and flag shots that are
``pacing_tolerance`` times too long (high arousal held too long) or too short
(a calm moment cut too fast).
"""

from __future__ import annotations

from emoguide.guidance.model import Suggestion

SOURCE = "Cutting et al. 2010 (Psychol. Sci. 21:3), Cutting et al. 2016: shot length falls as tension rises"


def expected_shot_s(arousal: float, cfg) -> float:
    return cfg.base_shot_s * 2 ** (-cfg.shot_halving_per_arousal * arousal)


def pacing(facts, ctx) -> list[Suggestion]:
    cfg, out = ctx.config, []
    for f in facts:
        arousal = f.arousal
        if abs(arousal) < cfg.pacing_min_arousal_gap:
            continue
        expected = expected_shot_s(arousal, cfg)
        ratio = f.duration / expected
        if arousal > 0 and ratio >= cfg.pacing_tolerance:
            trim = f.duration - expected
            out.append(Suggestion(
                "pacing", f"Trim {trim:.1f} s: the shot outstays its intensity", f.where(ctx.rate),
                f"Arousal {arousal:+.2f} ({f.label}) suggests a shot of about {expected:.1f} s; this one runs "
                f"{f.duration:.1f} s ({ratio:.1f}×). Tightening keeps the energy the performance has.",
                "pacing.long_shot_high_arousal", SOURCE, f.confidence, min(1.0, (ratio - 1) / 3),
                f.clip_id, f.t0, f.t1, f.m0, f.m1, {"trim_s": round(trim, 2), "edge": "tail", "expected_s": round(expected, 2)}))
        elif arousal < 0 and ratio <= 1 / cfg.pacing_tolerance:
            extend = expected - f.duration
            out.append(Suggestion(
                "pacing", f"Let it breathe: extend by {extend:.1f} s", f.where(ctx.rate),
                f"A calm shot (arousal {arousal:+.2f}, {f.label}) cut at {f.duration:.1f} s, against about "
                f"{expected:.1f} s expected; quick cuts raise arousal the scene does not carry.",
                "pacing.short_shot_low_arousal", SOURCE, f.confidence, min(1.0, (1 / ratio - 1) / 3),
                f.clip_id, f.t0, f.t1, f.m0, f.m1, {"extend_s": round(extend, 2), "expected_s": round(expected, 2)}))
    return out


RULES = [pacing]
