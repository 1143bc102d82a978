"""Shared fixtures: where the labelled data lives, and a tiny stand-in engine for plumbing tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("EMOGUIDE_DATA", REPO.parent / "shared" / "data"))
EXAMPLES = REPO / "examples"


def copy_weights(tmp_path: Path, monkeypatch, name: str) -> Path:
    """A copy of shipped weight file ``name`` with its own checksum entry, made the weights folder."""
    import json
    import shutil

    from emoguide.recognition import base

    shutil.copy(base.WEIGHTS_DIR / name, tmp_path / name)
    sums = json.loads((base.WEIGHTS_DIR / "checksums.json").read_text())
    (tmp_path / "checksums.json").write_text(json.dumps({name: sums[name]}))
    monkeypatch.setattr(base, "WEIGHTS_DIR", tmp_path)
    return tmp_path / name


def flip_a_byte(path: Path) -> None:
    """Corrupt ``path`` the way a bad download or disk does: one byte in the middle changes."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The labelled data folder; tests using it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"labelled data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never read or write the user's real analysis cache from tests."""
    monkeypatch.setenv("EMOGUIDE_CACHE", str(tmp_path_factory.mktemp("cache")))
