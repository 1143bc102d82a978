"""Sound: level and music energy against the arousal in the picture.

Source: loudness is among the strongest acoustic cues to arousal (Juslin &
Laukka 2003, Psychol. Bull. 129(5), cross-modal review of vocal and musical
expression). A high-arousal shot played quietly, or a calm shot under loud
music, works against itself.
"""

from __future__ import annotations

from emoguide.guidance.model import Suggestion

SOURCE = "Juslin & Laukka 2003 (Psychol. Bull. 129:5): loudness and tempo signal arousal in voice and music"


def sound(facts, ctx) -> list[Suggestion]:
    cfg, out = ctx.config, []
    for f in facts:
        level = f.stats.get("audio_loudness_db")
        if level is None:
            continue
        music = f.stats.get("audio_music_prob", 0.0)
        want_a = ctx.intended(f)[1]
        if want_a >= cfg.high_arousal and level <= cfg.quiet_db:
            out.append(Suggestion(
                "sound", "Lift the sound: more level or a driving cue", f.where(ctx.rate),
                f"The shot should carry arousal {want_a:+.2f} but its audio sits at {level:.0f} dBFS: loudness is one "
                "of the strongest arousal cues, so the scene plays flatter than it looks.",
                "sound.quiet_under_high_arousal", SOURCE, min(1.0, 0.4 + f.confidence), min(1.0, (cfg.quiet_db - level + 10) / 30),
                f.clip_id, f.t0, f.t1, f.m0, f.m1, {"gain_db": round(min(12.0, cfg.quiet_db + 12 - level), 1)}))
        elif want_a <= cfg.low_arousal and level >= cfg.loud_db:
            kind = "music" if music >= 0.5 else "sound"
            out.append(Suggestion(
                "sound", f"Bring the {kind} down for a calm moment", f.where(ctx.rate),
                f"A calm shot (arousal {want_a:+.2f}) under {level:.0f} dBFS of {kind}"
                f"{f' (music-likeness {music:.2f})' if kind == 'music' else ''}: the audio pushes energy the picture does not have.",
                "sound.loud_under_calm", SOURCE, min(1.0, 0.4 + f.confidence), min(1.0, (level - cfg.loud_db + 6) / 20),
                f.clip_id, f.t0, f.t1, f.m0, f.m1, {"gain_db": round(cfg.loud_db - 6 - level, 1), "music": music >= 0.5}))
    return out


RULES = [sound]
