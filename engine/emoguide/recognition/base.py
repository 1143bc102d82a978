"""The small contract every recogniser keeps, so the pipeline needs no special cases.

A recogniser *declares* what it wants (its :class:`RecogniserSpec`: modality,
window, sample rate, classes) and turns a batch of inputs into a
:class:`ModalityResult` of plain arrays. The pipeline cuts windows to the spec,
batches them, and hands results to the fusion. Like pyannote's models, moving to
a device is one ``.to(device)`` call that cascades to every torch module inside.

Recognisers register by name in :data:`REGISTRY` (PySceneDetect-style); one whose
optional dependency fails to import simply does not register, and the pipeline
reports that modality as unavailable instead of crashing.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from emoguide.labels import LABELS, NUM_CLASSES

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class WeightsError(RuntimeError):
    """Weights missing, unreadable, or not the file the model card describes."""


@dataclass(frozen=True)
class RecogniserSpec:
    """What a recogniser consumes and produces.

    ``sample_rate`` is frames per second for ``face`` and samples per second for
    ``voice``; ``window_s``/``hop_s`` are the analysis window the model was
    trained for (the pipeline may aggregate finer results into coarser windows).
    """

    modality: str  # "face" | "voice" | "text"
    version: str  # short content hash of the weights: part of every cache key
    window_s: float
    hop_s: float
    sample_rate: float
    classes: tuple[str, ...] = LABELS


@dataclass
class ModalityResult:
    """Per-window output of one modality, all arrays aligned on the first axis (N windows).

    ``probs``       (N, 7) distribution over :data:`emoguide.labels.LABELS`.
    ``confidence``  (N,)   how much to trust ``probs`` (max-prob times reliability).
    ``present``     (N,)   bool: the modality had input in this window (a face, speech, words).
    ``reliability`` (N,)   0..1 quality of the input (face size × detection score,
                           speech probability, caption coverage); 0 where absent.
    ``vad``         (N, 3) valence/arousal/dominance, -1..1, or None to derive from norms.
    ``extras``      named (N, ...) arrays a modality wants to keep (prosody, boxes…).
    """

    probs: np.ndarray
    confidence: np.ndarray
    present: np.ndarray
    reliability: np.ndarray
    vad: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.probs)
        if self.probs.ndim != 2 or self.probs.shape[1] != NUM_CLASSES:
            raise ValueError(f"probs must be (N, {NUM_CLASSES}), got {self.probs.shape}")
        for name in ("confidence", "present", "reliability"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, probs has {n}")
        if self.vad is not None and self.vad.shape != (n, 3):
            raise ValueError(f"vad must be ({n}, 3), got {self.vad.shape}")

    @classmethod
    def absent(cls, n: int) -> "ModalityResult":
        """N windows where the modality had no input: uniform probs, zero trust."""
        return cls(
            probs=np.full((n, NUM_CLASSES), 1.0 / NUM_CLASSES, dtype=np.float32),
            confidence=np.zeros(n, dtype=np.float32),
            present=np.zeros(n, dtype=bool),
            reliability=np.zeros(n, dtype=np.float32),
        )


class Recogniser(abc.ABC):
    """Base class: subclasses set ``spec`` and implement :meth:`predict`.

    Subclasses hold their torch modules in ``self._modules`` (a dict) so that
    :meth:`to` cascades without each recogniser re-implementing it.
    """

    spec: RecogniserSpec
    device: str = "cpu"

    def __init__(self) -> None:
        self._modules: dict[str, Any] = {}

    def to(self, device: str) -> "Recogniser":
        for module in self._modules.values():
            if hasattr(module, "to"):
                module.to(device)
        self.device = device
        return self

    @abc.abstractmethod
    def predict(self, batch: Any) -> ModalityResult:
        """Turn one batch of windows into a :class:`ModalityResult`."""


#: name → factory returning a ready recogniser. Filled by modules that import cleanly.
REGISTRY: dict[str, Callable[..., Recogniser]] = {}


def register(name: str) -> Callable[[Callable[..., Recogniser]], Callable[..., Recogniser]]:
    """Decorator adding a recogniser factory to :data:`REGISTRY` under ``name``."""

    def wrap(factory: Callable[..., Recogniser]) -> Callable[..., Recogniser]:
        REGISTRY[name] = factory
        return factory

    return wrap


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_path_for(filename: str, weights_path: str | Path | None = None,
                     expected_sha256: str | None = None) -> Path:
    """The shipped ``filename`` (checksum-verified), or another file for tests and experiments.

    Another file is checked against ``expected_sha256`` when one is given; it has no
    recorded checksum of its own.
    """
    if weights_path is None:
        return verified_weights(filename)
    path = Path(weights_path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing")
    if expected_sha256 is not None and sha256_of(path) != expected_sha256:
        raise WeightsError(f"{path} does not match the expected checksum {expected_sha256[:12]}…")
    return path


def verified_weights(filename: str, expected_sha256: str | None = None) -> Path:
    """Path of a shipped weight file after checking it against its recorded checksum.

    The checksum lives in ``weights/checksums.json`` (written by the training
    scripts), so a truncated checkout or a hand-edited file fails loudly here
    instead of producing quietly wrong emotions.
    """
    import json

    path = WEIGHTS_DIR / filename
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing; retrain with `emoguide train` (see its model card)")
    if expected_sha256 is None:
        sums_file = WEIGHTS_DIR / "checksums.json"
        sums = json.loads(sums_file.read_text()) if sums_file.is_file() else {}
        expected_sha256 = sums.get(filename)
        if expected_sha256 is None:
            raise WeightsError(f"no checksum recorded for {filename} in {sums_file}")
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise WeightsError(f"{path} checksum {actual[:12]}… does not match the recorded {expected_sha256[:12]}…")
    return path


def save_weights(blob: dict, path: Path, compress: bool = False) -> Path:
    """Write a weight file the way every training script must: folder made, atomically, checksum recorded.

    Atomic because a training run stopped while writing must not leave a half file where the
    shipped one was; the checksum goes into ``weights/checksums.json`` only when ``path`` is
    in the shipped folder, so a candidate written elsewhere (``--out``) never changes what ships.
    ``compress``: gzip the file (read it back with :func:`load_weights`), for files near the size
    the repository allows (the face ensemble: 21.5 → 19.5 MB).
    """
    path = save_atomically(blob, path, compress)
    if path.parent.resolve() == WEIGHTS_DIR.resolve():
        record_checksum(path)
    return path


def save_atomically(blob, path: Path, compress: bool = False) -> Path:
    """``torch.save`` to a ``.partial`` file, then rename: a run stopped mid-write leaves the old file whole.
    ``compress``: gzip the saved bytes (no timestamp inside, so the same blob gives the same checksum)."""
    import gzip
    import io

    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if compress:
        raw = io.BytesIO()
        torch.save(blob, raw)
        partial.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9, mtime=0))
    else:
        torch.save(blob, partial)
    partial.replace(path)
    return path


GZIP_MAGIC = b"\x1f\x8b"


def load_weights(path: Path, weights_only: bool = False):
    """``torch.load`` of a weight file on the CPU, gzipped (``save_weights(compress=True)``) or not."""
    import gzip
    import io

    import torch

    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    if not compressed:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    with gzip.open(path, "rb") as f:
        return torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=weights_only)


def record_checksum(path: Path) -> str:
    """Store ``path``'s sha256 in ``weights/checksums.json`` (called by training scripts)."""
    import json

    sums_file = WEIGHTS_DIR / "checksums.json"
    sums = json.loads(sums_file.read_text()) if sums_file.is_file() else {}
    digest = sha256_of(path)
    sums[path.name] = digest
    sums_file.write_text(json.dumps(dict(sorted(sums.items())), indent=2) + "\n")
    return digest


def pick_device(requested: str | None = None) -> str:
    """``requested`` if given, else CUDA when torch sees a GPU, else CPU."""
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
