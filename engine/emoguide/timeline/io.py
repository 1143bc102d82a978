"""Writing timelines and reports without ever losing the user's file.

Every write goes to a temporary file in the destination folder and is renamed
over the target in one step (``os.replace``), so a crash leaves either the old
file or the new one, never half of each. Writing onto the input timeline needs
an explicit ``in_place=True``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import opentimelineio as otio


class OutputError(ValueError):
    """The requested output would overwrite the input, or cannot be written."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_timeline(timeline: otio.schema.Timeline, path: str | Path, *, input_path: str | Path | None = None,
                   in_place: bool = False, adapter_name: str | None = None) -> Path:
    """Write ``timeline`` atomically in the format the suffix (or ``adapter_name``) implies."""
    path = Path(path)
    if input_path is not None and not in_place and _same_file(path, Path(input_path)):
        raise OutputError(f"refusing to overwrite the input {input_path}; pass --in-place to allow it")
    suffix = path.suffix.lower()
    if adapter_name is None and suffix in (".otio", ".json", ""):
        atomic_write_text(path, otio.adapters.write_to_string(timeline, "otio_json"))
        return path
    # other adapters write files themselves: write next to the target, then rename
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter_name)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def relocate_relative_media(timeline: otio.schema.Timeline, from_dir: Path, to_dir: Path) -> int:
    """Rewrite relative media paths so they still resolve from ``to_dir``; returns how many changed.

    Relative media URLs (``media/shot.mov``) resolve against the timeline
    file's folder, so an annotated copy written elsewhere would lose its media.
    Absolute paths and URLs are left exactly as they were.
    """
    import os
    import urllib.parse

    from_dir, to_dir = Path(from_dir).resolve(), Path(to_dir).resolve()
    if from_dir == to_dir:
        return 0
    changed = 0
    for clip in timeline.find_clips():
        ref = clip.media_reference
        attr = "target_url" if isinstance(ref, otio.schema.ExternalReference) else (
            "target_url_base" if isinstance(ref, otio.schema.ImageSequenceReference) else None)
        if attr is None:
            continue
        url = getattr(ref, attr)
        parsed = urllib.parse.urlparse(url)
        if not url or parsed.scheme or Path(url).is_absolute():
            continue
        moved = os.path.relpath(from_dir / url, to_dir)
        if url.endswith("/") and not moved.endswith("/"):
            moved += "/"
        setattr(ref, attr, Path(moved).as_posix() + ("/" if moved.endswith("/") else ""))
        changed += 1
    return changed
