"""Run the doctests of the encoder modules (toy inputs whose answers can be worked out by hand)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "rag.encoders.batching",
    "rag.encoders.device",
    "rag.encoders.pooling",
    "rag.encoders.resolve",
    "rag.encoders.sparse",
    "rag.encoders.transformer",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no doctest"
    assert result.failed == 0
