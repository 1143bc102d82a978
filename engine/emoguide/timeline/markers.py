"""Writing the analysis back into the timeline as OTIO markers, and only ours.

Every marker we write carries ``metadata["emoguide"]`` (``kind``, ``id``,
version…); everything we add to a clip lives under the same key. Re-running
first removes exactly those, so the user's own markers and metadata are never
touched and a second run replaces rather than duplicates.

Clip markers use the clip's own media time (the coordinate of its
``source_range``, including the embedded start timecode), snapped to whole
frames of the clip's rate; timeline markers sit on the top-level stack in
timeline time (0 = first frame of the cut). Names read at a glance in an NLE
(``happy 82% · V+0.4 A+0.2``); comments hold the detail; colours come from
:mod:`emoguide.timeline.colours`.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

import numpy as np
import opentimelineio as otio

from emoguide import NAMESPACE, __version__
from emoguide.labels import LABELS
from emoguide.pipeline.results import ClipAnalysis, TimelineAnalysis
from emoguide.timeline.colours import colour_for
from emoguide.timeline.mapping import find_clip

MIXED_SIGNAL_THRESHOLD = 0.45  # JS divergence (bits) above which face/voice/text are said to disagree


def is_ours(marker: otio.schema.Marker) -> bool:
    return NAMESPACE in marker.metadata


def _all_items(timeline: otio.schema.Timeline) -> Iterable[Any]:
    yield timeline.tracks
    yield from timeline.tracks.find_children()


def remove_our_markers(timeline: otio.schema.Timeline) -> int:
    """Delete every marker and metadata entry we wrote; return how many markers went."""
    removed = 0
    for item in _all_items(timeline):
        markers = getattr(item, "markers", None)
        if markers is not None:
            keep = [m for m in markers if not is_ours(m)]
            removed += len(markers) - len(keep)
            if len(keep) != len(markers):
                markers[:] = keep
        if NAMESPACE in item.metadata:
            del item.metadata[NAMESPACE]
    if NAMESPACE in timeline.metadata:
        del timeline.metadata[NAMESPACE]
    return removed


def annotated_copy(timeline: otio.schema.Timeline, analysis: TimelineAnalysis, guidance=None) -> otio.schema.Timeline:
    """A deep copy of ``timeline`` with our markers written (the input object stays untouched)."""
    out = copy.deepcopy(timeline)
    write_markers(out, analysis, guidance)
    return out


def write_markers(timeline: otio.schema.Timeline, analysis: TimelineAnalysis, guidance=None) -> int:
    """Replace our markers on ``timeline`` (in place) with those for ``analysis``; return the count."""
    remove_our_markers(timeline)
    count = 0
    for clip_analysis in analysis.clips:
        clip = find_clip(timeline, clip_analysis.job.clip_id)
        if clip is None:
            continue
        for marker in clip_markers(clip, clip_analysis):
            clip.markers.append(marker)
            count += 1
        if clip_analysis.windows is not None:
            clip.metadata[NAMESPACE] = _clip_metadata(clip_analysis, analysis)
    for marker in timeline_markers(analysis):
        timeline.tracks.markers.append(marker)
        count += 1
    if guidance is not None:
        from emoguide.timeline.guidance_markers import guidance_markers

        for target, marker in guidance_markers(timeline, guidance):
            target.markers.append(marker)
            count += 1
    timeline.metadata[NAMESPACE] = {
        "schema": 1, "version": __version__, "models": analysis.models, "settings": analysis.settings,
        "partial": analysis.partial,
    }
    return count


def make_marker(kind: str, marker_id: str, name: str, start: otio.opentime.RationalTime,
                duration: otio.opentime.RationalTime, comment: str, colour_key: str | None = None,
                **fields: Any) -> otio.schema.Marker:
    """One of our markers: namespaced metadata with kind and a stable id, colour from the table."""
    meta = {"schema": 1, "kind": kind, "id": marker_id, "version": __version__}
    meta.update(_plain(fields))
    marker = otio.schema.Marker(
        name=name, marked_range=otio.opentime.TimeRange(start, duration),
        color=getattr(otio.schema.MarkerColor, colour_for(colour_key or kind).otio),
        metadata={NAMESPACE: meta},
    )
    marker.comment = comment
    return marker


def media_time(clip: otio.schema.Clip, media_s: float, rate: float) -> otio.opentime.RationalTime:
    """Media second → the clip's source coordinate (with start timecode), snapped to a frame."""
    origin = otio.opentime.RationalTime(0, rate)
    available = clip.media_reference.available_range if clip.media_reference else None
    if available is not None:
        origin = available.start_time.rescaled_to(rate)
    return otio.opentime.RationalTime(round(origin.value + media_s * rate), rate)


def _span(clip, start_s: float, end_s: float, rate: float):
    start = media_time(clip, start_s, rate)
    end = media_time(clip, end_s, rate)
    frames = max(1.0, end.value - start.value)
    return start, otio.opentime.RationalTime(frames, rate)


