"""CREMA-D sample clips through the whole engine, set against the crowd's votes.

CREMA-D (Cao et al. 2014) recorded actors speaking fixed sentences with an
intended emotion and had ~2,400 raters judge each clip three ways: voice only,
face only, and audio-visual. Its ``summaryTable.csv`` keeps, per clip, the
majority vote of each mode (``VoiceVote``, ``FaceVote``, ``MultiModalVote``;
ties are ``A:N``-style) and the mean intensity of that vote (``*Level``).

What this module measures, on the six real talking-face clips (actor 1001) that
ship in ``crema_d_sample/VideoFlash``: a timeline with one clip per file goes
through :func:`emoguide.analyze_timeline` (decode, face, voice, transcript+text,
fusion), and the clip-level face-only, voice-only and fused predictions are
compared with the intended label and with the crowd's majority votes for that
clip. The six audio-only clips of actor 1002 go through the voice recogniser.
Six clips are an anecdote, not a benchmark; the corpus-level human accuracies
(per-rater: voice 40.9 %, face 58.2 %, both 63.6 %, Cao et al. 2014) and the
majority-vote accuracy over the full ``summaryTable.csv`` give the scale.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoguide.labels import LABELS, to_common

log = logging.getLogger(__name__)

VOTE_LETTERS = {"N": "NEU", "H": "HAP", "S": "SAD", "A": "ANG", "F": "FEA", "D": "DIS"}
PUBLISHED_HUMAN = {"voice": 0.409, "face": 0.582, "both": 0.636}  # Cao et al. 2014, per-rater accuracy
VOTE_COLUMNS = {"voice": "VoiceVote", "face": "FaceVote", "both": "MultiModalVote"}


def intended(filename: str) -> str:
    """Common-space label from a CREMA-D name ``1001_DFA_ANG_XX`` (field 3)."""
    return to_common("crema_d", Path(filename).stem.split("_")[2])


def vote_labels(vote: str) -> set[str]:
    """Common-space labels of a (possibly tied, ``A:N``) crowd vote."""
    return {to_common("crema_d", VOTE_LETTERS[v]) for v in vote.split(":") if v in VOTE_LETTERS}


def read_summary(data_dir: Path) -> dict[str, dict[str, str]]:
    """``FileName`` → row of ``summaryTable.csv``."""
    with open(Path(data_dir) / "crema_d_sample" / "summaryTable.csv", newline="", encoding="utf-8") as fh:
        return {row["FileName"]: row for row in csv.DictReader(fh)}


def crowd_majority_accuracy(summary: dict[str, dict[str, str]]) -> dict[str, tuple[float, int]]:
    """Share of all clips whose majority vote (ties: credit 1/len) is the intended label, per mode."""
    out = {}
    for mode, col in VOTE_COLUMNS.items():
        scores = []
        for name, row in summary.items():
            labels = vote_labels(row[col])
            if labels:
                scores.append((intended(name) in labels) / len(labels))
        out[mode] = (float(np.mean(scores)), len(scores))
    return out


@dataclass
class CremaReport:
    rows: list[dict] = field(default_factory=list)
    audio_rows: list[dict] = field(default_factory=list)
    crowd: dict[str, tuple[float, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows": self.rows, "audio_rows": self.audio_rows, "crowd": self.crowd, "notes": self.notes}

    def accuracy(self, key: str, rows: list[dict] | None = None) -> float:
        rows = self.rows if rows is None else rows
        ok = [r[key] == r["truth"] for r in rows if r.get(key)]
        return float(np.mean(ok)) if ok else float("nan")

    def format(self) -> str:
        lines = ["== CREMA-D sample: actor 1001 talking-face clips through the full pipeline"]
        head = f"{'clip':<18}{'truth':<10}{'face':<11}{'voice':<11}{'text':<11}{'fused':<11}" \
               f"{'crowd face':<12}{'crowd voice':<12}{'crowd both':<12}"
        lines.append(head)
        for r in self.rows:
            lines.append(f"{r['clip']:<18}{r['truth']:<10}{r['face'] or '-':<11}{r['voice'] or '-':<11}"
                         f"{r['text'] or '-':<11}{r['fused'] or '-':<11}{r['crowd_face']:<12}{r['crowd_voice']:<12}"
                         f"{r['crowd_both']:<12}")
        if self.rows:
            lines.append("accuracy on these clips: " + "  ".join(
                f"{k} {self.accuracy(k):.2f}" for k in ("face", "voice", "fused")) + "  |  crowd majority: " + "  ".join(
                f"{m} {np.mean([r['truth'] in r['crowd_' + m].split('/') for r in self.rows]):.2f}"
                for m in ("face", "voice", "both")))
        if self.audio_rows:
            lines.append("== CREMA-D sample: actor 1002 audio-only clips through the voice recogniser")
            for r in self.audio_rows:
                lines.append(f"{r['clip']:<18}{r['truth']:<10}voice {r['voice']:<11}crowd voice {r['crowd_voice']}")
            lines.append(f"voice accuracy on these clips: {self.accuracy('voice', self.audio_rows):.2f}")
        if self.crowd:
            lines.append("crowd majority-vote accuracy over the whole summaryTable.csv: " + "  ".join(
                f"{m} {acc:.3f} (n={n})" for m, (acc, n) in self.crowd.items()))
            lines.append("published per-rater human accuracy (Cao et al. 2014): " + "  ".join(
                f"{m} {v:.3f}" for m, v in PUBLISHED_HUMAN.items()))
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _clip_label(probs: np.ndarray, present: np.ndarray | None = None) -> str:
    """Clip label from window distributions: mean over windows with input (``''`` when none had any)."""
    probs = np.asarray(probs, dtype=np.float64)
    if present is not None:
        present = np.asarray(present, dtype=bool)
        if not present.any():
            return ""
        probs = probs[present]
    if len(probs) == 0:
        return ""
    return LABELS[int(probs.mean(axis=0).argmax())]


def _crowd(row: dict[str, str] | None, mode: str) -> str:
    if row is None:
        return "?"
    return "/".join(sorted(vote_labels(row[VOTE_COLUMNS[mode]]))) or "?"


def build_timeline(paths: list[Path]):
    """One video track (clips back to back, full length) plus a linked audio track, like an editor's import."""
    import av
    import opentimelineio as otio

    rate = 30000 / 1001
    tl = otio.schema.Timeline(name="crema_d_sample")
    v, a = otio.schema.Track(name="V1", kind="Video"), otio.schema.Track(name="A1", kind="Audio")
    for path in paths:
        with av.open(str(path)) as container:
            duration = float(container.duration) / 1e6 if container.duration else 0.0
        frames = int(np.floor(duration * rate)) - 1
        rng = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate))
        for track in (v, a):
            ref = otio.schema.ExternalReference(target_url=path.resolve().as_uri(), available_range=rng)
            track.append(otio.schema.Clip(name=path.stem, media_reference=ref, source_range=rng))
    tl.tracks.append(v)
    tl.tracks.append(a)
    return tl


