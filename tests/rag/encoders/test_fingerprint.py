"""Model fingerprints: stable across copies and re-saves of the config, sensitive to weights and config."""

from __future__ import annotations

import json
import shutil

import pytest

from rag.encoders.fingerprint import SAMPLE_BYTES, model_fingerprint


@pytest.fixture()
def model_copy(tiny_st_path, tmp_path):
    return shutil.copytree(tiny_st_path, tmp_path / "copy")


def test_same_model_same_fingerprint_wherever_it_lies(tiny_st_path, model_copy):
    assert model_fingerprint(tiny_st_path) == model_fingerprint(model_copy)
    assert model_fingerprint(model_copy).startswith("sha256:")


def test_library_version_in_config_does_not_matter(model_copy):
    before = model_fingerprint(model_copy)
    config = json.loads((model_copy / "config.json").read_text())
    config["transformers_version"] = "0.0.1"
    (model_copy / "config.json").write_text(json.dumps(config, indent=4))
    assert model_fingerprint(model_copy) == before


def test_config_change_changes_fingerprint(model_copy):
    before = model_fingerprint(model_copy)
    config = json.loads((model_copy / "config.json").read_text())
    config["layer_norm_eps"] = 1e-5
    (model_copy / "config.json").write_text(json.dumps(config))
    assert model_fingerprint(model_copy) != before


def test_same_size_different_weights_changes_fingerprint(tiny_st_path, model_copy):
    weights = model_copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte differs: a fine-tuned checkpoint looks like this
    weights.write_bytes(bytes(data))
    assert weights.stat().st_size == (tiny_st_path / "model.safetensors").stat().st_size
    assert model_fingerprint(model_copy) != model_fingerprint(tiny_st_path)


def test_extra_weight_file_changes_fingerprint(tiny_st_path, model_copy):
    (model_copy / "1_Pooling" / "extra.safetensors").write_bytes(b"0")
    assert model_fingerprint(model_copy) != model_fingerprint(tiny_st_path)


def test_large_files_are_sampled_not_read_whole(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    big = folder / "model.safetensors"
    big.write_bytes(bytes(10 * SAMPLE_BYTES))
    base = model_fingerprint(folder)
    data = bytearray(big.read_bytes())
    data[5 * SAMPLE_BYTES] = 1  # inside the middle sample
    big.write_bytes(bytes(data))
    assert model_fingerprint(folder) != base
    data[5 * SAMPLE_BYTES] = 0
    data[2 * SAMPLE_BYTES] = 1  # between samples: not read, by design
    big.write_bytes(bytes(data))
    assert model_fingerprint(folder) == base


def test_not_a_folder(tmp_path):
    with pytest.raises(NotADirectoryError, match="not a model folder"):
        model_fingerprint(tmp_path / "absent")
