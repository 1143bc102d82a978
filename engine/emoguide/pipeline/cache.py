"""On-disk cache of per-media analysis, so re-runs and other timelines skip decoding.

The key covers everything that changes the result: the media file's absolute
path, size and mtime_ns (a re-render or a move is a new entry), the used media
range, every model version, the analysis settings and emoguide's version. The
value is media-level (times in media seconds), so the same range placed anywhere
in any timeline is a hit; timeline times are recomputed from the clip on load.
Writes are atomic (temp file + rename) so a killed run never leaves a torn entry.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    env = os.environ.get("EMOGUIDE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emoguide"


class AnalysisCache:
    def __init__(self, folder: Path | None = None, enabled: bool = True):
        self.folder = Path(folder) if folder else default_cache_dir()
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(media_path: Path, start_s: float, end_s: float, models: dict[str, str], settings: dict[str, Any],
            version: str) -> str | None:
        """Hex key, or None when the media cannot be stat'ed (then nothing is cached)."""
        try:
            st = Path(media_path).stat()
        except OSError:
            return None
        ident = {
            "path": str(Path(media_path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "range": [round(start_s, 6), round(end_s, 6)], "models": models, "settings": settings,
            "version": version,
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json.gz"

    def get(self, key: str | None) -> dict[str, Any] | None:
        if not self.enabled or key is None:
            return None
        path = self._path(key)
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                value = json.load(fh)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError) as exc:  # torn or foreign file: treat as a miss, replace later
            log.warning("ignoring unreadable cache entry %s (%s)", path, exc)
            self.misses += 1
            return None
        self.hits += 1
        return value

    def holds(self, key: str | None) -> bool:
        """Whether an entry exists, without reading it or counting a hit or miss (to plan work ahead)."""
        return self.enabled and key is not None and self._path(key).is_file()

    def put(self, key: str | None, value: dict[str, Any]) -> None:
        if not self.enabled or key is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8") as fh:
                json.dump(value, fh)
            os.replace(tmp, path)
        except OSError as exc:  # a read-only or full cache must not fail the analysis
            log.warning("could not write cache entry %s (%s)", path, exc)
