"""Shared fixtures: where the labelled data lives, and a tiny stand-in engine for plumbing tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("EMOGUIDE_DATA", REPO.parent / "shared" / "data"))
EXAMPLES = REPO / "examples"


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
