"""Runs test_triton_kernel.py on the CPU under the Triton interpreter, in a subprocess.

``TRITON_INTERPRET=1`` only takes effect when it is set before triton is imported, so the kernel tests cannot
share this test process (which may already have imported triton); they run in their own.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                    reason="triton is not installed (pip install latte[triton])")
def test_triton_kernel_under_interpreter() -> None:
    env = dict(os.environ, TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="")  # the interpreter, even on a GPU box
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not gpu",
               str(HERE / "test_triton_kernel.py")]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert " passed" in result.stdout and " skipped" not in result.stdout.split("\n")[-2], report
