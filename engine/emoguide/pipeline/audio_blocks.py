"""A clip's sound analysed in bounded blocks: voice, sound statistics and words.

Reading a clip's audio whole costs 16 kHz × 4 bytes per second (460 MB for two
hours) and as much again in Whisper encoder frames and prosody tracks. Here
the range is read in blocks of :data:`BLOCK_S` seconds (a whole number of
Whisper's 30 s encoder chunks, so the encoder sees exactly the chunks a
one-block read would; block edges are absolute sample positions, rounding
carried, see :func:`emoguide.media.audio.chunk_bounds`). Each block is
analysed with the previous block's last ``window + 2·margin`` seconds in
front of it, and only windows ending at least :data:`MARGIN_S` before the
block's end are finished; the rest wait for the next block, so every window is
computed from frames with their full context.

What does change for clips longer than one block: prosody's "voiced" and
"syllable" thresholds are relative to the loudest moment, which becomes the
loudest moment of the surrounding ~2 minutes instead of the whole clip (for
hours of footage arguably the better reference). Clips up to one block long
give exactly the results of a whole-clip read, except the words of clips longer
than one transcription stretch (see :class:`_Transcriber`).
"""

from __future__ import annotations

import logging
import math
from typing import Iterator

import numpy as np

from emoguide.pipeline.progress import check_cancel, emit
from emoguide.pipeline.rolling import concat_dicts, concat_results
from emoguide.pipeline.text_windows import _caption_words
from emoguide.recognition.base import ModalityResult

log = logging.getLogger(__name__)

RATE = 16000
BLOCK_S = 120.0  # 4 Whisper chunks
MARGIN_S = 0.5  # frames this close to a block edge lack context (YIN's window, level smoothing, ±0.26 s swing)
HOP = 320  # samples per 50 Hz frame
#: buffers start on a multiple of this many samples from the clip start: the 50 Hz frames (320) and the
#: speech detector's 32 ms chunks (512) then fall on the samples they fall on in a whole-clip read
GRID = 2560
#: seconds of the latest transcribed audio re-transcribed with the next stretch (a sentence cut at its edge)
TRANSCRIBE_CARRY_S = 5.0
#: longest stretch of audio handed to Whisper at once (see :class:`_Transcriber`): a block and its carry.
#: On 1,073 s of joined RAVDESS test speech (``bench_transcription.py --stretches``): 30 s stretches
#: WER 0.051 in 39.0 s, 60 s 0.067 in 31.2 s, 125 s 0.037 in 26.4 s, the whole clip 0.078 in 25.4 s
TRANSCRIBE_STRETCH_S = BLOCK_S + TRANSCRIBE_CARRY_S


