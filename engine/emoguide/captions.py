"""SRT and WebVTT captions: the one parser the engine and the OTIO adapters share.

Captions are the best source of words for the text recogniser (better than
speech-to-text), so the engine looks for a sidecar file next to each media file
(``clip.srt``, ``clip.vtt``, ``clip.en.srt``…). Times are kept in exact seconds;
frame snapping is the adapters' business.

Tolerant where real files are sloppy (BOM, CRLF, missing final blank line,
hour-less WebVTT timestamps, ``.`` vs ``,`` decimals, styling tags, cue
settings), strict where a guess would misplace words: a malformed timing line
raises :class:`CaptionError` with its line number.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

CAPTION_SUFFIXES = (".srt", ".vtt")
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
_TAG = re.compile(r"<[^>]+>")


class CaptionError(ValueError):
    """A caption file that cannot be parsed; ``line`` is 1-based."""

    def __init__(self, message: str, line: int | None = None, path: str | None = None):
        self.line, self.path = line, path
        where = f"{path or 'captions'}" + (f", line {line}" if line else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str
    speaker: str = ""


def _seconds(h, m, s, frac) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000.0


def _clean(lines: list[str]) -> tuple[str, str]:
    speaker = ""
    match = re.search(r"<v(?:\.[^ >]*)?\s+([^>]+)>", " ".join(lines))
    if match:
        speaker = match.group(1).strip()
    text = " ".join(html.unescape(_TAG.sub("", line)).strip() for line in lines)
    return re.sub(r"\s+", " ", text).strip(), speaker


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks with the 1-based line number of their first line."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks, current, start = [], [], 0
    for number, line in enumerate(lines, 1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _parse_cues(blocks, path: str | None) -> list[Cue]:
    cues = []
    for start, lines in blocks:
        timing_at = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing_at is None:
            if len(lines) == 1 and lines[0].strip().isdigit():
                continue  # a lone cue number: tolerate
            if lines[0].strip().isdigit():
                raise CaptionError(f"malformed timing {lines[1].strip()!r}", start + 1, path)
            raise CaptionError(f"no timing line in block {lines[0].strip()[:40]!r}", start, path)
        match = _TIMING.match(lines[timing_at])
        if not match:
            raise CaptionError(f"malformed timing {lines[timing_at].strip()!r}", start + timing_at, path)
        g = match.groups()
        begin, end = _seconds(*g[:4]), _seconds(*g[4:])
        if end < begin:
            raise CaptionError(f"cue ends ({end:.3f} s) before it starts ({begin:.3f} s)", start + timing_at, path)
        text, speaker = _clean(lines[timing_at + 1:])
        if text:
            cues.append(Cue(begin, end, text, speaker))
    return sorted(cues, key=lambda c: (c.start_s, c.end_s))


def parse_srt(text: str, path: str | None = None) -> list[Cue]:
    return _parse_cues(_blocks(text), path)


def parse_vtt(text: str, path: str | None = None) -> list[Cue]:
    blocks = _blocks(text)
    if not blocks or not blocks[0][1][0].lstrip("\ufeff").startswith("WEBVTT"):
        raise CaptionError("missing the WEBVTT header", 1, path)
    body = [b for b in blocks[1:] if not b[1][0].startswith(("NOTE", "STYLE", "REGION"))]
    return _parse_cues(body, path)


def read_captions(path: str | Path) -> list[Cue]:
    """Cues of an .srt or .vtt file (UTF-8, with or without BOM; latin-1 as a last resort)."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    suffix = path.suffix.lower()
    if suffix == ".vtt":
        return parse_vtt(text, str(path))
    if suffix == ".srt":
        return parse_srt(text, str(path))
    raise CaptionError(f"unknown caption format {suffix!r} (expected .srt or .vtt)", None, str(path))


def find_sidecar(media_path: str | Path) -> Path | None:
    """``clip.srt``/``clip.vtt`` beside ``clip.mov``, else a language-tagged ``clip.en.srt`` (sorted: first wins)."""
    media_path = Path(media_path)
    folder = media_path.parent
    if not folder.is_dir():
        return None
    for suffix in CAPTION_SUFFIXES:
        candidate = media_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    tagged = sorted(p for p in folder.glob(f"{glob_escape(media_path.stem)}.*")
                    if p.suffix.lower() in CAPTION_SUFFIXES and p.stem.count(".") >= media_path.stem.count(".") + 1)
    return tagged[0] if tagged else None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def format_srt(cues: list[Cue]) -> str:
    """Cues back to SRT text (used by the adapters' writer)."""

    def ts(seconds: float) -> str:
        ms = int(round(seconds * 1000))
        h, ms = divmod(ms, 3_600_000)
        m, ms = divmod(ms, 60_000)
        s, ms = divmod(ms, 1000)
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"

    return "\n".join(f"{i}\n{ts(c.start_s)} --> {ts(c.end_s)}\n{c.text}\n" for i, c in enumerate(cues, 1))
