"""Cheap picture and sound measurements the guidance rules reason about.

Picture, per frame (RGB uint8): brightness = mean Rec.601 luma (0..1);
saturation = mean HSV saturation (max−min)/max (0..1); warmth = mean (R−B)/255
(−1 cool … +1 warm); contrast = luma standard deviation (0..~0.5); motion =
mean absolute luma difference between consecutive frames (0..1). Frames are
processed in small batches so memory stays flat for long ranges.

Sound, per window (16 kHz mono):

* ``loudness_db`` — plain RMS level in dBFS (a full-scale sine reads −3 dB).
* ``loudness_lufs`` — ITU-R BS.1770 K-weighted loudness (libebur128's
  rate-independent formulation of the shelf + high-pass filters, re-derived for
  the actual sample rate), gated like integrated loudness (400 ms blocks, 75 %
  overlap, −70 LUFS absolute and −10 LU relative gates); a full-scale 1 kHz sine
  reads ≈ −3 LUFS. Without channel weighting (mono).
* ``loudness_range_db`` — p95 − p10 of the K-weighted 400 ms (momentary) levels
  that pass the −70 LUFS absolute and −20 LU relative gates: EBU Tech 3342's LRA
  on momentary instead of 3 s short-term blocks, because our windows are seconds
  long, not minutes.
* ``silence`` — share of 400 ms blocks below −50 dBFS RMS.
* ``speech_mod`` — 0..1 share of the energy envelope's modulation spectrum
  (0.5–20 Hz) lying at syllabic rates (2–8 Hz, peak ≈ 4 Hz), times the
  envelope's modulation depth: speech alternates syllables and pauses, so it
  scores high; sustained music and tones score low.
* ``music_prob`` — a heuristic 0..1 derived from ``speech_mod`` (high = steady,
  music-like sound; 0 for silence). It is not a trained classifier.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_BATCH = 16  # frames converted to float at once


def frame_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame brightness, saturation, warmth, contrast of (T, H, W, 3) uint8 RGB frames."""
    frames = np.asarray(frames)
    keys = ("brightness", "saturation", "warmth", "contrast")
    out = {k: np.zeros(len(frames), np.float32) for k in keys}
    for i in range(0, len(frames), _BATCH):
        f = frames[i:i + _BATCH].astype(np.float32) / 255.0
        luma = f @ LUMA
        mx, mn = f.max(axis=-1), f.min(axis=-1)
        sat = (mx - mn) / np.maximum(mx, 1e-6)
        out["brightness"][i:i + _BATCH] = luma.mean(axis=(1, 2))
        out["saturation"][i:i + _BATCH] = sat.mean(axis=(1, 2))
        out["warmth"][i:i + _BATCH] = (f[..., 0] - f[..., 2]).mean(axis=(1, 2))
        out["contrast"][i:i + _BATCH] = luma.std(axis=(1, 2))
    return out


def motion_energy(frames: np.ndarray) -> np.ndarray:
    """(T−1,) mean absolute luma change between consecutive frames, 0..1."""
    frames = np.asarray(frames)
    if len(frames) < 2:
        return np.zeros(0, np.float32)
    out = np.zeros(len(frames) - 1, np.float32)
    prev = (frames[0].astype(np.float32) @ LUMA) / 255.0
    for i in range(1, len(frames)):
        cur = (frames[i].astype(np.float32) @ LUMA) / 255.0
        out[i - 1] = np.abs(cur - prev).mean()
        prev = cur
    return out


def _db(x: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.maximum(x, 1e-5))


def k_weighting(rate: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """BS.1770 pre-filter (high shelf) and RLB high-pass as (b, a) pairs for ``rate`` (libebur128)."""
    f0, gain, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = np.tan(np.pi * f0 / rate)
    vh = 10 ** (gain / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (np.array([(vh + vb * k / q + k * k), 2 * (k * k - vh), (vh - vb * k / q + k * k)]) / a0,
             np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]))
    f0, q = 38.13547087602444, 0.5003270373238773
    k = np.tan(np.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    highpass = (np.array([1.0, -2.0, 1.0]), np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]))
    return shelf, highpass


