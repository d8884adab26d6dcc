"""BGE-M3 heads on a tiny random checkpoint in the release layout, checked against a per-text hand computation
written from FlagEmbedding's ``EncoderOnlyEmbedderM3Model`` (dense = CLS; sparse = relu(linear), max per id,
cls/eos/pad/unk dropped; colbert = linear(hidden[1:]), normalised)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from tiny_models import SENTENCES, build_tiny_bge_m3

from rag.encoders.base import Encoder
from rag.encoders.bge_m3 import BGEM3Encoder, load_linear_head

TEXTS = SENTENCES[:6] + ["Ω unknown symbol Ω", "a a a a eating eating eating", ""]


@pytest.fixture(scope="module")
def m3(tiny_bge_m3_path):
    return BGEM3Encoder(tiny_bge_m3_path, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def hand(tiny_bge_m3_path, m3):
    """Per-text reference outputs: one text at a time (no padding), plain loops for the sparse weights."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(tiny_bge_m3_path), dtype=torch.float32).eval()
    sparse_head = torch.nn.Linear(32, 1)
    sparse_head.load_state_dict(torch.load(tiny_bge_m3_path / "sparse_linear.pt", weights_only=True))
    colbert_head = torch.nn.Linear(32, 32)
    colbert_head.load_state_dict(torch.load(tiny_bge_m3_path / "colbert_linear.pt", weights_only=True))
    tok = m3.tokenizer
    unused = {tok.cls_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id}
    out = []
    with torch.no_grad():
        for text in TEXTS:
            ids = tok(text)["input_ids"]
            hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
            dense = torch.nn.functional.normalize(hidden[0], dim=-1).numpy()
            weights = torch.relu(sparse_head(hidden)).squeeze(-1).tolist()
            lexical: dict[int, float] = {}
            for w, i in zip(weights, ids):
                if i not in unused and w > 0 and w > lexical.get(i, 0.0):
                    lexical[i] = w
            colbert = torch.nn.functional.normalize(colbert_head(hidden[1:]), dim=-1).numpy()
            out.append({"ids": ids, "weights": weights, "dense": dense, "lexical": lexical, "colbert": colbert})
    return out


@pytest.fixture(scope="module")
def encoded(m3):
    return m3.encode(TEXTS, kind="document", batch_size=4)


def test_is_an_encoder_with_info(m3):
    assert isinstance(m3, Encoder)
    info = m3.info
    assert (info.kind, info.dense_dim, info.multivector_dim) == ("bge-m3", 32, 32)
    assert info.sparse_vocab == m3.model.config.vocab_size == len(m3.tokenizer)
    assert m3.max_length == 512 and m3.query_max_length == 512  # 8192 default clamped to the tiny position table


def test_shapes(encoded, m3, hand):
    n = len(TEXTS)
    assert encoded.dense.shape == (n, 32) and encoded.dense.dtype == np.float32
    assert encoded.sparse.shape == (n, m3.info.sparse_vocab) and encoded.sparse.dtype == np.float32
    assert [v.shape for v in encoded.multivector] == [(len(h["ids"]) - 1, 32) for h in hand]


def test_dense_is_normalised_cls(encoded, hand):
    np.testing.assert_allclose(encoded.dense, np.stack([h["dense"] for h in hand]), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(encoded.dense, axis=1), 1.0, rtol=1e-5)


def test_sparse_is_max_weight_per_token(encoded, hand):
    repeated_with_two_positive = 0
    for row, h in enumerate(hand):
        got = encoded.sparse[row]
        assert dict(zip(got.indices.tolist(), got.data.tolist())) == pytest.approx(h["lexical"], abs=1e-5)
        positives = [i for w, i in zip(h["weights"], h["ids"]) if w > 0]
        repeated_with_two_positive += len(positives) - len(set(positives))
    assert repeated_with_two_positive > 0, "test data should exercise the max over repeated tokens"


