"""Cheap picture and sound measurements the guidance rules reason about.

Picture, per frame (RGB uint8): brightness = mean Rec.601 luma (0..1);
saturation = mean HSV saturation (max−min)/max (0..1); warmth = mean (R−B)/255
(−1 cool … +1 warm); contrast = luma standard deviation (0..~0.5); motion =
mean absolute luma difference between consecutive frames (0..1).

Sound, per window (16 kHz mono): loudness_db = RMS level in dBFS (not K-weighted
LUFS: an honest, simple proxy); loudness_range_db = p95 − p10 of 400 ms
short-term RMS levels (EBU LRA's idea without the gating); silence = fraction of
400 ms blocks below −50 dBFS; music_prob = a heuristic 0..1 where speech scores
low: speech carries strong 2–8 Hz (syllabic) modulation of its energy envelope
and frequent pauses, music a steadier envelope.
"""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def frame_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    f = np.asarray(frames, dtype=np.float32) / 255.0
    luma = f @ LUMA
    mx, mn = f.max(axis=-1), f.min(axis=-1)
    sat = np.where(mx > 1e-6, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    axes = (1, 2)
    return {
        "brightness": luma.mean(axis=axes).astype(np.float32),
        "saturation": sat.mean(axis=axes).astype(np.float32),
        "warmth": (f[..., 0] - f[..., 2]).mean(axis=axes).astype(np.float32),
        "contrast": luma.std(axis=axes).astype(np.float32),
    }


def motion_energy(frames: np.ndarray) -> np.ndarray:
    """(T−1,) mean absolute luma change between consecutive frames, 0..1."""
    f = np.asarray(frames, dtype=np.float32)
    if len(f) < 2:
        return np.zeros(0, np.float32)
    luma = (f @ LUMA) / 255.0
    return np.abs(np.diff(luma, axis=0)).mean(axis=(1, 2)).astype(np.float32)


def _db(x: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.maximum(x, 1e-5))


def audio_window_stats(audio: np.ndarray, starts: np.ndarray, ends: np.ndarray, rate: int = 16000) -> dict[str, np.ndarray]:
    audio = np.asarray(audio, dtype=np.float32)
    n = len(starts)
    out = {k: np.full(n, np.nan, np.float32) for k in ("loudness_db", "loudness_range_db", "silence", "music_prob")}
    block = int(0.4 * rate)
    hop = int(0.1 * rate)
    for i, (s, e) in enumerate(zip(starts, ends)):
        seg = audio[int(round(s * rate)):int(round(e * rate))]
        if len(seg) < rate // 10:
            continue
        out["loudness_db"][i] = _db(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))
        if len(seg) >= block:
            idx = np.arange(0, len(seg) - block + 1, hop)
            levels = _db(np.sqrt(np.array([np.mean(seg[j:j + block] ** 2) for j in idx])))
            out["loudness_range_db"][i] = np.percentile(levels, 95) - np.percentile(levels, 10)
            out["silence"][i] = float(np.mean(levels < -50))
        out["music_prob"][i] = _music_likeness(seg, rate)
    return out


def _music_likeness(seg: np.ndarray, rate: int) -> float:
    """1 − share of envelope modulation energy at syllabic rates (2–8 Hz), squashed to 0..1."""
    frame = rate // 100  # 10 ms envelope
    n = len(seg) // frame
    if n < 50:
        return float("nan")
    env = np.sqrt(np.mean(seg[:n * frame].reshape(n, frame) ** 2, axis=1))
    if env.max() < 1e-4:
        return 0.0  # silence is neither speech nor music
    env = env / (env.mean() + 1e-9) - 1.0
    spec = np.abs(np.fft.rfft(env * np.hanning(n))) ** 2
    freqs = np.fft.rfftfreq(n, d=0.01)
    syllabic = spec[(freqs >= 2) & (freqs <= 8)].sum()
    total = spec[(freqs >= 0.5) & (freqs <= 20)].sum() + 1e-12
    depth = float(np.std(env))  # speech envelopes swing hard (pauses), music less
    score = 1.0 - (syllabic / total) * min(1.0, depth / 0.6)
    return float(np.clip((score - 0.4) / 0.5, 0.0, 1.0))
