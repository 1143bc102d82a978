"""OTIO adapter ``emoguide_webvtt``: WebVTT captions in and out (see captions_adapter)."""

from __future__ import annotations

from pathlib import Path

from emoguide.captions import parse_vtt

from emoguide_otio.captions_adapter import read, timeline_to_cues


def read_from_string(input_str, rate=24):
    return read(parse_vtt, input_str, rate, "captions")


def read_from_file(filepath, rate=24):
    return read(lambda t: parse_vtt(t, str(filepath)), Path(filepath).read_bytes().decode("utf-8-sig", "replace"),
                rate, Path(filepath).stem)


def write_to_string(input_otio):
    def ts(s: float) -> str:
        ms = int(round(s * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"

    cues = timeline_to_cues(input_otio)
    return "WEBVTT\n\n" + "\n".join(f"{ts(c.start_s)} --> {ts(c.end_s)}\n{c.text}\n" for c in cues)
