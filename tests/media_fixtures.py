"""Generated media for tests and benchmarks: every video frame shows its own index.

The index is drawn as a 4×4 grid of black/white blocks (16 bits) on grey, big
enough to survive H.264 compression and downscaling to 1/8 size, so a test can
read back exactly which frame a decoder returned. Audio carries a 5 ms click at
every whole second of the file, so audio alignment is checkable to the sample.

Also: a variable-frame-rate file, audio-only files, and the bad inputs the
media layer must classify — an empty file, junk bytes, a truncated copy, and a
file whose codec no libav has a decoder for (a real QuickTime movie whose
sample-description fourcc is rewritten to an unregistered one, ``qqqq``: the
container parses, the stream has no decoder).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GRID = 4


def default_video_codec() -> str:
    """libx264 where this libav has it, else the always-built-in mpeg4."""
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def index_image(index: int, size=(320, 180)) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), 128, np.uint8)
    bh, bw = h // GRID, w // GRID
    for bit in range(GRID * GRID):
        r, c = divmod(bit, GRID)
        img[r * bh:(r + 1) * bh, c * bw:(c + 1) * bw] = 255 if (index >> bit) & 1 else 0
    return img


def read_frame_index(image: np.ndarray) -> int:
    """Inverse of :func:`index_image` for a decoded (possibly scaled) RGB frame."""
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
    """Silence with a 5 ms click (0.8) starting exactly at every whole second."""
    audio = np.zeros(int(round(seconds * rate)), np.float32)
    for s in range(int(seconds) + 1):
        i = s * rate
        audio[i:i + rate // 200] = 0.8
    return audio


def make_indexed_video(path, rate: Fraction, n_frames: int, size=(320, 180), timecode: str | None = "01:00:00:00",
                       audio: bool = True, codec: str | None = None, audio_rate: int = 48000,
                       first_pts_s: float = 0.0, gop: int = 12) -> Path:
    """A CFR video (container by suffix) whose frame i shows i; optional click-track audio.

    ``first_pts_s`` shifts every timestamp (video and audio) so the file starts late, as
    MPEG-TS and camera files do; t = 0 of the media layer must still be frame 0.
    """
    path = Path(path)
    codec = codec or default_video_codec()
    rate = Fraction(rate)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        # fixed GOPs (no scene-cut keyframes: every frame here is a "scene cut") keep seek tests honest
        vs.options = {"g": str(gop), "crf": "18", "sc_threshold": "0"} if codec == "libx264" else {"g": str(gop)}
        if codec == "libx265":
            vs.options = {"crf": "18", "x265-params": f"keyint={gop}:log-level=error"}
        if codec == "mpeg4":
            vs.bit_rate = 2_000_000
        if timecode:
            vs.metadata["timecode"] = timecode
        as_ = out.add_stream("aac", rate=audio_rate, layout="mono") if audio else None
        offset = int(round(first_pts_s * rate))
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(index_image(i, size), format="rgb24").reformat(format="yuv420p")
            frame.pts = i + offset
            frame.time_base = 1 / rate
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            samples = click_track(n_frames / float(rate), audio_rate)
            audio_offset = int(round(offset / rate * audio_rate))
            step = 1024
            for j in range(0, len(samples), step):
                frame = av.AudioFrame.from_ndarray(samples[None, j:j + step], format="flt", layout="mono")
                frame.sample_rate = audio_rate
                frame.pts = j + audio_offset
                frame.time_base = Fraction(1, audio_rate)
                for packet in as_.encode(frame):
                    out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return path


def make_vfr_video(path, n_frames: int = 40, size=(320, 180)) -> Path:
    """Frames at irregular intervals (alternating 1/24 and 1/12 s), each showing its index.

    Frame i is at ``vfr_time(i)`` seconds.
    """
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(default_video_codec(), rate=24)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.codec_context.time_base = Fraction(1, 96)
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(index_image(i, size), format="rgb24").reformat(format="yuv420p")
            frame.pts = int(round(vfr_time(i) * 96))
            frame.time_base = Fraction(1, 96)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


def vfr_time(i: int) -> float:
    """Presentation time of frame i in :func:`make_vfr_video` (intervals 4/96, 8/96, 4/96, …)."""
    return (i // 2) * 12 / 96 + (i % 2) * 4 / 96


def make_audio_only(path, seconds: float = 2.0, rate: int = 44100) -> Path:
    """Click-track audio; PCM in .wav, AAC otherwise (container by suffix)."""
    path = Path(path)
    wav = path.suffix == ".wav"
    with av.open(str(path), "w") as out:
        st = out.add_stream("pcm_s16le" if wav else "aac", rate=rate, layout="mono")
        samples = click_track(seconds, rate)
        step = 1024
        for j in range(0, len(samples), step):
            chunk = samples[None, j:j + step]
            frame = av.AudioFrame.from_ndarray((chunk * 32767).astype(np.int16) if wav else chunk,
                                               format="s16" if wav else "flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = j
            frame.time_base = Fraction(1, rate)
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return path


def make_corrupt_file(path) -> Path:
    """An mp4 signature followed by junk: the container cannot be parsed."""
    path = Path(path)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return path


def make_truncated_copy(src, dst=None, keep: float = 0.4) -> Path:
    """The first ``keep`` of ``src``'s bytes (a copy interrupted mid-way)."""
    src = Path(src)
    dst = Path(dst) if dst is not None else src.with_name(f"{src.stem}_truncated{src.suffix}")
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def make_zero_length(path) -> Path:
    Path(path).write_bytes(b"")
    return Path(path)


def make_unsupported_codec(path) -> Path:
    """A .mov that parses but whose video codec (fourcc ``qqqq``) no libav can decode."""
    path = Path(path).with_suffix(".mov")
    make_indexed_video(path, Fraction(25), 12, timecode=None, audio=False, codec=default_video_codec())
    data = path.read_bytes()
    fourcc = b"avc1" if default_video_codec() == "libx264" else b"mp4v"
    at = data.index(fourcc, data.index(b"stsd"))
    path.write_bytes(data[:at] + b"qqqq" + data[at + 4:])
    return path


def make_static_video(path, n_frames: int = 12, value: int = 90, size=(320, 180), rate=25) -> Path:
    """Every frame the same flat grey with one white square: zero motion."""
    path = Path(path)
    img = np.full((size[1], size[0], 3), value, np.uint8)
    img[20:60, 40:100] = 255
    with av.open(str(path), "w") as out:
        vs = out.add_stream(default_video_codec(), rate=rate)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path
