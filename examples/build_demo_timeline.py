"""Rebuild examples/demo.otio from the clips in examples/media/ (see examples/media/PROVENANCE.md).

The demo is a small cut at 24 fps starting at 01:00:00:00 with media at 30,
29.97 and 23.976 fps, a gap, a user marker (which emoguide must leave alone)
and one sidecar caption file: enough to show every part of the report.

    python examples/build_demo_timeline.py
"""

from __future__ import annotations

from pathlib import Path

import av
import opentimelineio as otio

HERE = Path(__file__).resolve().parent
RATE = 24.0
EDIT = [  # (file, in seconds, out seconds)
    ("single_face_smile.mp4", 0.0, 2.4),
    ("cremad_1001_DFA_happy.mp4", 0.0, 1.9),
    None,  # half a second of black
    ("cremad_1001_DFA_angry.mp4", 0.0, 2.3),
    ("crying_wolfganglanger.mp4", 0.0, 5.0),
    ("cremad_1001_DFA_sad.mp4", 0.0, 2.0),
]


def media_clip(name: str, t_in: float, t_out: float) -> otio.schema.Clip:
    with av.open(str(HERE / "media" / name)) as container:
        stream = container.streams.video[0]
        media_rate = float(stream.average_rate)
        duration = float(container.duration) / 1e6
    ref = otio.schema.ExternalReference(
        target_url=f"media/{name}",
        available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, media_rate),
                                                otio.opentime.RationalTime.from_seconds(duration, media_rate)))
    src = otio.opentime.TimeRange(otio.opentime.RationalTime.from_seconds(t_in, media_rate).round(),
                                  otio.opentime.RationalTime.from_seconds(t_out - t_in, media_rate).round())
    return otio.schema.Clip(name=Path(name).stem, media_reference=ref, source_range=src)


def build() -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="emoguide demo", global_start_time=otio.opentime.RationalTime(86400, RATE))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for item in EDIT:
        if item is None:
            video.append(otio.schema.Gap(duration=otio.opentime.RationalTime(12, RATE)))
        else:
            video.append(media_clip(*item))
    note = otio.schema.Marker(name="Director: is this take too much?", color=otio.schema.MarkerColor.GREEN,
                              marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(15, 29.97),
                                                                   otio.opentime.RationalTime(1, 29.97)))
    video[3].markers.append(note)
    timeline.tracks.append(video)
    return timeline


if __name__ == "__main__":
    otio.adapters.write_to_file(build(), str(HERE / "demo.otio"))
    print(f"wrote {HERE / 'demo.otio'}")