def analyze_audio_blocks(job, info, engine, settings, starts, ends, progress=None, cancel=None,
                         block_s: float | None = None):
    """``(voice ModalityResult, {"audio_*": per-window stats}, words)`` for ``job``'s range.

    ``block_s`` (default :data:`BLOCK_S`) should be a multiple of 30 s; ``math.inf`` reads the range whole."""
    from emoguide.media.audio import iter_audio_chunks
    from emoguide.media.stats import audio_window_stats
    from emoguide.pipeline.native_memory import release_freed_memory

    voice = engine.recognisers["voice"]
    block_s = BLOCK_S if block_s is None else block_s
    if not hasattr(voice, "windows_from_frames"):  # a recogniser without frame-level access: one block
        block_s = math.inf
    rel_s, rel_e = starts - job.media_start_s, ends - job.media_start_s
    n = len(starts)
    length = job.media_end_s - job.media_start_s
    words = _caption_words(job)
    transcriber = _Transcriber(voice) if settings.transcribe and not words and hasattr(voice, "transcribe") else None
    keep = int(math.ceil((settings.window_s + 2 * MARGIN_S) * RATE / HOP)) * HOP
    chunks = iter_audio_chunks(job.source.path, job.media_start_s, job.media_end_s,
                               chunk_s=min(block_s, length), rate=RATE, info=info,
                               container_format=job.source.container_format, options=job.source.options or None)
    tail = np.zeros(0, np.float32)
    enc_tail = None
    pos = done = 0
    voice_parts, stat_parts = [], []
    present = np.zeros(n, bool)
    for block, final in _with_final(chunks):
        check_cancel(cancel)
        block_start, pos = pos, pos + len(block)
        if len(tail):
            need = block_start - ((block_start - keep) // GRID) * GRID
            tail, enc_tail = tail[-need:], enc_tail[-(need // HOP):]
        buf = np.concatenate([tail, block]) if len(tail) else block
        buf_start = block_start - len(tail)
        limit = np.inf if final else pos / RATE - MARGIN_S
        j = int(np.searchsorted(rel_e, limit, "right")) if not final else n
        emit(progress, "infer", pos / RATE, length, job.clip_id, "voice")
        if block_s == math.inf:
            result = voice.analyze_audio(buf, rel_s[done:j], rel_e[done:j])
        else:
            enc, _ = voice.backbone.encode(block)
            frames = enc if enc_tail is None else np.concatenate([enc_tail, enc])
            enc_tail = frames[-((keep + GRID) // HOP):].copy()  # a copy: see the tail below
            result = None
            if j > done:
                n_buf = len(tail) // HOP + len(enc)
                tracks, speech = voice.frame_tracks(buf, n_buf)
                times = (buf_start + HOP * np.arange(n_buf) + HOP / 2) / RATE
                result = voice.windows_from_frames(frames, times, tracks, speech, rel_s[done:j], rel_e[done:j])
        if j > done:
            voice_parts.append(result)
            offset = buf_start / RATE
            stat_parts.append(audio_window_stats(buf, rel_s[done:j] - offset, rel_e[done:j] - offset))
            present[done:j] = result.present
            done = j
        if transcriber is not None:
            since = (transcriber.pending_start if len(transcriber.pending) else block_start) / RATE
            heard = bool(present[:done][rel_e[:done] > since].any())
            transcriber.feed(block, block_start, final, heard)
        # copies, not views: a view would keep the whole block's buffer alive into the next block
        tail = buf[-(keep + GRID):].copy() if len(buf) > keep + GRID else buf
        del buf, block
        release_freed_memory()  # the block's audio, features and activations: see pipeline/native_memory.py
    voice_result = concat_results(voice_parts) if voice_parts else ModalityResult.absent(n)
    stats = {f"audio_{k}": np.asarray(v, dtype=np.float32) for k, v in concat_dicts(stat_parts).items()}
    if transcriber is not None:
        words = [{"start_s": job.media_start_s + w.start_s, "end_s": job.media_start_s + w.end_s,
                  "text": w.text.strip(), "source": "asr"} for w in transcriber.words if w.text.strip()]
    return voice_result, stats, words


def _with_final(items: Iterator) -> Iterator[tuple]:
    """``(item, is_last)`` pairs: the last block finishes every remaining window."""
    it = iter(items)
    try:
        current = next(it)
    except StopIteration:
        return
    for nxt in it:
        yield current, False
        current = nxt
    yield current, True


class _Transcriber:
    """Words for the clip, transcribing stretches of at most ``stretch_s`` instead of the whole track.

    Whisper's working set grows with the audio it is handed (faster-whisper
    computes the whole stretch's features and keeps its speech segments; about
    +100 MiB for 30 s, +180 MiB for 125 s), so stretches are capped at
    :data:`TRANSCRIBE_STRETCH_S`; audio short of a full stretch waits for the
    next block. Shorter caps hold less but cost time and words (see the
    constant's measurements). After each stretch the words ending in its
    last :data:`TRANSCRIBE_CARRY_S` seconds are dropped and that audio is
    transcribed again at the head of the next stretch, so a sentence cut by a
    stretch edge is heard whole. A stretch is transcribed only if the voice
    recogniser heard speech in it (as a whole clip is only transcribed when
    speech was heard somewhere): music-only stretches give no hallucinated lyrics.
    """

    def __init__(self, voice, stretch_s: float | None = None):
        """``stretch_s`` (default :data:`TRANSCRIBE_STRETCH_S`, read now, as the cache key reads it):
        ``math.inf`` transcribes the clip whole once its last block is in."""
        stretch_s = TRANSCRIBE_STRETCH_S if stretch_s is None else stretch_s
        if stretch_s <= 2 * TRANSCRIBE_CARRY_S:
            raise ValueError(f"a transcription stretch must be longer than {2 * TRANSCRIBE_CARRY_S:g} s")
        self.voice = voice
        self.stretch = stretch_s * RATE  # samples; math.inf stays inf: the loop in feed never runs
        self.pending = np.zeros(0, np.float32)
        self.pending_start = 0  # clip sample index of pending[0]
        self.words: list = []

    def feed(self, block: np.ndarray, block_start: int, final: bool, heard: bool) -> None:
        if not len(self.pending):
            self.pending_start = block_start
        self.pending = np.concatenate([self.pending, block]) if len(self.pending) else block
        if not heard:
            self._carry(len(self.pending) / RATE - (0 if final else TRANSCRIBE_CARRY_S))
            return
        while len(self.pending) > self.stretch:
            self._transcribe(self.pending[:int(round(self.stretch))], final=False)
        if final:
            self._transcribe(self.pending, final=True)

    def _transcribe(self, audio: np.ndarray, final: bool) -> None:
        """Words of ``audio`` (the head of ``pending``); the pending audio moves past the words kept."""
        from dataclasses import replace

        try:
            spoken = self.voice.transcribe(audio)
        except Exception as exc:  # noqa: BLE001 - words are an extra; the clip still gets face/voice
            log.warning("transcription failed (%s); continuing without these words", exc)
            spoken = []
        offset = self.pending_start / RATE
        length = len(audio) / RATE
        cut = length if final else length - TRANSCRIBE_CARRY_S
        kept = [w for w in spoken if w.end_s <= cut]
        later = [w for w in spoken if w.end_s > cut]
        if later and not final:
            cut = max(min(cut, later[0].start_s), length - 2 * TRANSCRIBE_CARRY_S)
            kept = [w for w in kept if w.end_s <= cut]
        self.words.extend(replace(w, start_s=w.start_s + offset, end_s=w.end_s + offset) for w in kept)
        self._carry(cut)

    def _carry(self, cut_s: float) -> None:
        cut = min(len(self.pending), max(0, int(round(cut_s * RATE))))
        self.pending, self.pending_start = self.pending[cut:].copy(), self.pending_start + cut
