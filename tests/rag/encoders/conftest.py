"""Session fixtures for the encoder tests: tiny random checkpoints built once (see tiny_models.py).

This folder is put on ``sys.path`` so ``from tiny_models import ...`` works under any pytest import mode.
"""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from tiny_models import tiny_bge_m3_path, tiny_st_path  # noqa: E402,F401 - pytest fixtures
