"""Constructed timelines and analyses for plumbing tests (no media, no models)."""

from __future__ import annotations

import numpy as np
import opentimelineio as otio

from emoguide.labels import LABEL_INDEX, NUM_CLASSES
from emoguide.pipeline.results import BriefEvent, ClipAnalysis, ClipWindows, TimelineAnalysis
from emoguide.timeline.mapping import clip_jobs

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
RATE = 30000 / 1001
TC = 107892  # 01:00:00;00 drop-frame at 29.97 = 107892 frames


def make_timeline():
    tl = otio.schema.Timeline(name="cut", global_start_time=RT(107892, RATE))
    track = otio.schema.Track(name="V1")
    ref = otio.schema.ExternalReference(target_url="file:///m/a.mov", available_range=TR(RT(TC, RATE), RT(9000, RATE)))
    c = otio.schema.Clip(name="a", media_reference=ref, source_range=TR(RT(TC + 300, RATE), RT(150, RATE)),
                         metadata={"user": {"keep": 1}})
    c.markers.append(otio.schema.Marker(name="user note", marked_range=TR(RT(TC + 310, RATE), RT(1, RATE)),
                                        metadata={"mine": True}))
    track.append(c)
    track.append(otio.schema.Gap(duration=RT(30, RATE)))
    off = otio.schema.Clip(name="offline", media_reference=otio.schema.MissingReference(),
                           source_range=TR(RT(0, RATE), RT(60, RATE)))
    track.append(off)
    tl.tracks.append(track)
    return tl


def windows_for(job, labels, disagreement=None):
    n = len(labels)
    starts = job.media_start_s + np.arange(n) * 1.0
    ends = np.minimum(starts + 2.0, job.media_end_s)
    probs = np.full((n, NUM_CLASSES), 0.02, np.float32)
    for i, lab in enumerate(labels):
        probs[i, LABEL_INDEX[lab]] = 0.88
    present = np.ones(n, bool)
    return ClipWindows(
        start_s=starts.astype(np.float32), end_s=ends.astype(np.float32),
        timeline_start_s=np.array([job.media_to_timeline(s) for s in starts], np.float32),
        timeline_end_s=np.array([job.media_to_timeline(e) for e in ends], np.float32),
        probs=probs, vad=np.tile(np.array([[0.3, 0.2, 0.1]], np.float32), (n, 1)), confidence=np.full(n, .8, np.float32),
        disagreement=np.asarray(disagreement if disagreement is not None else np.zeros(n), np.float32),
        disagreeing_pair=["face~voice"] * n, contributions={"face": np.ones(n, np.float32)},
        modalities={"face": {"probs": probs, "present": present}, "voice": {"probs": probs[::-1].copy(), "present": present}},
        stats={}, fusion="late", vad_source="norms")


def make_analysis(tl):
    jobs = clip_jobs(tl)
    a = ClipAnalysis(job=jobs[0], status="ok",
                     windows=windows_for(jobs[0], ["happy", "happy", "sad", "sad"], [0, 0, 0.7, 0.8]),
                     events=[BriefEvent(jobs[0].media_start_s + 1.0, jobs[0].media_start_s + 1.1,
                                        jobs[0].media_start_s + 1.3, "surprised", 0.6)])
    b = ClipAnalysis(job=jobs[1], status="offline", message="media offline: the clip has no media reference")
    return TimelineAnalysis(timeline_name="cut", duration_s=8.0, rate=RATE, start_timecode_s=3600.0, clips=[a, b],
                            models={"face": "x"}, settings={}, emoguide_version="test")