def evaluate_crema_d(data_dir: Path, engine=None) -> CremaReport:
    """Run the sample clips through the engine and compare with the crowd (see module docstring)."""
    import emoguide
    from emoguide.pipeline.engine import Engine

    root = Path(data_dir) / "crema_d_sample"
    summary = read_summary(data_dir)
    report = CremaReport(crowd=crowd_majority_accuracy(summary))
    engine = engine or Engine.load()
    if engine.unavailable:
        report.notes.append(f"unavailable modalities: {engine.unavailable}")
    videos = sorted((root / "VideoFlash").glob("*.flv"))
    analysis = emoguide.analyze_timeline(build_timeline(videos), engine=engine)
    for clip in analysis.clips:
        if clip.status == "skipped":
            continue
        name = clip.job.clip_name
        row = {"clip": name, "truth": intended(name), "face": "", "voice": "", "text": "", "fused": "",
               **{f"crowd_{m}": _crowd(summary.get(name), m) for m in VOTE_COLUMNS}}
        if clip.status != "ok" or clip.windows is None:
            report.notes.append(f"{name}: {clip.status} {clip.message}")
        else:
            w = clip.windows
            for m in ("face", "voice", "text"):
                if m in w.modalities:
                    row[m] = _clip_label(w.modalities[m]["probs"], w.modalities[m]["present"])
            any_present = np.zeros(len(w.probs), bool)
            for cols in w.modalities.values():
                any_present |= np.asarray(cols["present"], bool)
            row["fused"] = _clip_label(w.probs, any_present)
            row["fusion"] = w.fusion
        report.rows.append(row)
    if any(r.get("fusion") for r in report.rows):
        report.notes.append(f"fusion method used: {sorted({r.get('fusion', '') for r in report.rows} - {''})}; "
                            "clip label = argmax of the mean window distribution over windows with input")
    report.notes.append("CREMA-D has no 'surprised' class; our 7-class outputs may still predict it (counted wrong)")
    if "voice" in engine.recognisers:
        report.audio_rows = _audio_only(root, summary, engine.recognisers["voice"])
    return report


def _audio_only(root: Path, summary: dict, voice) -> list[dict]:
    rows = []
    for path in sorted((root / "AudioWAV16k").glob("1002_*.wav")):
        audio = _read_wav(path)
        res = voice.analyze_audio(audio, np.array([0.0]), np.array([len(audio) / 16000.0]))
        rows.append({"clip": path.stem, "truth": intended(path.stem), "voice": _clip_label(res.probs, res.present),
                     "crowd_voice": _crowd(summary.get(path.stem), "voice")})
    return rows


def _read_wav(path: Path) -> np.ndarray:
    """Mono float32 at 16 kHz (the files are already 16 kHz)."""
    import wave

    with wave.open(str(path), "rb") as wf:
        if wf.getframerate() != 16000:
            raise ValueError(f"{path} is {wf.getframerate()} Hz, expected 16000")
        raw = np.frombuffer(wf.readframes(wf.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
        if wf.getnchannels() > 1:
            raw = raw.reshape(-1, wf.getnchannels()).mean(1)
    return raw
