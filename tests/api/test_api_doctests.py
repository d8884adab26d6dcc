"""The doctests of the api package (toy inputs whose answers can be checked by hand)."""

import doctest
import importlib

import pytest

MODULES = [
    "api.settings",
    "api.security",
    "api.errors",
    "api.schemas",
    "api.uploads",
    "api.encoders",
    "api.routes.system",
    "api.page_images",
    "api.page_worker",
    "api.kept_files",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module)
    assert result.attempted > 0, f"{name} has no doctest"
    assert result.failed == 0
