"""Where the words come from, and which words belong to which window.

Order of preference, because editors' captions are better than any ASR:
1. a sidecar caption file next to the media (``clip.srt``/``clip.en.vtt``…),
2. speech transcribed by the bundled Whisper tiny.en, only when the voice
   recogniser heard speech somewhere in the clip (music-only clips are not
   transcribed into hallucinated lyrics).
Words carry media seconds. A window's text is every word overlapping it.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def words_for_clip(job, engine, audio: np.ndarray | None, voice_result, transcribe: bool = True) -> list[dict]:
    """Words of the clip's used range as ``{start_s, end_s, text, source}`` in media seconds."""
    words = _caption_words(job)
    if words:
        return words
    if (audio is None or voice_result is None or not transcribe or not engine.has("voice")
            or not np.asarray(voice_result.present).any()):
        return []
    try:
        spoken = engine.recognisers["voice"].transcribe(audio)
    except Exception as exc:  # noqa: BLE001 - words are an extra; the clip still gets face/voice
        log.warning("%s: transcription failed (%s); continuing without words", job.clip_name, exc)
        return []
    return [{"start_s": job.media_start_s + w.start_s, "end_s": job.media_start_s + w.end_s,
             "text": w.text.strip(), "source": "asr"} for w in spoken if w.text.strip()]


def _caption_words(job) -> list[dict]:
    if job.source is None or job.source.container_format == "image2":
        return []
    try:
        from emoguide.captions import CaptionError, find_sidecar, read_captions
    except ImportError:
        return []
    sidecar = find_sidecar(job.source.path)
    if sidecar is None:
        return []
    try:
        cues = read_captions(sidecar)
    except (CaptionError, OSError) as exc:
        log.warning("%s: ignoring unreadable captions %s (%s)", job.clip_name, sidecar, exc)
        return []
    return [{"start_s": c.start_s, "end_s": c.end_s, "text": c.text, "source": f"captions:{sidecar.name}"}
            for c in cues if c.end_s > job.media_start_s and c.start_s < job.media_end_s]


def window_texts(words: list[dict], starts: np.ndarray, ends: np.ndarray) -> list[str]:
    """The text spoken or captioned during each window (empty string where none)."""
    texts = []
    for s, e in zip(starts, ends):
        texts.append(" ".join(w["text"] for w in words if w["end_s"] > s and w["start_s"] < e))
    return texts
