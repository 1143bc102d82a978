"""Colour: which way to grade when the image works against the intended emotion.

Source: Valdez & Mehrabian (1994), "Effects of color on emotions", J. Exp.
Psychol. General 123(4): on standardised brightness B and saturation S,
pleasure = .69·B + .22·S and arousal = −.31·B + .60·S. We compute what a shot's
picture implies and compare it with what the cut intends there (the target arc
when one is given, else the emotion the performance carries). To raise
pleasure, brighten (and a little saturation); to raise arousal, saturate and
darken slightly; the suggestion names the direction, not a LUT.
"""

from __future__ import annotations

from emoguide.guidance.model import Suggestion

SOURCE = "Valdez & Mehrabian 1994 (J. Exp. Psychol. Gen. 123:4): P = .69B + .22S, A = −.31B + .60S"


def implied(f, cfg) -> tuple[float, float] | None:
    if "brightness" not in f.stats or "saturation" not in f.stats:
        return None
    b = (f.stats["brightness"] - cfg.brightness_mean) / cfg.brightness_sd
    s = (f.stats["saturation"] - cfg.saturation_mean) / cfg.saturation_sd
    return 0.69 * b + 0.22 * s, -0.31 * b + 0.60 * s


def colour(facts, ctx) -> list[Suggestion]:
    cfg, out = ctx.config, []
    for f in facts:
        pa = implied(f, cfg)
        if pa is None:
            continue
        pleasure, arousal = pa
        want_v, want_a = ctx.intended(f)
        # intended valence/arousal are −1..1; the implied values are in SD units: compare on a shared scale
        gap_p = cfg.colour_intent_scale * want_v - pleasure
        gap_a = cfg.colour_intent_scale * want_a - arousal
        directions, reasons = {}, []
        if abs(gap_p) >= cfg.colour_min_gap and (want_v > 0.15 or want_v < -0.15):
            sign = 1 if gap_p > 0 else -1
            directions.update(brightness=sign, saturation=sign)
            reasons.append(f"the picture reads {'darker and flatter' if sign > 0 else 'brighter and richer'} "
                           f"(implied pleasure {pleasure:+.1f} SD) than the {want_v:+.2f} valence intended")
        if abs(gap_a) >= cfg.colour_min_gap and (want_a > 0.2 or want_a < -0.1):
            sign = 1 if gap_a > 0 else -1
            directions["saturation"] = sign  # saturation carries arousal (.60) more than pleasure (.22)
            directions.setdefault("brightness", -sign)  # and brightness lowers arousal (−.31)
            reasons.append(f"its saturation implies arousal {arousal:+.1f} SD against {want_a:+.2f} intended")
        if not directions:
            continue
        words = [("brighter" if v > 0 else "darker") if k == "brightness" else ("more saturated" if v > 0 else "less saturated")
                 for k, v in directions.items() if v]
        if want_v > 0.15 and f.stats.get("warmth", 0) < 0:
            words.append("warmer")
            directions["warmth"] = 1
        elif want_v < -0.15 and f.stats.get("warmth", 0) > 0.05:
            words.append("cooler")
            directions["warmth"] = -1
        gap = max(abs(gap_p), abs(gap_a)) / cfg.colour_intent_scale
        out.append(Suggestion(
            "colour", f"Grade {', '.join(words)}", f.where(ctx.rate),
            "; ".join(reasons).capitalize() + f" (brightness {f.stats['brightness']:.2f}, saturation "
            f"{f.stats['saturation']:.2f}).", "colour.valdez_mehrabian", SOURCE, min(1.0, 0.5 + f.confidence / 2),
            min(1.0, gap / 2), f.clip_id, f.t0, f.t1, f.m0, f.m1, {"grade": directions}))
    return out


RULES = [colour]
