"""Held-out predictions of the three shipped recognisers, as fusion :class:`Pool` s.

Each builder reads one split no recogniser trained on (see
:mod:`emoguide.training.fusion_data`), runs the shipped recogniser through its
public API and returns probabilities, reliabilities and labels. Results are
cached under ``/tmp`` by weight version, so only the first run pays for them.
Also home to the small media readers the robustness evaluation shares.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np

from emoguide.labels import LABEL_INDEX, to_common
from emoguide.training.fusion_data import Pool, cached_pool

log = logging.getLogger(__name__)

#: fusion split → corpus split per modality
SPLITS = {
    "face": {"train": "PublicTest", "test": "PrivateTest"},
    "voice": {"train": tuple(range(17, 21)), "test": tuple(range(21, 25))},
    "text": {"train": "dev", "test": "test"},
}


# ------------------------------------------------------------------ readers
def fer_items(data_dir: Path, split: str) -> list[tuple[Path, int]]:
    """(path, common label index) for one official FER2013 split, sorted for determinism."""
    root = Path(data_dir) / "fer2013" / split
    items = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        y = LABEL_INDEX[to_common("fer2013", folder.name)]
        items.extend((p, y) for p in sorted(folder.glob("*.jpg")))
    return items


def load_grey(paths: list[Path]) -> np.ndarray:
    """(N, 48, 48) uint8 FER images."""
    from PIL import Image

    return np.stack([np.asarray(Image.open(p).convert("L")) for p in paths])


def ravdess_items(data_dir: Path, actors: tuple[int, ...]) -> list[tuple[Path, int, int]]:
    """(path, common label index, intensity 1|2) for the given RAVDESS actors."""
    items = []
    for actor in actors:
        folder = Path(data_dir) / "ravdess_speech_16k" / f"Actor_{actor:02d}"
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob("*.flac")):
            fields = p.stem.split("-")
            items.append((p, LABEL_INDEX[to_common("ravdess", fields[2])], int(fields[3])))
    return items


def read_audio16k(path: Path) -> np.ndarray:
    """Mono float32 16 kHz samples of a whole file, via PyAV (no extra dependency)."""
    import av

    chunks = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


# ------------------------------------------------------------------ recogniser runs
#: FER faces are shown to the detector as a 96 px face centred in a 144 px frame (a close-up)
CANVAS_PX, FACE_PX = 144, 96


def face_frames(images: np.ndarray, backgrounds: np.ndarray | None = None) -> np.ndarray:
    """(N, 144, 144, 3) RGB frames: each 48 px grey face upscaled to 96 px on a plain (or given) background."""
    from PIL import Image

    off = (CANVAS_PX - FACE_PX) // 2
    frames = np.empty((len(images), CANVAS_PX, CANVAS_PX), np.uint8)
    for i, im in enumerate(images):
        canvas = np.full((CANVAS_PX, CANVAS_PX), int(np.median(im)), np.uint8) if backgrounds is None \
            else backgrounds[i].copy()
        canvas[off:off + FACE_PX, off:off + FACE_PX] = np.asarray(
            Image.fromarray(im).resize((FACE_PX, FACE_PX), Image.BILINEAR))
        frames[i] = canvas
    return np.repeat(frames[..., None], 3, axis=-1)


def run_face(face, images: np.ndarray, backgrounds: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(probs, reliability, present)`` of the face recogniser's per-frame path on FER faces.

    Each face goes through what :meth:`FaceRecogniser.analyze_frames` does to a
    frame (detector → most confident box → crop → classifier; reliability =
    detection score × size factor), without the video tracker, which would
    link unrelated images. A face the detector misses is absent, as in the engine.
    """
    from emoguide.recognition.face.expression import crop_faces
    from emoguide.recognition.face.recogniser import RELIABLE_FACE_PX

    frames = face_frames(images, backgrounds)
    n = len(frames)
    probs = np.full((n, 7), 1.0 / 7, np.float32)
    rel = np.zeros(n, np.float32)
    boxes = np.full((n, 4), np.nan, np.float32)
    for start in range(0, n, 64):
        for k, (b, sc) in enumerate(face.detector.detect(frames[start:start + 64])):
            if len(b):
                j = int(np.argmax(sc))
                boxes[start + k] = b[j]
                side = max(b[j, 2] - b[j, 0], b[j, 3] - b[j, 1])
                rel[start + k] = float(sc[j]) * float(np.clip(side / RELIABLE_FACE_PX, 0.2, 1.0))
    present = ~np.isnan(boxes[:, 0])
    idx = np.flatnonzero(present)
    if len(idx):
        probs[idx] = face.classify_crops(crop_faces(frames, idx, boxes[idx]))
    return probs, rel, present


