"""Every threshold the guidance rules use, in one place, overridable from a JSON or TOML file."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class GuidanceConfig:
    # pacing (Cutting et al.): expected shot length at neutral arousal, and how it shrinks with arousal
    base_shot_s: float = 4.0
    shot_halving_per_arousal: float = 1.0  # expected = base × 2^(−k·arousal)
    pacing_tolerance: float = 1.8  # flag when the shot is this many times too long/short
    pacing_min_arousal_gap: float = 0.1
    # cut points
    brief_min_strength: float = 0.3
    turn_min_probability: float = 0.45
    # colour (Valdez & Mehrabian 1994), population means/SDs of frame brightness and saturation
    brightness_mean: float = 0.42
    brightness_sd: float = 0.12
    saturation_mean: float = 0.32
    saturation_sd: float = 0.12
    colour_intent_scale: float = 2.0  # intended valence/arousal ±1 ↔ ±2 SD of image-implied pleasure/arousal
    colour_min_gap: float = 1.0  # flag when the picture is this many SD from the intent
    # sound
    quiet_db: float = -38.0
    loud_db: float = -16.0
    high_arousal: float = 0.3
    low_arousal: float = 0.0
    # arc
    arc_tolerance: float = 0.3  # distance in the valence-arousal plane
    # mixed signals
    disagreement: float = 0.45
    # transitions
    jump: float = 0.55  # valence or arousal change between neighbouring clips

    @classmethod
    def from_file(cls, path: str | Path) -> "GuidanceConfig":
        path = Path(path)
        if path.suffix.lower() == ".toml":
            import tomllib

            values = tomllib.loads(path.read_text())
        else:
            values = json.loads(path.read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"{path}: unknown guidance settings {', '.join(sorted(unknown))}")
        return cls(**values)
