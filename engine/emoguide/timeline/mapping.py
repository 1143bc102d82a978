"""From an OTIO timeline to the exact media ranges the edit uses.

This module knows about timelines and nothing about decoding (auto-editor's
rule: the timeline model has no media logic). For each clip it answers: which
file, which seconds of it, at what speed, and where those seconds land on the
timeline. Times follow one convention throughout the engine: *media seconds*
count from the file's first frame, so a clip's ``source_range`` is shifted by
the media's ``available_range`` start (the embedded start timecode, e.g.
01:00:00:00 in Resolve/Premiere exports).

Speed: OTIO keeps a clip's ``source_range.duration`` as its length in the track;
a ``LinearTimeWarp`` with ``time_scalar`` s consumes ``duration × s`` of media
(the convention OTIO's FCP/AAF adapters use). Freeze frames (s = 0) use one frame;
reverse playback (s < 0) analyses the same media forwards, since emotion per
window does not depend on playback direction.
"""

from __future__ import annotations

import logging
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import opentimelineio as otio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaSource:
    """Where to read media: a file, or an image sequence (a libav image2 pattern)."""

    path: Path
    container_format: str | None = None  # "image2" for image sequences
    options: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ClipJob:
    """One clip's analysis job: everything the pipeline needs, no OTIO objects inside.

    ``clip_id`` is a stable address in the timeline ("V1/3" = 4th item of the
    first video track) used to put markers back on the same clip.
    """

    clip_id: str
    clip_name: str
    track_name: str
    track_kind: str  # "Video" or "Audio"
    source: MediaSource | None
    media_start_s: float  # first used media second (inclusive)
    media_end_s: float  # last used media second (exclusive)
    speed: float
    timeline_start_s: float  # seconds from the timeline's start (0 = first frame of the cut)
    timeline_end_s: float
    rate: float  # the clip's source rate, used to snap markers to frames
    problem: str | None = None  # why this clip cannot be analysed (offline, zero length, …)

    @property
    def media_duration_s(self) -> float:
        return max(0.0, self.media_end_s - self.media_start_s)

    def media_to_timeline(self, media_s: float) -> float:
        """Timeline seconds at which media second ``media_s`` of this clip plays."""
        if self.speed == 0:
            return self.timeline_start_s
        return self.timeline_start_s + (media_s - self.media_start_s) / self.speed


class TimelineError(ValueError):
    """The timeline file could not be read as OTIO (names the file and OTIO's reason)."""


def load_timeline(path: str | Path, extract_dir: Path | None = None) -> otio.schema.Timeline:
    """Read any format OTIO reads; `.otioz` bundles are extracted so media paths resolve.

    Anything that is not a single timeline (a bin/SerializableCollection) is rejected
    with a message that says so, rather than analysing the wrong thing.
    """
    path = Path(path)
    if not path.is_file():
        raise TimelineError(f"{path}: no such timeline file")
    try:
        if path.suffix.lower() == ".otioz":
            target = extract_dir or path.with_suffix(".otioz.media")
            result = otio.adapters.read_from_file(str(path), extract_to_directory=str(target))
        else:
            result = otio.adapters.read_from_file(str(path))
    except Exception as exc:  # OTIO raises many types; the caller needs one clear error
        raise TimelineError(f"{path}: not a readable timeline ({type(exc).__name__}: {exc})") from exc
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if len(timelines) != 1:
            raise TimelineError(f"{path}: holds {len(timelines)} timelines; export one timeline")
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise TimelineError(f"{path}: holds a {type(result).__name__}, not a Timeline")
    return result


def iter_clips(timeline: otio.schema.Timeline) -> Iterator[tuple[str, otio.schema.Track, otio.schema.Clip]]:
    """Yield ``(clip_id, track, clip)`` for every clip on every top-level track.

    Clip ids number tracks per kind (V1, V2, A1…) as NLEs do and items by their
    index in the track, so Gaps and Transitions keep ids stable. Clips inside
    nested stacks get ``V1/3.0/2``-style ids.
    """
    counters = {"Video": 0, "Audio": 0}
    for track in timeline.tracks:
        kind = track.kind if track.kind in counters else "Video"
        counters[kind] += 1
        prefix = f"{kind[0]}{counters[kind]}"
        yield from _iter_items(track, prefix, track)


def _iter_items(composition, prefix: str, track) -> Iterator[tuple[str, otio.schema.Track, otio.schema.Clip]]:
    for index, item in enumerate(composition):
        item_id = f"{prefix}/{index}"
        if isinstance(item, otio.schema.Clip):
            yield item_id, track, item
        elif isinstance(item, otio.core.Composition):  # nested Stack/Track (compound clip)
            for sub_index, sub in enumerate(item):
                if isinstance(sub, otio.core.Composition):
                    yield from _iter_items(sub, f"{item_id}.{sub_index}", track)
                elif isinstance(sub, otio.schema.Clip):
                    yield f"{item_id}.{sub_index}", track, sub


