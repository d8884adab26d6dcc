"""Session fixtures for the encoder tests: tiny random checkpoints built once (see tiny_models.py).

This folder is put on ``sys.path`` so ``from tiny_models import ...`` works under any pytest import mode.
"""

import os
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from tiny_models import tiny_bge_m3_path, tiny_st_path  # noqa: E402,F401 - pytest fixtures


@pytest.fixture(scope="module")
def hub_offline():
    """HF_HUB_OFFLINE=1 for a test module (use with ``pytestmark = pytest.mark.usefixtures("hub_offline")``)."""
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield
    if old is None:
        os.environ.pop("HF_HUB_OFFLINE", None)
    else:
        os.environ["HF_HUB_OFFLINE"] = old
