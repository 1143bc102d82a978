"""Machine-readable report files: every window as CSV rows and the whole analysis as JSON."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from emoguide.labels import LABELS
from emoguide.pipeline.results import TimelineAnalysis

CSV_COLUMNS = (["clip_id", "clip_name", "track", "window", "timeline_start_s", "timeline_end_s", "media_start_s",
                "media_end_s", "label", "probability"] + [f"p_{c}" for c in LABELS]
               + ["valence", "arousal", "dominance", "confidence", "disagreement", "face_present", "voice_present",
                  "text_present", "fusion"])


def windows_csv(analysis: TimelineAnalysis) -> str:
    """One row per analysed window of every clip, timeline-ordered within each clip."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for clip in analysis.clips:
        w = clip.windows
        if w is None:
            continue
        for i in range(len(w)):
            probs = w.probs[i]
            present = {m: bool(np.asarray(w.modalities[m]["present"])[i]) if m in w.modalities else False
                       for m in ("face", "voice", "text")}
            writer.writerow(
                [clip.job.clip_id, clip.job.clip_name, clip.job.track_name, i, f"{w.timeline_start_s[i]:.3f}",
                 f"{w.timeline_end_s[i]:.3f}", f"{w.start_s[i]:.3f}", f"{w.end_s[i]:.3f}",
                 LABELS[int(probs.argmax())], f"{probs.max():.4f}"] + [f"{p:.4f}" for p in probs]
                + [f"{v:.4f}" for v in w.vad[i]] + [f"{w.confidence[i]:.4f}", f"{w.disagreement[i]:.4f}"]
                + [int(present["face"]), int(present["voice"]), int(present["text"]), w.fusion])
    return out.getvalue()


def analysis_json(analysis: TimelineAnalysis, guidance=None) -> str:
    data = analysis.to_dict()
    if guidance is not None:
        data["guidance"] = guidance.to_dict() if hasattr(guidance, "to_dict") else guidance
    return json.dumps(data, indent=1)
