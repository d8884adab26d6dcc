"""The doctests in rerank's modules (toy inputs worked by hand); triton_kernel's run in test_triton_kernel.py."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["rerank.bits", "rerank.store", "rerank.reference", "rerank.cpu", "rerank.lut_kernel", "rerank.documents", "rerank.maxsim"]


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no doctest"
    assert result.failed == 0
