"""Generated media for tests and benchmarks: every video frame shows its own index.

The index is drawn as a 4×4 grid of black/white blocks (16 bits), big enough
to survive H.264 compression and downscaling, so a test can read back exactly
which frame a decoder returned. Audio carries a short click at every whole
second, so audio alignment is checkable to the sample.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GRID = 4


def index_image(index: int, size=(320, 180)) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), 128, np.uint8)
    bh, bw = h // GRID, w // GRID
    for bit in range(GRID * GRID):
        r, c = divmod(bit, GRID)
        img[r * bh:(r + 1) * bh, c * bw:(c + 1) * bw] = 255 if (index >> bit) & 1 else 0
    return img


def read_frame_index(image: np.ndarray) -> int:
    h, w = image.shape[:2]
    bh, bw = h // GRID, w // GRID
    value = 0
    for bit in range(GRID * GRID):
        r, c = divmod(bit, GRID)
        block = image[r * bh + bh // 4:(r + 1) * bh - bh // 4, c * bw + bw // 4:(c + 1) * bw - bw // 4]
        if block.mean() > 127:
            value |= 1 << bit
    return value


def click_track(seconds: float, rate: int) -> np.ndarray:
    audio = np.zeros(int(round(seconds * rate)), np.float32)
    for s in range(int(seconds) + 1):
        i = s * rate
        audio[i:i + rate // 200] = 0.8  # 5 ms click at each whole second
    return audio


def make_indexed_video(path, rate: Fraction, n_frames: int, size=(320, 180), timecode: str | None = "01:00:00:00",
                       audio: bool = True, codec: str = "libx264", audio_rate: int = 48000) -> Path:
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=Fraction(rate))
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"g": "12", "crf": "18"} if codec in ("libx264", "libx265") else {}
        if timecode:
            vs.metadata["timecode"] = timecode
        as_ = out.add_stream("aac", rate=audio_rate, layout="mono") if audio else None
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(index_image(i, size), format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            frame.time_base = 1 / Fraction(rate)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            samples = click_track(n_frames / float(rate), audio_rate)
            step = 1024
            for j in range(0, len(samples), step):
                chunk = samples[j:j + step]
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                frame.sample_rate = audio_rate
                frame.pts = j
                frame.time_base = Fraction(1, audio_rate)
                for packet in as_.encode(frame):
                    out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return path


def make_vfr_video(path, n_frames: int = 40, size=(320, 180)) -> Path:
    """Frames at irregular intervals (alternating 1/24 and 1/12 s), each showing its index."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.codec_context.time_base = Fraction(1, 96)
        pts = 0
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(index_image(i, size), format="rgb24").reformat(format="yuv420p")
            frame.pts = pts
            frame.time_base = Fraction(1, 96)
            pts += 4 if i % 2 == 0 else 8
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


def make_audio_only(path, seconds: float = 2.0, rate: int = 44100) -> Path:
    path = Path(path)
    with av.open(str(path), "w") as out:
        st = out.add_stream("pcm_s16le" if path.suffix == ".wav" else "aac", rate=rate, layout="mono")
        samples = click_track(seconds, rate)
        frame = av.AudioFrame.from_ndarray((samples * 32767).astype(np.int16)[None, :] if path.suffix == ".wav"
                                           else samples[None, :], format="s16" if path.suffix == ".wav" else "flt",
                                           layout="mono")
        frame.sample_rate = rate
        for packet in st.encode(frame):
            out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return path


def make_corrupt_file(path) -> Path:
    path = Path(path)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return path


def make_truncated_copy(src, dst, keep: float = 0.3) -> Path:
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)


def make_zero_length(path) -> Path:
    Path(path).write_bytes(b"")
    return Path(path)
