"""Per-clip facts the rules reason about, distilled once from a TimelineAnalysis."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emoguide.labels import LABELS


@dataclass
class ClipFacts:
    clip_id: str
    name: str
    track: str
    t0: float  # timeline seconds
    t1: float
    m0: float  # media seconds
    m1: float
    label: str
    probability: float
    valence: float
    arousal: float
    confidence: float
    stats: dict[str, float] = field(default_factory=dict)  # window means of picture/sound stats
    disagreement: float = 0.0
    disagreeing_pair: str = ""
    modality_labels: dict[str, str] = field(default_factory=dict)
    analysis: object = None  # the ClipAnalysis, for rules that need windows or events

    @property
    def duration(self) -> float:
        return self.t1 - self.t0

    def where(self, rate: float, t0: float | None = None, t1: float | None = None) -> str:
        return f"{self.track} '{self.name}' {tc(self.t0 if t0 is None else t0, rate)}–{tc(self.t1 if t1 is None else t1, rate)}"


def tc(seconds: float, rate: float) -> str:
    fps = max(1, int(round(rate)))
    frames = int(round(seconds * rate))
    return f"{frames // (3600 * fps):02d}:{frames // (60 * fps) % 60:02d}:{frames // fps % 60:02d}:{frames % fps:02d}"


def clip_facts(analysis) -> list[ClipFacts]:
    """Analysed clips in timeline order (video before audio at equal times)."""
    out = []
    for clip in analysis.clips:
        w = clip.windows
        if clip.status != "ok" or w is None or not len(w):
            continue
        s = clip.summary()
        stats = {}
        for key, values in w.stats.items():
            values = np.asarray(values, float)
            if np.isfinite(values).any():
                stats[key] = float(np.nanmean(values))
        worst = int(np.argmax(w.disagreement))
        # each modality's reading in the window where they disagree most
        labels = {m: LABELS[int(np.asarray(cols["probs"])[worst].argmax())] for m, cols in w.modalities.items()
                  if np.asarray(cols.get("present", []))[worst]}
        out.append(ClipFacts(
            clip_id=clip.job.clip_id, name=clip.job.clip_name, track=clip.job.track_name,
            t0=clip.job.timeline_start_s, t1=clip.job.timeline_end_s, m0=clip.job.media_start_s, m1=clip.job.media_end_s,
            label=s["label"], probability=s["probability"], valence=s["vad"][0], arousal=s["vad"][1],
            confidence=s["confidence"], stats=stats, disagreement=float(w.disagreement[worst]),
            disagreeing_pair=w.disagreeing_pair[worst], modality_labels=labels, analysis=clip))
    return sorted(out, key=lambda f: (f.t0, f.track))
