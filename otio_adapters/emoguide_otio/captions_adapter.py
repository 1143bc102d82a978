"""Shared reading logic of the SRT and WebVTT adapters: cues → a timeline with a caption track.

Each cue becomes a clip named with its text (Gaps in between), on a video-kind
track named "Captions" — the shape NLEs use for subtitle tracks — at the
``rate`` adapter argument, with frame-snapped ranges. The exact cue seconds and
the text also go to ``clip.metadata["emoguide"]["caption"]``, which the engine
reads. Malformed files raise :class:`CaptionReadError` (an OTIO error) naming the line.
"""

from __future__ import annotations

import opentimelineio as otio

from emoguide.captions import CaptionError, Cue


class CaptionReadError(otio.exceptions.OTIOError):
    """A caption file OTIO cannot read; the message names the line."""


def cues_to_timeline(cues: list[Cue], rate: float, name: str = "captions") -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name=name)
    track = otio.schema.Track(name="Captions", kind=otio.schema.TrackKind.Video)
    cursor = 0
    for cue in cues:
        start = max(cursor, round(cue.start_s * rate))
        end = max(start + 1, round(cue.end_s * rate))
        if start > cursor:
            track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(start - cursor, rate)))
        clip = otio.schema.Clip(
            name=cue.text, source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                               otio.opentime.RationalTime(end - start, rate)),
            metadata={"emoguide": {"caption": {"text": cue.text, "start_s": cue.start_s, "end_s": cue.end_s,
                                               "speaker": cue.speaker}}})
        track.append(clip)
        cursor = end
    timeline.tracks.append(track)
    return timeline


def timeline_to_cues(timeline: otio.schema.Timeline) -> list[Cue]:
    """Caption clips (ours, or any clip on a track named like captions/subtitles) back to cues."""
    cues = []
    for track in timeline.tracks:
        captions_track = (track.name or "").lower() in ("captions", "subtitles", "subtitle")
        for clip in track.find_clips():
            caption = clip.metadata.get("emoguide", {}).get("caption")
            if caption:
                cues.append(Cue(caption["start_s"], caption["end_s"], caption["text"], caption.get("speaker", "")))
            elif captions_track:
                r = clip.range_in_parent()
                cues.append(Cue(r.start_time.to_seconds(), r.end_time_exclusive().to_seconds(), clip.name))
    return sorted(cues, key=lambda c: c.start_s)


def read(parse, text: str, rate: float, name: str) -> otio.schema.Timeline:
    try:
        cues = parse(text)
    except CaptionError as exc:
        raise CaptionReadError(str(exc)) from exc
    return cues_to_timeline(cues, float(rate), name)
