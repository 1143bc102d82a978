"""The loaded models, kept hot between clips, timelines and server jobs.

Loading a recogniser costs seconds (weights, tokenizer, Whisper); analysing a
window costs milliseconds. So one :class:`Engine` owns every model and is
reused: the CLI makes one per run, the server one per process. A modality whose
model cannot load is recorded in ``unavailable`` with the reason and the
analysis runs without it (the fusion handles missing modalities by design).
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from emoguide.recognition.base import pick_device
from emoguide.recognition.fusion import Fusion, default_fusion

log = logging.getLogger(__name__)

#: modality → (module, class) of its recogniser; imported lazily so a broken
#: optional dependency only disables its own modality.
RECOGNISERS = {
    "face": ("emoguide.recognition.face.recogniser", "FaceRecogniser"),
    "voice": ("emoguide.recognition.voice.recogniser", "VoiceRecogniser"),
    "text": ("emoguide.recognition.text.recogniser", "TextRecogniser"),
}


@dataclass
class Engine:
    device: str
    recognisers: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    fusion: Fusion | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, device: str | None = None, modalities: tuple[str, ...] = ("face", "voice", "text"),
             fusion: str | None = None) -> "Engine":
        engine = cls(device=pick_device(device))
        for name in modalities:
            if name not in RECOGNISERS:
                raise ValueError(f"unknown modality {name!r}; choose from {', '.join(RECOGNISERS)}")
            module_name, class_name = RECOGNISERS[name]
            try:
                module = importlib.import_module(module_name)
                engine.recognisers[name] = getattr(module, class_name).load(device=engine.device)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                log.warning("%s recogniser unavailable: %s", name, exc)
                engine.unavailable[name] = f"{type(exc).__name__}: {exc}"
        engine.fusion = default_fusion(fusion)
        return engine

    def versions(self) -> dict[str, str]:
        """modality → model version (weights hash); part of every cache key."""
        out = {name: rec.spec.version for name, rec in self.recognisers.items()}
        if self.fusion is not None:
            out["fusion"] = self.fusion.version
        return out

    def has(self, modality: str) -> bool:
        return modality in self.recognisers