def test_special_tokens_absent_from_sparse(encoded, m3, hand):
    unk = m3.tokenizer.unk_token_id
    assert unk in hand[6]["ids"], "the Ω text should contain the unknown token"
    special = [m3.tokenizer.cls_token_id, m3.tokenizer.eos_token_id, m3.tokenizer.pad_token_id, unk]
    assert sorted(m3.unused_token_ids) == sorted(special)
    assert encoded.sparse[:, special].nnz == 0


def test_multivector_excludes_cls_keeps_eos_and_is_normalised(encoded, hand):
    for got, h in zip(encoded.multivector, hand):
        np.testing.assert_allclose(got, h["colbert"], atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)


def test_want_subsets_and_query_length(m3, tiny_bge_m3_path):
    only_sparse = m3.encode(TEXTS[:2], kind="query", want=["sparse"])
    assert only_sparse.dense is None and only_sparse.multivector is None and only_sparse.sparse.shape[0] == 2
    short = BGEM3Encoder(tiny_bge_m3_path, device="cpu", dtype="float32", max_length=12, query_max_length=6)
    text = " ".join(SENTENCES)
    assert short.encode([text], kind="query", want=["multivector"]).multivector[0].shape[0] == 5
    assert short.encode([text], kind="document", want=["multivector"]).multivector[0].shape[0] == 11


def test_empty_input(m3):
    out = m3.encode([], kind="document")
    assert out.dense.shape == (0, 32) and out.sparse.shape == (0, m3.info.sparse_vocab) and out.multivector == []


def test_model_dtype_and_device_unchanged_by_encode(tiny_bge_m3_path):
    encoder = BGEM3Encoder(tiny_bge_m3_path, device="cpu", dtype="bfloat16")
    state = lambda: {(p.dtype, p.device) for p in encoder.model.parameters()}  # noqa: E731
    heads = lambda: {(p.dtype, p.device) for h in (encoder.sparse_head, encoder.colbert_head) for p in h.parameters()}  # noqa: E731
    before, heads_before = state(), heads()
    assert before == {(torch.bfloat16, torch.device("cpu"))} and heads_before == {(torch.float32, torch.device("cpu"))}
    out = encoder.encode(TEXTS, kind="document", batch_size=3)
    assert state() == before and heads() == heads_before
    assert out.dense.dtype == np.float32 and out.sparse.dtype == np.float32


def test_other_colbert_dim_and_missing_colbert_head(tmp_path):
    folder = build_tiny_bge_m3(tmp_path / "m3-16", colbert_dim=16)
    encoder = BGEM3Encoder(folder, device="cpu", dtype="float32")
    assert encoder.info.multivector_dim == 16
    assert encoder.encode(["a man"], kind="query").multivector[0].shape[1] == 16
    (folder / "colbert_linear.pt").unlink()
    no_colbert = BGEM3Encoder(folder, device="cpu", dtype="float32")
    assert no_colbert.info.multivector_dim is None
    out = no_colbert.encode(["a man"], kind="query")
    assert out.multivector is None and out.dense is not None and out.sparse is not None


def test_bad_layouts_are_refused(tmp_path, tiny_bge_m3_path):
    folder = shutil.copytree(tiny_bge_m3_path, tmp_path / "broken")
    (folder / "sparse_linear.pt").unlink()
    with pytest.raises(FileNotFoundError, match="sparse_linear.pt"):
        BGEM3Encoder(folder, device="cpu")
    torch.save(torch.nn.Linear(8, 1).state_dict(), folder / "sparse_linear.pt")
    with pytest.raises(ValueError, match=r"expected \[1, 32\]"):
        BGEM3Encoder(folder, device="cpu")
    (folder / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read"):
        load_linear_head(folder / "bad.pt", in_features=32)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_equals_cpu(encoded, tiny_bge_m3_path):
    gpu = BGEM3Encoder(tiny_bge_m3_path, device="cuda", dtype="float32").encode(TEXTS, kind="document", batch_size=4)
    np.testing.assert_allclose(gpu.dense, encoded.dense, atol=1e-4)
    np.testing.assert_allclose(gpu.sparse.toarray(), encoded.sparse.toarray(), atol=1e-4)
    for x, y in zip(gpu.multivector, encoded.multivector):
        np.testing.assert_allclose(x, y, atol=1e-4)