def find_clip(timeline: otio.schema.Timeline, clip_id: str) -> otio.schema.Clip | None:
    """The clip with this id, or None (the timeline changed since analysis)."""
    for cid, _track, clip in iter_clips(timeline):
        if cid == clip_id:
            return clip
    return None


def clip_jobs(timeline: otio.schema.Timeline, base_dir: Path | None = None) -> list[ClipJob]:
    """Every clip of ``timeline`` as a :class:`ClipJob`; unusable clips carry ``problem``."""
    return [clip_job(timeline, cid, track, clip, base_dir) for cid, track, clip in iter_clips(timeline)]


def clip_job(timeline, clip_id: str, track, clip: otio.schema.Clip, base_dir: Path | None) -> ClipJob:
    source, problem = resolve_media(clip.media_reference, base_dir)
    try:
        used = clip.trimmed_range()
    except Exception as exc:  # no source_range and no available_range
        return _job(clip_id, track, clip, source, 0.0, 0.0, 1.0, 0.0, 0.0, 24.0,
                    problem or f"clip has no usable range ({exc})")
    rate = used.start_time.rate or 24.0
    speed = time_scalar(clip)
    media_origin = 0.0
    available = clip.media_reference.available_range if clip.media_reference else None
    if available is not None:
        media_origin = available.start_time.rescaled_to(rate).to_seconds()
    media_start = used.start_time.to_seconds() - media_origin
    duration = used.duration.to_seconds()
    consumed = duration * abs(speed) if speed != 0 else 1.0 / rate
    try:
        in_timeline = clip.transformed_time_range(used, timeline.tracks)
        timeline_start = in_timeline.start_time.to_seconds()
    except Exception:  # detached clip: place it at zero rather than fail
        timeline_start = 0.0
    if duration <= 0 and problem is None:
        problem = "zero-length clip"
    elif media_start < -0.5 / rate and problem is None:
        problem = f"clip starts {-media_start:.3f} s before its media's first frame"
    return _job(clip_id, track, clip, source, max(0.0, media_start), max(0.0, media_start) + consumed,
                speed, timeline_start, timeline_start + duration, rate, problem)


def _job(clip_id, track, clip, source, m0, m1, speed, t0, t1, rate, problem) -> ClipJob:
    return ClipJob(
        clip_id=clip_id, clip_name=clip.name or clip_id, track_name=track.name or clip_id.split("/")[0],
        track_kind=track.kind if track.kind in ("Video", "Audio") else "Video", source=source,
        media_start_s=m0, media_end_s=m1, speed=speed, timeline_start_s=t0, timeline_end_s=t1,
        rate=float(rate), problem=problem,
    )


def time_scalar(clip: otio.schema.Clip) -> float:
    """Product of the clip's LinearTimeWarp scalars (FreezeFrame is one with 0)."""
    scalar = 1.0
    for effect in clip.effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):
            scalar *= effect.time_scalar
    return scalar


def resolve_media(ref, base_dir: Path | None) -> tuple[MediaSource | None, str | None]:
    """A :class:`MediaSource` for a media reference, or ``(None, reason)``."""
    if ref is None or isinstance(ref, otio.schema.MissingReference):
        return None, "media offline: the clip has no media reference"
    if isinstance(ref, otio.schema.GeneratorReference):
        return None, f"generated media ({ref.generator_kind or 'generator'}): nothing to decode"
    if isinstance(ref, otio.schema.ExternalReference):
        path = url_to_path(ref.target_url, base_dir)
        if path is None:
            return None, f"media offline: unsupported URL {ref.target_url!r}"
        return MediaSource(path), None
    if isinstance(ref, otio.schema.ImageSequenceReference):
        return image_sequence_source(ref, base_dir)
    return None, f"unsupported media reference type {type(ref).__name__}"


def url_to_path(url: str, base_dir: Path | None) -> Path | None:
    """Local path for a ``file://`` URL or plain path; relative paths resolve against the timeline's folder."""
    if not url:
        return None
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        raw = urllib.request.url2pathname(parsed.path)
        if parsed.netloc and parsed.netloc != "localhost":
            raw = f"//{parsed.netloc}{raw}"  # UNC share
        path = Path(raw)
    elif parsed.scheme in ("", ) or (len(parsed.scheme) == 1 and url[1:3] in (":\\", ":/")):
        path = Path(url)  # plain POSIX or Windows drive path
    else:
        return None  # http(s), s3, … are not local media
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def image_sequence_source(ref, base_dir: Path | None) -> tuple[MediaSource | None, str | None]:
    """An image2 pattern for libav from an ImageSequenceReference (start frame and rate carried)."""
    folder = url_to_path(ref.target_url_base, base_dir)
    if folder is None:
        return None, f"media offline: unsupported URL {ref.target_url_base!r}"
    digits = f"%0{ref.frame_zero_padding}d" if ref.frame_zero_padding else "%d"
    pattern = folder / f"{ref.name_prefix}{digits}{ref.name_suffix}"
    options = {"start_number": str(ref.start_frame), "framerate": f"{ref.rate:g}"}
    return MediaSource(pattern, "image2", options), None
