"""RAVDESS speech for the voice head: clip list, actor splits, cached encoder frames.

Filenames are ``modality-vocal-emotion-intensity-statement-repetition-actor``;
the 8 RAVDESS emotions are kept for training (calm is only merged into neutral
at inference, see :data:`emoguide.labels.CORPUS_MAPS`).

Splits are by actor (the shared data README's rule): 01-16 train, 17-20
validation (model selection), 21-24 test (reported once). Actor 05 is absent.

Whisper encoder frames of every clip (one 30 s-padded chunk each, only the
frames covering real audio kept, float16) and per-frame prosody tracks are
cached under ``/tmp`` once; heads then train from the cache in seconds.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

RAVDESS_CLASSES: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
RAVDESS_FOLDER = "ravdess_speech_16k"
TRAIN_ACTORS = tuple(range(1, 17))
VAL_ACTORS = tuple(range(17, 21))
TEST_ACTORS = tuple(range(21, 25))
CACHE_DIR = Path(os.environ.get("EMOGUIDE_VOICE_CACHE", "/tmp/emoguide_voice_cache"))


@dataclass(frozen=True)
class Clip:
    path: Path
    actor: int
    emotion: int  # 0..7 index into RAVDESS_CLASSES
    intensity: int  # 1 normal, 2 strong
    statement: int  # 1 "Kids are talking by the door", 2 "Dogs are sitting by the door"


def ravdess_dir(data_dir: Path) -> Path:
    root = Path(data_dir)
    return root / RAVDESS_FOLDER if (root / RAVDESS_FOLDER).is_dir() else root


def list_clips(data_dir: Path) -> list[Clip]:
    """Every RAVDESS speech clip under ``data_dir`` (the shared data root or the RAVDESS folder)."""
    root = ravdess_dir(data_dir)
    clips = []
    for path in sorted(root.glob("Actor_*/*.flac")):
        fields = path.stem.split("-")
        if len(fields) != 7:
            continue
        clips.append(Clip(path, actor=int(fields[6]), emotion=int(fields[2]) - 1,
                          intensity=int(fields[3]), statement=int(fields[4])))
    if not clips:
        raise FileNotFoundError(f"no RAVDESS clips (Actor_NN/*.flac) under {root}")
    return clips


def split_of(actor: int) -> str:
    if actor in TRAIN_ACTORS:
        return "train"
    if actor in VAL_ACTORS:
        return "val"
    return "test"


def read_clip(path: Path) -> np.ndarray:
    """Mono float32 16 kHz samples of one clip (decoded with PyAV via faster-whisper)."""
    from faster_whisper.audio import decode_audio

    return np.asarray(decode_audio(str(path), sampling_rate=16000), dtype=np.float32)


@dataclass
class ClipFeatures:
    """Cached per-clip tracks, all at the encoder's 50 Hz frame rate."""

    frames: list[np.ndarray]  # each (F_i, 384) float16
    prosody: list[np.ndarray]  # each (F_i, P) float32, see prosody.frame_tracks
    speech: list[np.ndarray]  # each (F_i,) float32 speech probability
    clips: list[Clip]


def _cache(actor: int, kind: str) -> Path:
    return CACHE_DIR / f"ravdess_actor{actor:02d}_{kind}.npz"


def _save(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def extract_frames(clips: list[Clip], backbone, actor: int) -> Path:
    """Whisper encoder frames of one actor's clips into the cache (skipped when already there)."""
    out = _cache(actor, "frames")
    if not out.is_file():
        mine = [c for c in clips if c.actor == actor]
        frames = [backbone.encode(read_clip(c.path))[0].astype(np.float16) for c in mine]
        _save(out, names=np.array([c.path.name for c in mine]), lengths=np.array([len(f) for f in frames]),
              frames=np.concatenate(frames))
        log.info("cached encoder frames of actor %02d (%d clips)", actor, len(mine))
    return out


def extract_tracks(clips: list[Clip], actor: int) -> Path:
    """Per-frame prosody and speech probability of one actor's clips into the cache."""
    from emoguide.recognition.voice.prosody import frame_tracks
    from emoguide.recognition.voice.vad import SHIPPED_SPEECH_BACKEND, SpeechDetector
    from emoguide.recognition.voice.whisper_backbone import SAMPLES_PER_FRAME

    out = _cache(actor, "tracks")
    if not out.is_file():
        detector = SpeechDetector(backend=SHIPPED_SPEECH_BACKEND)
        mine = [c for c in clips if c.actor == actor]
        pros, speech = [], []
        for clip in mine:
            audio = read_clip(clip.path)
            n = int(np.ceil(len(audio) / SAMPLES_PER_FRAME))
            pros.append(frame_tracks(audio, n))
            speech.append(detector.frame_probs(audio, n))
        _save(out, names=np.array([c.path.name for c in mine]), lengths=np.array([len(p) for p in pros]),
              prosody=np.concatenate(pros), speech=np.concatenate(speech))
    return out


def load_features(data_dir: Path, backbone=None, actors: tuple[int, ...] | None = None) -> ClipFeatures:
    """Cached features for ``actors`` (all by default), extracting what is missing."""
    clips = list_clips(data_dir)
    wanted = sorted({c.actor for c in clips} if actors is None else set(actors))
    result = ClipFeatures([], [], [], [])
    by_name = {c.path.name: c for c in clips}
    for actor in wanted:
        if not _cache(actor, "frames").is_file() and backbone is None:
            from emoguide.recognition.voice.whisper_backbone import load_backbone

            backbone = load_backbone("cpu", "default")  # the heads learn float frames
        fblob = np.load(extract_frames(clips, backbone, actor))
        tblob = np.load(extract_tracks(clips, actor))
        if list(fblob["names"]) != list(tblob["names"]):
            raise RuntimeError(f"voice cache for actor {actor:02d} is inconsistent; delete {CACHE_DIR}")
        fb = np.concatenate([[0], np.cumsum(fblob["lengths"])])
        tb = np.concatenate([[0], np.cumsum(tblob["lengths"])])
        # An NpzFile re-reads an array on every ``blob[key]``: read each once, or every clip's slice keeps
        # its own copy of the actor's whole array alive (~12 GB for RAVDESS instead of ~0.2 GB).
        frames, prosody, speech = fblob["frames"], tblob["prosody"], tblob["speech"]
        for i, name in enumerate(fblob["names"]):
            n = min(fb[i + 1] - fb[i], tb[i + 1] - tb[i])
            result.frames.append(frames[fb[i]: fb[i] + n])
            result.prosody.append(prosody[tb[i]: tb[i] + n])
            result.speech.append(speech[tb[i]: tb[i] + n])
            result.clips.append(by_name[str(name)])
    return result