def clip_markers(clip: otio.schema.Clip, ca: ClipAnalysis) -> list[otio.schema.Marker]:
    job = ca.job
    rate = job.rate
    if ca.status in ("offline", "error"):
        start, dur = _span(clip, job.media_start_s, max(job.media_end_s, job.media_start_s + 1 / rate), rate)
        title = "⚠ media offline" if ca.status == "offline" else "⚠ analysis failed"
        return [make_marker("media_offline" if ca.status == "offline" else "analysis_error", f"{job.clip_id}:status",
                            title, start, dur, f"{job.clip_name}: {ca.message}", "media_offline",
                            clip_id=job.clip_id, reason=ca.message)]
    w = ca.windows
    if w is None or len(w) == 0:
        return []
    markers = []
    for k, (i0, i1) in enumerate(label_segments(w.probs)):
        probs = w.probs[i0:i1].mean(0)
        vad = w.vad[i0:i1].mean(0)
        label = LABELS[int(np.argmax(probs))]
        p = float(probs.max())
        start, dur = _span(clip, float(w.start_s[i0]), float(w.end_s[i1 - 1]), rate)
        present = [m for m, cols in w.modalities.items() if np.asarray(cols["present"][i0:i1]).any()]
        comment = (f"{label} {p:.0%} (confidence {float(w.confidence[i0:i1].mean()):.0%}); valence {vad[0]:+.2f}, "
                   f"arousal {vad[1]:+.2f}, dominance {vad[2]:+.2f}; from {', '.join(present) or 'no modality'}; "
                   f"fusion {w.fusion}, VAD from {w.vad_source}")
        markers.append(make_marker(
            "emotion", f"{job.clip_id}:emotion:{k}", f"{label} {p:.0%} · V{vad[0]:+.1f} A{vad[1]:+.1f}", start, dur,
            comment, label, clip_id=job.clip_id, label=label, probability=p,
            probs=dict(zip(LABELS, probs.tolist())), vad=vad.tolist(), modalities=present,
            window_range=[int(i0), int(i1)]))
    for k, (i0, i1) in enumerate(_runs(w.disagreement >= MIXED_SIGNAL_THRESHOLD)):
        pair = w.disagreeing_pair[i0] or "modalities"
        a, b = (pair.split("~") + ["", ""])[:2]
        detail = ", ".join(f"{m} says {LABELS[int(np.argmax(w.modalities[m]['probs'][i0:i1].mean(0)))]}"
                           for m in (a, b) if m in w.modalities)
        start, dur = _span(clip, float(w.start_s[i0]), float(w.end_s[i1 - 1]), rate)
        markers.append(make_marker(
            "mixed_signals", f"{job.clip_id}:mixed:{k}", f"mixed signals · {pair.replace('~', ' vs ')}", start, dur,
            f"{detail}: intended irony, or a performance/sound problem? (JS divergence "
            f"{float(w.disagreement[i0:i1].max()):.2f})", clip_id=job.clip_id, pair=pair,
            disagreement=float(w.disagreement[i0:i1].max())))
    for k, event in enumerate(ca.events):
        start, dur = _span(clip, event.onset_s, event.offset_s, rate)
        markers.append(make_marker(
            "brief_expression", f"{job.clip_id}:brief:{k}", f"brief {event.label} · {event.apex_s - job.media_start_s:.2f}s",
            start, dur, f"brief {event.label} expression, onset {event.onset_s:.2f}s apex {event.apex_s:.2f}s offset "
            f"{event.offset_s:.2f}s (media time), strength {event.strength:.2f}: a candidate cut point",
            clip_id=job.clip_id, label=event.label, apex_s=event.apex_s, strength=event.strength))
    return markers


def label_segments(probs: np.ndarray) -> list[tuple[int, int]]:
    """Runs ``[i0, i1)`` of consecutive windows sharing their dominant class."""
    labels = np.asarray(probs).argmax(axis=1)
    runs, i0 = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[i0]:
            runs.append((i0, i))
            i0 = i
    return runs


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, flag in enumerate(list(np.asarray(mask)) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def timeline_markers(analysis: TimelineAnalysis) -> list[otio.schema.Marker]:
    """Whole-cut events on the stack: the arousal peak and the valence low point of the arc."""
    rows = [(c, i) for c in analysis.clips if c.windows is not None for i in range(len(c.windows))]
    if not rows:
        return []
    rate = analysis.rate
    markers = []
    for key, pick, title in (("peak_arousal", np.argmax, "arc · arousal peak"), ("valence_low", np.argmin, "arc · valence low")):
        axis = 1 if key == "peak_arousal" else 0
        values = np.array([c.windows.vad[i, axis] for c, i in rows])
        c, i = rows[int(pick(values))]
        t0, t1 = float(c.windows.timeline_start_s[i]), float(c.windows.timeline_end_s[i])
        start = otio.opentime.RationalTime(round(t0 * rate), rate)
        dur = otio.opentime.RationalTime(max(1, round((t1 - t0) * rate)), rate)
        markers.append(make_marker("timeline", f"timeline:{key}", title, start, dur,
                                   f"{title.split('· ')[1]} of the cut: {values.max() if axis else values.min():+.2f} in "
                                   f"{c.job.clip_name}", "timeline", event=key, clip_id=c.job.clip_id))
    return markers


def _clip_metadata(ca: ClipAnalysis, analysis: TimelineAnalysis) -> dict[str, Any]:
    w = ca.windows
    return _plain({
        "schema": 1, "version": __version__, "models": analysis.models, "summary": ca.summary(),
        "windows": {"start_s": w.start_s, "end_s": w.end_s, "probs": w.probs, "vad": w.vad,
                    "confidence": w.confidence, "disagreement": w.disagreement, "labels": list(LABELS)},
    })


def _plain(value: Any) -> Any:
    """OTIO metadata accepts plain Python only: numpy → lists/floats, rounded."""
    from emoguide.pipeline.results import _jsonable

    return _jsonable(value)