def run_voice(voice, audios: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(probs, reliability, vad|None)``: one window spanning each whole clip."""
    probs, rel, vads = [], [], []
    for audio in audios:
        res = voice.analyze_audio(audio, np.array([0.0]), np.array([len(audio) / 16000.0]))
        probs.append(res.probs[0])
        rel.append(res.reliability[0])
        vads.append(res.vad[0] if res.vad is not None else np.full(3, np.nan, np.float32))
    vad = np.stack(vads).astype(np.float32)
    return np.stack(probs).astype(np.float32), np.asarray(rel, np.float32), (None if np.isnan(vad).all() else vad)


def face_pool(data_dir: Path, fusion_split: str, face) -> Pool:
    split = SPLITS["face"][fusion_split]
    items = fer_items(data_dir, split)

    def build() -> Pool:
        probs, rel, present = [], [], []
        for start in range(0, len(items), 512):
            chunk = items[start:start + 512]
            p, r, m = run_face(face, load_grey([it[0] for it in chunk]))
            probs.append(p)
            rel.append(r)
            present.append(m)
        return Pool("face", split, np.concatenate(probs), np.concatenate(rel),
                    np.array([it[1] for it in items]), [it[0].name for it in items],
                    extra={"present": np.concatenate(present)})

    return cached_pool("face", split, face.spec.version, build)


def voice_pool(data_dir: Path, fusion_split: str, voice) -> Pool:
    actors = SPLITS["voice"][fusion_split]
    items = ravdess_items(data_dir, actors)
    name = f"actors{actors[0]}-{actors[-1]}"

    def build() -> Pool:
        probs, rel, vad = run_voice(voice, [read_audio16k(it[0]) for it in items])
        extra = {"intensity": np.array([it[2] for it in items])}
        if vad is not None:
            extra["vad"] = vad
        return Pool("voice", name, probs, rel, np.array([it[1] for it in items]), [it[0].name for it in items],
                    extra=extra)

    return cached_pool("voice", name, voice.spec.version, build)


def text_pool(data_dir: Path, fusion_split: str, text) -> Pool:
    from emoguide.recognition.text.data import read_meld

    split = SPLITS["text"][fusion_split]
    meld = read_meld(data_dir, split)

    def build() -> Pool:
        res = text.predict(meld.texts)
        present = np.asarray(res.present, bool)
        return Pool("text", f"meld_{split}", res.probs[present], res.reliability[present], meld.y7[present],
                    [str(i) for i in np.flatnonzero(present)])

    return cached_pool("text", f"meld_{split}", text.spec.version, build)


def load_recognisers(device: str = "cpu") -> dict[str, object]:
    """The three shipped recognisers (raises if one cannot load: fusion needs all three)."""
    from emoguide.pipeline.engine import Engine

    engine = Engine.load(device=device)
    if engine.unavailable:
        raise RuntimeError(f"fusion training/evaluation needs all recognisers; unavailable: {engine.unavailable}")
    return engine.recognisers


def pools(data_dir: Path, fusion_split: str, recognisers: dict[str, object]) -> dict[str, Pool]:
    builders: dict[str, Callable] = {"face": face_pool, "voice": voice_pool, "text": text_pool}
    return {m: builders[m](data_dir, fusion_split, recognisers[m]) for m in ("face", "voice", "text")}
