"""Suite-wide setup: clear stale torch-extension build locks; the multilingual sample texts.

colbert-ai compiles C++ extensions on first use under ``~/.cache/torch_extensions`` with a lock file; a run killed
mid-compile leaves the lock behind and every later run waits on it forever. No compile takes 20 minutes, so an
older lock is stale and is removed (with its half-built folder, so the next use rebuilds it).
"""

import json
import os
import shutil
import time
from pathlib import Path

import pytest


def pytest_sessionstart(session):
    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR", Path.home() / ".cache" / "torch_extensions"))
    if not root.is_dir():
        return
    for lock in root.glob("*/*/lock"):
        try:
            if time.time() - lock.stat().st_mtime > 20 * 60:
                shutil.rmtree(lock.parent, ignore_errors=True)
        except OSError:
            pass


@pytest.fixture(scope="session")
def language_samples() -> dict:
    """Three short documents (a capital, a dish, a sport) and two queries (the capital's, the dish's) in each of
    MLDR's 13 languages, written for the tests: ``{lang: {"docs": [...], "queries": [...]}}``."""
    with open(Path(__file__).with_name("multilingual_samples.json"), encoding="utf-8") as f:
        return json.load(f)
