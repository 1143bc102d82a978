"""What an analysis produces: plain arrays per clip, serialisable to JSON.

The pipeline fills these; markers, report, guidance, cache and server only read
them. Arrays stay numpy in memory and become lists in JSON (``to_dict``/
``from_dict`` round-trip exactly enough for the cache: float32 values).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from emoguide.labels import LABELS, dominant
from emoguide.timeline.mapping import ClipJob, MediaSource

#: Per-window array columns kept for every clip (name → trailing shape).
WINDOW_COLUMNS = ("start_s", "end_s", "timeline_start_s", "timeline_end_s", "probs", "vad",
                  "confidence", "disagreement")


@dataclass
class ClipWindows:
    """Per-window results of one clip, aligned arrays of length N.

    ``modalities[name]`` holds that modality's own probs/present/reliability/
    confidence (and extras); ``stats`` holds picture and sound measurements
    (brightness, saturation, warmth, contrast, motion, loudness_db, …).
    """

    start_s: np.ndarray
    end_s: np.ndarray
    timeline_start_s: np.ndarray
    timeline_end_s: np.ndarray
    probs: np.ndarray
    vad: np.ndarray
    confidence: np.ndarray
    disagreement: np.ndarray
    disagreeing_pair: list[str]
    contributions: dict[str, np.ndarray]
    modalities: dict[str, dict[str, np.ndarray]]
    stats: dict[str, np.ndarray]
    fusion: str
    vad_source: str

    def __len__(self) -> int:
        return len(self.start_s)

    def labels(self) -> list[str]:
        return [LABELS[i] for i in self.probs.argmax(axis=1)] if len(self) else []

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ClipWindows":
        arrays = {k: np.asarray(d[k], dtype=np.float32) for k in WINDOW_COLUMNS}
        arrays["probs"] = arrays["probs"].reshape(-1, len(LABELS))
        arrays["vad"] = arrays["vad"].reshape(-1, 3)
        return cls(
            **arrays,
            disagreeing_pair=list(d["disagreeing_pair"]),
            contributions={k: np.asarray(v, dtype=np.float32) for k, v in d["contributions"].items()},
            modalities={m: {k: _column(v) for k, v in cols.items()} for m, cols in d["modalities"].items()},
            stats={k: np.asarray(v, dtype=np.float32) for k, v in d["stats"].items()},
            fusion=d["fusion"],
            vad_source=d["vad_source"],
        )


@dataclass
class BriefEvent:
    """A brief facial expression (≤ 0.5 s onset–apex–offset), in media seconds."""

    onset_s: float
    apex_s: float
    offset_s: float
    label: str
    strength: float


@dataclass
class ClipAnalysis:
    job: ClipJob
    status: str  # "ok" | "offline" | "error" | "skipped"
    message: str = ""
    windows: ClipWindows | None = None
    events: list[BriefEvent] = field(default_factory=list)
    words: list[dict[str, Any]] = field(default_factory=list)  # {start_s, end_s, text, source}
    thumbnail_jpeg: bytes | None = None
    from_cache: bool = False

    def summary(self) -> dict[str, Any]:
        """Clip-level reading: confidence-weighted mean of its windows."""
        w = self.windows
        if w is None or len(w) == 0:
            return {"label": None, "probability": 0.0, "vad": [0.0, 0.0, 0.0], "confidence": 0.0, "modalities": []}
        weight = w.confidence + 1e-6
        probs = (w.probs * weight[:, None]).sum(0) / weight.sum()
        vad = (w.vad * weight[:, None]).sum(0) / weight.sum()
        label, p = dominant(probs)
        present = [m for m, cols in w.modalities.items() if np.asarray(cols.get("present", [])).any()]
        return {"label": label, "probability": p, "probs": probs.tolist(), "vad": vad.tolist(),
                "confidence": float(w.confidence.mean()), "modalities": present,
                "disagreement": float(w.disagreement.max()) if len(w) else 0.0}

    def to_dict(self) -> dict[str, Any]:
        job = asdict(self.job)
        if self.job.source is not None:
            job["source"] = {"path": str(self.job.source.path), "container_format": self.job.source.container_format,
                             "options": self.job.source.options}
        return {
            "job": job, "status": self.status, "message": self.message,
            "windows": self.windows.to_dict() if self.windows is not None else None,
            "events": [asdict(e) for e in self.events], "words": self.words,
            "summary": _jsonable(self.summary()),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ClipAnalysis":
        job = dict(d["job"])
        if job.get("source"):
            src = job["source"]
            from pathlib import Path

            job["source"] = MediaSource(Path(src["path"]), src.get("container_format"), src.get("options") or {})
        return cls(
            job=ClipJob(**job), status=d["status"], message=d.get("message", ""),
            windows=ClipWindows.from_dict(d["windows"]) if d.get("windows") else None,
            events=[BriefEvent(**e) for e in d.get("events", [])], words=list(d.get("words", [])),
        )


@dataclass
class TimelineAnalysis:
    timeline_name: str
    duration_s: float
    rate: float
    start_timecode_s: float  # the timeline's global start (e.g. 3600 for 01:00:00:00)
    clips: list[ClipAnalysis]
    models: dict[str, str]  # modality → version
    settings: dict[str, Any]
    emoguide_version: str

    @property
    def partial(self) -> bool:
        """True when any clip could not be analysed (offline, corrupt…)."""
        return any(c.status in ("offline", "error") for c in self.clips)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1, "emoguide_version": self.emoguide_version, "timeline_name": self.timeline_name,
            "duration_s": self.duration_s, "rate": self.rate, "start_timecode_s": self.start_timecode_s,
            "models": self.models, "settings": _jsonable(self.settings), "partial": self.partial,
            "clips": [c.to_dict() for c in self.clips],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TimelineAnalysis":
        return cls(
            timeline_name=d["timeline_name"], duration_s=d["duration_s"], rate=d["rate"],
            start_timecode_s=d.get("start_timecode_s", 0.0), clips=[ClipAnalysis.from_dict(c) for c in d["clips"]],
            models=d["models"], settings=d["settings"], emoguide_version=d["emoguide_version"],
        )


def _column(values) -> np.ndarray:
    """A modality column from JSON; null (how the server sends NaN) reads back as NaN."""
    a = np.asarray(values)
    return np.asarray(values, dtype=np.float32) if a.dtype == object else a


def _jsonable(value: Any) -> Any:
    """numpy → plain Python, recursively (floats rounded to float32 precision)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return np.round(value.astype(np.float64), 6).tolist()
        return value.tolist()
    if isinstance(value, (np.floating,)):
        return round(float(value), 6)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return None
    return value
