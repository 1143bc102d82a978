"""Mixed signals (face vs voice vs words) and abrupt emotional jumps between neighbouring shots.

Mixed signals source: incongruent facial and vocal cues are read as irony or
insincerity, or simply confuse (Mehrabian & Ferris 1967; Hess, Kappas &
Scherer 1988 on multimodal emotion incongruence). Whether that is intended is
the editor's call, so the suggestion asks.
Transitions source: emotional continuity across cuts (Murch 2001 ranks emotion
first among his six criteria for a cut); a large valence/arousal jump between
adjacent shots feels abrupt unless bridged.
"""

from __future__ import annotations

from emoguide.guidance.model import Suggestion

MIXED_SOURCE = "Mehrabian & Ferris 1967; Hess, Kappas & Scherer 1988: incongruent face/voice cues read as irony"
JUMP_SOURCE = "Murch 2001, In the Blink of an Eye: emotion is the first criterion for a cut"


def mixed_signals(facts, ctx) -> list[Suggestion]:
    out = []
    for f in facts:
        if f.disagreement < ctx.config.disagreement or not f.disagreeing_pair:
            continue
        a, b = f.disagreeing_pair.split("~")
        la, lb = f.modality_labels.get(a, "?"), f.modality_labels.get(b, "?")
        out.append(Suggestion(
            "mixed_signals", f"Mixed signals: {a} says {la}, {b} says {lb}", f.where(ctx.rate),
            f"The {a} and the {b} disagree (divergence {f.disagreement:.2f}). Intended irony? If not, check the take, "
            "the dub or the music under it.", "mixed_signals.face_voice_words", MIXED_SOURCE, f.disagreement,
            0.5 * f.disagreement, f.clip_id, f.t0, f.t1, f.m0, f.m1, {"pair": f.disagreeing_pair, a: la, b: lb}))
    return out


def transitions(facts, ctx) -> list[Suggestion]:
    out = []
    video = [f for f in facts if f.analysis.job.track_kind == "Video"] or facts
    for prev, nxt in zip(video, video[1:]):
        dv, da = nxt.valence - prev.valence, nxt.arousal - prev.arousal
        jump = max(abs(dv), abs(da))
        if jump < ctx.config.jump:
            continue
        out.append(Suggestion(
            "transition", f"Abrupt jump {prev.label} → {nxt.label}", f"cut {prev.name} → {nxt.name} at "
            f"{nxt.where(ctx.rate, nxt.t0, nxt.t0).rsplit(' ', 1)[-1].split('–')[0]}",
            f"Valence moves {dv:+.2f} and arousal {da:+.2f} across this cut. Bridge it (a reaction shot, a J/L-cut, "
            "a longer transition) unless the shock is the point.", "transition.emotional_jump", JUMP_SOURCE,
            min(prev.confidence, nxt.confidence) + 0.3, min(1.0, jump / 1.5), nxt.clip_id, nxt.t0, nxt.t0,
            nxt.m0, nxt.m0, {"valence_change": round(dv, 3), "arousal_change": round(da, 3), "from": prev.clip_id}))
    return out


RULES = [mixed_signals, transitions]
