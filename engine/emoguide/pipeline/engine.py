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
import os
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


def default_torch_threads(sides: int = 1) -> int:
    """Intra-op threads for torch: the cores less one, shared by ``sides`` threads running models
    at once, but never fewer than two where there are two cores; or ``$EMOGUIDE_TORCH_THREADS``.

    Decoding runs in a background thread beside the models, so on a many-core machine torch
    leaves it a core, and the picture and sound threads split the rest (15 and 7 each on 16
    cores). On two cores that rule gave one thread, which an early pass measured faster (Intel
    VM, older models: OpenMP's spin-waiting fought the decoder), but with today's int8 ensemble
    two threads are clearly faster on the 2-core AMD VM, decoder and both sides included:
    1080p analysis 18.6/16.2 → 13.6/11.9 s, 4K 12.1 → 10.1 s, the 10-minute ``bench_scale``
    point 317 → 221 s with less peak memory (676 → 643 MiB over the loaded models)
    (docs/performance.md, fifteenth and sixteenth passes).
    """
    value = os.environ.get("EMOGUIDE_TORCH_THREADS")
    if value:
        return max(1, int(value))
    cores = os.cpu_count() or 2
    return max(min(2, cores), (cores - 1) // max(1, sides))


def limit_numpy_blas_threads() -> bool:
    """Give numpy's BLAS (its bundled OpenBLAS) one thread, unless ``$OPENBLAS_NUM_THREADS`` says otherwise.

    Why: the analysis's numpy products are tiny (a face crop's grey conversion, picture statistics
    of 160×90 frames), yet OpenBLAS splits each over its threads, which then spin-wait for the
    next call on the cores the models and the decoder need: 3 % of a 1080p analysis's CPU samples
    were its ``blas_thread_server`` on the 2-core VM (``perf``, docs/performance.md, seventeenth
    pass). torch's own BLAS is linked into torch and keeps torch's thread setting. Like the torch
    threads, this is process-wide. True when a limit was applied.
    """
    if os.environ.get("OPENBLAS_NUM_THREADS"):
        return False
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn's dependency; without it numpy keeps its default
        return False
    threadpool_limits(limits=1, user_api="blas")
    return True


@dataclass
class Engine:
    device: str
    recognisers: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    fusion: Fusion | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: analyse a clip's sound in a second thread beside its picture (pipeline/side_by_side.py)
    parallel_modalities: bool = True

    @classmethod
    def load(cls, device: str | None = None, modalities: tuple[str, ...] = ("face", "voice", "text"),
             fusion: str | None = None, torch_threads: int | None = None,
             parallel_modalities: bool = True) -> "Engine":
        """``torch_threads``: intra-op threads for the torch models (default :func:`default_torch_threads`,
        split between the picture and sound threads when ``parallel_modalities``)."""
        from emoguide.pipeline.native_memory import fix_mmap_threshold, limit_arenas, limit_kernel_cache

        limit_arenas()  # before the first analysis thread exists: see pipeline/native_memory.py
        fix_mmap_threshold()  # before the first analysis buffers: the same module
        limit_kernel_cache()  # before the first model runs: the same module
        engine = cls(device=pick_device(device), parallel_modalities=parallel_modalities)
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
        # the per-frame/per-window statistics pull in scipy.signal: 1.4 s on first import, which would
        # otherwise land in the first clip of every run (and the first request a server answers)
        try:
            importlib.import_module("emoguide.media.stats")
        except ImportError as exc:  # no PyAV: the models still run on arrays decoded elsewhere (bench_inference --inputs)
            log.warning("media decoding unavailable: %s", exc)
        if engine.device == "cpu":  # after loading: CTranslate2 resets the OpenMP thread count it shares with torch
            import torch

            torch.set_num_threads(torch_threads or default_torch_threads(2 if parallel_modalities else 1))
        limit_numpy_blas_threads()
        return engine

    def versions(self) -> dict[str, str]:
        """modality → model version (weights hash); part of every cache key."""
        out = {name: rec.spec.version for name, rec in self.recognisers.items()}
        if "voice" in out:  # speech-to-text decoding settings change the words, hence the text results
            from emoguide.recognition.voice.whisper_backbone import ENCODER_WINDOW_RULE, TRANSCRIBE_TEMPERATURES

            out["asr"] = "whisper-tiny.en greedy t=" + ",".join(f"{t:g}" for t in TRANSCRIBE_TEMPERATURES)
            out["asr"] += f" {ENCODER_WINDOW_RULE}"
            precision = getattr(getattr(self.recognisers["voice"], "backbone", None), "compute_type", None)
            if precision is not None:  # int8 and float transcripts differ now and then
                out["asr"] += f" {precision}"
            from emoguide.pipeline.audio_blocks import TRANSCRIBE_CARRY_S, TRANSCRIBE_STRETCH_S

            out["asr"] += f" stretch={TRANSCRIBE_STRETCH_S:g}s carry={TRANSCRIBE_CARRY_S:g}s"
        if "face" in out:  # which face each frame reads is the tracker's choice, not the weights'
            from emoguide.recognition.face.tracker import TRACKING

            out["tracking"] = TRACKING
            from emoguide.recognition.face.expression_gate import DEFAULT_GATE

            out["expression_gate"] = DEFAULT_GATE.describe()  # when off (a setting), the settings say so
        if self.fusion is not None:
            out["fusion"] = self.fusion.version
        return out

    def has(self, modality: str) -> bool:
        return modality in self.recognisers
