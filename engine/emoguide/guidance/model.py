"""What guidance is: suggestions an editor can act on, each with where, why and how sure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

KINDS = ("pacing", "cut_point", "colour", "sound", "arc", "mixed_signals", "transition")


@dataclass
class Suggestion:
    kind: str  # one of KINDS
    title: str  # short and imperative: "Trim 1.2 s from the tail"
    where: str  # human: "V1 'interview_03' 00:00:04:12–00:00:06:00"
    reason: str  # one or two sentences with the numbers
    rule: str  # rule name (docs/guidance.md lists them)
    source: str  # the research or practice the rule comes from
    confidence: float  # 0..1, how sure the measurement behind it is
    impact: float  # 0..1, how much it matters for the cut (sort key)
    clip_id: str = ""  # "" for timeline-level suggestions
    timeline_start_s: float = 0.0
    timeline_end_s: float = 0.0
    media_start_s: float | None = None  # for markers on the clip
    media_end_s: float | None = None
    action: dict[str, Any] = field(default_factory=dict)  # machine-readable: {"trim_s": 1.2, "edge": "tail"}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Guidance:
    target_name: str
    suggestions: list[Suggestion]
    target_curve: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # (times_s, valence, arousal)

    def __post_init__(self) -> None:
        self.suggestions.sort(key=lambda s: (-s.impact * s.confidence, s.timeline_start_s))

    def by_kind(self, kind: str) -> list[Suggestion]:
        return [s for s in self.suggestions if s.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        curve = None
        if self.target_curve is not None:
            curve = {k: np.round(np.asarray(v, float), 4).tolist() for k, v in zip(("t", "valence", "arousal"),
                                                                                   self.target_curve)}
        return {"target": self.target_name, "suggestions": [s.to_dict() for s in self.suggestions],
                "target_curve": curve}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Guidance":
        curve = d.get("target_curve")
        return cls(d["target"], [Suggestion(**s) for s in d["suggestions"]],
                   None if curve is None else tuple(np.asarray(curve[k]) for k in ("t", "valence", "arousal")))