def _k_weighted(audio: np.ndarray, rate: int) -> np.ndarray:
    (b1, a1), (b2, a2) = k_weighting(rate)
    return lfilter(b2, a2, lfilter(b1, a1, audio.astype(np.float64)))


def _block_powers(x: np.ndarray, rate: int) -> np.ndarray:
    """Mean square of 400 ms blocks every 100 ms."""
    block, hop = int(0.4 * rate), int(0.1 * rate)
    if len(x) < block:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(0, len(x) - block + 1, hop)
    return (c[starts + block] - c[starts]) / block


def _lufs(power: np.ndarray) -> np.ndarray:
    return -0.691 + 10 * np.log10(np.maximum(power, 1e-12))


def audio_window_stats(audio: np.ndarray, starts: np.ndarray, ends: np.ndarray, rate: int = 16000) -> dict[str, np.ndarray]:
    """Loudness, loudness range, silence, speech modulation and music-likeness per window
    ``[starts[i], ends[i])`` (seconds into ``audio``); NaN where a window is under 100 ms."""
    audio = np.asarray(audio, dtype=np.float32)
    keys = ("loudness_db", "loudness_lufs", "loudness_range_db", "silence", "speech_mod", "music_prob")
    n = len(starts)
    out = {k: np.full(n, np.nan, np.float32) for k in keys}
    weighted = _k_weighted(audio, rate) if len(audio) else np.zeros(0)
    for i, (s, e) in enumerate(zip(starts, ends)):
        lo, hi = max(0, int(round(s * rate))), min(len(audio), int(round(e * rate)))
        seg = audio[lo:hi]
        if len(seg) < rate // 10:
            continue
        out["loudness_db"][i] = _db(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))
        kseg = weighted[lo:hi]
        blocks = _block_powers(kseg, rate)
        if len(blocks) == 0:
            blocks = np.array([np.mean(kseg ** 2)])
        levels = _lufs(blocks)
        gated = blocks[levels > -70]
        if len(gated):
            relative = _lufs(np.mean(gated)) - 10
            gated = gated[_lufs(gated) > relative]
            out["loudness_lufs"][i] = _lufs(np.mean(gated))
            audible = levels[(levels > -70) & (levels > out["loudness_lufs"][i] - 20)]
            out["loudness_range_db"][i] = np.percentile(audible, 95) - np.percentile(audible, 10)
        else:
            out["loudness_lufs"][i] = -70.0
            out["loudness_range_db"][i] = 0.0
        plain = _block_powers(seg, rate)
        out["silence"][i] = float(np.mean(_db(np.sqrt(plain)) < -50)) if len(plain) else float(
            out["loudness_db"][i] < -50)
        speech = speech_modulation(seg, rate)
        out["speech_mod"][i] = speech
        if np.isfinite(speech):
            out["music_prob"][i] = 0.0 if out["loudness_db"][i] < -50 else float(
                np.clip((0.6 - speech) / 0.5, 0.0, 1.0))
    return out


def speech_modulation(seg: np.ndarray, rate: int) -> float:
    """Syllabic (2–8 Hz) share of the envelope modulation spectrum × modulation depth, 0..1.

    NaN for segments under 0.5 s (too short to see a 4 Hz rhythm), 0 for silence.
    """
    frame = rate // 100  # 10 ms envelope
    n = len(seg) // frame
    if n < 50:
        return float("nan")
    env = np.sqrt(np.mean(seg[:n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1))
    if env.max() < 1e-4:
        return 0.0
    env = env / (env.mean() + 1e-9) - 1.0
    spec = np.abs(np.fft.rfft(env * np.hanning(n))) ** 2
    freqs = np.fft.rfftfreq(n, d=0.01)
    syllabic = spec[(freqs >= 2) & (freqs <= 8)].sum()
    total = spec[(freqs >= 0.5) & (freqs <= 20)].sum() + 1e-12
    depth = float(np.std(env))  # speech envelopes swing hard (pauses), music less
    return float(np.clip((syllabic / total) * min(1.0, depth / 0.6), 0.0, 1.0))
