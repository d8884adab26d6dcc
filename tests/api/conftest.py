"""Fixtures for the API tests: a BM25 index of synthetic documents built once per module, and live servers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_live import KEY, build_index, live_server, make_rows  # noqa: E402


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 synthetic documents (ids doc0..doc59, metadata year 2000..2009), BM25 profile."""
    return build_index(tmp_path_factory.mktemp("bm25"), make_rows(60))


@pytest.fixture(scope="module")
def server(bm25_index: Path):
    """A live server over ``bm25_index`` with one API key; shared by a module's read-only tests."""
    from api.settings import Settings

    with live_server(Settings(index=bm25_index, api_keys=[KEY])) as live:
        yield live
