"""Is someone speaking? Per-frame and per-window speech probability.

Primary: Silero VAD v6 (MIT), from the ``silero-vad`` pip package, which ships
its model files; we load the ONNX export through onnxruntime (a faster-whisper
dependency anyway), falling back to the package's TorchScript file. Nothing is
fetched from a hub. Silero scores 32 ms chunks; we resample that to the 50 Hz
encoder frame grid by nearest chunk.

Fallback (only when neither Silero file loads; ``backend == "energy"``): a
heuristic on 32 ms frames — loud enough (above -50 dBFS and within 35 dB of the
clip's peak), spectrally non-flat (speech and music are peaky, noise is flat),
and *syllabically modulated* (the level contour of speech swings by several dB
every 100-300 ms; a sustained chord or hum does not). It is coarser than
Silero: it will call some rhythmic music speech.

Window probability: the 75th percentile of the frame probabilities inside the
window, i.e. "at least a quarter of the window is speech" — a 2 s window with
half a second of a sentence counts as speech, one stray frame does not.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
SILERO_CHUNK = 512  # samples per Silero decision at 16 kHz
FRAME_RATE = 50.0
WINDOW_QUANTILE = 0.75
#: 32 ms frames whose spectra the fallback detector takes at a time (~8 MB; 120 s is 3,750 frames)
SPECTRUM_BLOCK = 1024
#: the backend the shipped voice weights were trained and measured with; training and inference both
#: use it, so installing silero-vad cannot silently change the pooled features. To move to Silero,
#: set this to "silero", install silero-vad, retrain (`emoguide train voice`, `emoguide train vad`).
SHIPPED_SPEECH_BACKEND = "energy"


class SpeechDetector:
    """Speech probability on the 50 Hz frame grid; ``backend`` says which method is in use."""

    def __init__(self, backend: str | None = None) -> None:
        self._model = None
        self.backend = "energy"
        if backend in (None, "silero"):
            self._model = self._load_silero()
            if self._model is not None:
                self.backend = "silero"
            elif backend == "silero":
                raise RuntimeError("Silero VAD could not be loaded from the silero-vad package")

    @staticmethod
    def _load_silero():
        try:
            from silero_vad import load_silero_vad
        except ImportError:
            log.warning("silero-vad not installed; using the energy/flatness speech detector")
            return None
        for onnx in (True, False):
            try:
                return load_silero_vad(onnx=onnx)
            except Exception as exc:  # noqa: BLE001 - any load failure means: try the next file
                log.warning("Silero VAD (%s) failed to load: %s", "onnx" if onnx else "jit", exc)
        return None

    def frame_probs(self, audio16k: np.ndarray, n_frames: int) -> np.ndarray:
        """(n_frames,) float32 speech probability for 20 ms frames centred at ``(i + 0.5) / 50`` s."""
        audio = np.asarray(audio16k, dtype=np.float32)
        if n_frames == 0:
            return np.zeros(0, dtype=np.float32)
        if len(audio) < SILERO_CHUNK:
            audio = np.pad(audio, (0, SILERO_CHUNK - len(audio)))
        if self._model is not None:
            import torch

            with torch.inference_mode():
                chunk_p = self._model.audio_forward(torch.from_numpy(audio), sr=SAMPLE_RATE)
            chunk_p = np.asarray(chunk_p, dtype=np.float32).ravel()
        else:
            chunk_p = energy_speech_probs(audio)
        centres = (np.arange(n_frames) + 0.5) / FRAME_RATE
        idx = np.clip((centres * SAMPLE_RATE / SILERO_CHUNK).astype(int), 0, len(chunk_p) - 1)
        return chunk_p[idx]


def window_speech_prob(frame_p: np.ndarray, frame_times: np.ndarray, starts: np.ndarray,
                       ends: np.ndarray) -> np.ndarray:
    """Per window, the 75th percentile of its frames' speech probability (0 for a window with no frames)."""
    from emoguide.recognition.windowing import window_slices

    out = np.zeros(len(starts), dtype=np.float32)
    lo, hi = window_slices(frame_times, starts, ends)  # frame times are sorted: a slice per window
    for i in np.flatnonzero(hi > lo):
        out[i] = np.quantile(frame_p[lo[i]:hi[i]], WINDOW_QUANTILE)
    return out


def energy_speech_probs(audio: np.ndarray) -> np.ndarray:
    """Fallback per-32 ms speech probability from level, spectral flatness and level modulation."""
    n = max(1, len(audio) // SILERO_CHUNK)
    frames = audio[: n * SILERO_CHUNK].reshape(-1, SILERO_CHUNK)  # a view: float64 copies are made per block
    if len(frames) == 0 or not np.any(frames):
        return np.zeros(n, dtype=np.float32)
    level, flatness = np.empty(n), np.empty(n)
    taper = np.hanning(SILERO_CHUNK)
    for b0 in range(0, n, SPECTRUM_BLOCK):  # per frame, so blocks bound memory without changing values
        block = frames[b0: b0 + SPECTRUM_BLOCK].astype(np.float64)
        level[b0: b0 + len(block)] = 10 * np.log10(np.mean(block ** 2, axis=1) + 1e-12)
        band = (np.abs(np.fft.rfft(block * taper, axis=1)) ** 2 + 1e-12)[:, 3:129]  # ~94 Hz .. 4 kHz
        flatness[b0: b0 + len(block)] = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
    # level swing within +-250 ms: syllables make speech rise and fall by >= 6 dB
    k = 8
    pad = np.pad(level, k, mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * k + 1)
    swing = win.max(axis=1) - win.min(axis=1)
    loud = (level > -50.0) & (level > level.max() - 35.0)
    score = 1.0 / (1.0 + np.exp(-(swing - 8.0) / 2.0)) * 1.0 / (1.0 + np.exp((flatness - 0.35) / 0.05))
    return np.where(loud, score, 0.0).astype(np.float32)
