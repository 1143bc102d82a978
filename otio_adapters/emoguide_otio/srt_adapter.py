"""OTIO adapter ``emoguide_srt``: SubRip captions in and out (see captions_adapter)."""

from __future__ import annotations

from pathlib import Path

from emoguide.captions import format_srt, parse_srt

from emoguide_otio.captions_adapter import read, timeline_to_cues


def read_from_string(input_str, rate=24):
    return read(parse_srt, input_str, rate, "captions")


def read_from_file(filepath, rate=24):
    return read(lambda t: parse_srt(t, str(filepath)), Path(filepath).read_bytes().decode("utf-8-sig", "replace"),
                rate, Path(filepath).stem)


def write_to_string(input_otio):
    return format_srt(timeline_to_cues(input_otio))
