"""The arc the editor wants: presets, a keyframe file, or another timeline's measured arc.

A target is valence and arousal as functions of position in the cut (0 = first
frame, 1 = last), interpolated linearly between keyframes, on the same −1..1
scale as the measured VAD (whose category norms put joy at valence +0.4 and
fear at arousal +0.6, so presets stay within that range). Presets follow the
classic shapes: a rising arc, a falling arc, four acts with the climax near
three quarters (Cutting et al. 2016 find films' shot-length and motion "tension"
peaks late in act three), and a flat, calm piece.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PRESETS = {
    "rising": [(0.0, -0.4, -0.2), (1.0, 0.4, 0.5)],
    "falling": [(0.0, 0.4, 0.3), (1.0, -0.4, -0.2)],
    "four-act": [(0.0, 0.2, 0.0), (0.25, 0.0, 0.2), (0.5, -0.2, 0.35), (0.75, -0.3, 0.7), (1.0, 0.4, -0.1)],
    "flat": [(0.0, 0.1, -0.1), (1.0, 0.1, -0.1)],
}
PRESETS["calm"] = PRESETS["flat"]


@dataclass
class TargetArc:
    name: str
    keyframes: list[tuple[float, float, float]]  # (position 0..1, valence, arousal)

    def at(self, position: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        k = np.array(sorted(self.keyframes))
        pos = np.clip(np.asarray(position, float), 0, 1)
        return np.interp(pos, k[:, 0], k[:, 1]), np.interp(pos, k[:, 0], k[:, 2])

    def curve(self, duration_s: float, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.linspace(0, 1, n)
        v, a = self.at(pos)
        return pos * duration_s, v, a

    @classmethod
    def preset(cls, name: str) -> "TargetArc":
        if name not in PRESETS:
            raise ValueError(f"unknown target arc {name!r}; presets: {', '.join(sorted(PRESETS))}, or a file")
        return cls(name, list(PRESETS[name]))

    @classmethod
    def from_file(cls, path: str | Path, duration_s: float | None = None) -> "TargetArc":
        """JSON ``{"units": "fraction"|"seconds", "keyframes": [{"t", "valence", "arousal"}…]}`` or CSV t,valence,arousal."""
        path = Path(path)
        if path.suffix.lower() == ".csv":
            with open(path, newline="") as fh:
                rows = [{k.strip(): v for k, v in r.items()} for r in csv.DictReader(fh)]
            units = "seconds" if any(float(r["t"]) > 1 for r in rows) else "fraction"
        else:
            data = json.loads(path.read_text())
            rows, units = data["keyframes"], data.get("units", "fraction")
        points = [(float(r["t"]), float(r["valence"]), float(r["arousal"])) for r in rows]
        if len(points) < 1:
            raise ValueError(f"{path}: no keyframes")
        if units == "seconds":
            if not duration_s:
                raise ValueError(f"{path}: keyframes in seconds need the timeline's duration")
            points = [(t / duration_s, v, a) for t, v, a in points]
        for t, v, a in points:
            if not (-1 <= v <= 1 and -1 <= a <= 1):
                raise ValueError(f"{path}: valence/arousal must lie in -1..1 (got {v}, {a} at {t})")
        return cls(path.stem, points)

    @classmethod
    def from_reference(cls, analysis, points: int = 20) -> "TargetArc":
        """The measured arc of another timeline's analysis, smoothed into ``points`` keyframes."""
        t, v, a, w = [], [], [], []
        for clip in analysis.clips:
            if clip.windows is None:
                continue
            win = clip.windows
            t.extend(0.5 * (win.timeline_start_s + win.timeline_end_s))
            v.extend(win.vad[:, 0])
            a.extend(win.vad[:, 1])
            w.extend(win.confidence + 1e-3)
        if not t:
            raise ValueError("the reference timeline has no analysed windows")
        t, v, a, w = map(np.asarray, (t, v, a, w))
        pos = t / max(analysis.duration_s, t.max(), 1e-6)
        keys = []
        for c in np.linspace(0, 1, points):
            k = np.exp(-0.5 * ((pos - c) / 0.06) ** 2) * w
            if k.sum() > 1e-9:
                keys.append((float(c), float((k * v).sum() / k.sum()), float((k * a).sum() / k.sum())))
        return cls(f"reference: {analysis.timeline_name}", keys)


def resolve_target(spec: "str | TargetArc | None", duration_s: float) -> TargetArc | None:
    if spec is None or isinstance(spec, TargetArc):
        return spec
    if spec in PRESETS:
        return TargetArc.preset(spec)
    if Path(spec).is_file():
        return TargetArc.from_file(spec, duration_s)
    raise ValueError(f"target {spec!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor a file")
