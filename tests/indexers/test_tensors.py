import numpy as np
import pytest

from indexers.docstore import StoredDoc
from indexers.tensors import TensorIndex
from indexers.writer import Batch
from rag.records import Document, Passage


def _batch(start, token_mats_per_doc):
    items, mats = [], []
    for i, doc_mats in enumerate(token_mats_per_doc):
        doc = Document(f"d{start + i}", "text")
        ps = [Passage(doc.id, j, 0, 1, "t") for j in range(len(doc_mats))]
        items.append(StoredDoc(doc, b"0" * 16, b"0" * 16, np.zeros(4, np.uint32), ps))
        mats.extend(doc_mats)
    return Batch(start, items, {"multivector": mats})


def _e(i, d=8, sign=1.0):
    v = -np.ones(d, np.float32)
    v[i] = sign
    return v


def test_storage_is_one_32nd_of_float32_plus_offsets(tmp_path):
    rng = np.random.default_rng(0)
    mats = [[rng.normal(size=(n, 128)).astype(np.float32) for n in (5, 0, 7)], [rng.normal(size=(3, 128)).astype(np.float32)]]
    idx = TensorIndex(128, store_float16=True)
    idx.add_batch(_batch(0, mats))
    rep = idx.size_report()
    assert rep["tokens"] == 15 and rep["passages"] == 4
    assert rep["binary_bytes"] * 32 == rep["float32_equivalent_bytes"] == 15 * 128 * 4
    assert rep["bytes_per_token_binary"] == 16 and rep["offsets_bytes"] == 8 * (4 + 1)
    assert rep["float16_bytes"] == 15 * 128 * 2
    state = idx.save(tmp_path / "tensors", "v000001")
    loaded = TensorIndex.load(tmp_path / "tensors", state)
    assert isinstance(loaded.segments[0].arrays["codes"], np.memmap)
    assert loaded.size_report() == rep
    with pytest.raises(ValueError, match="multiple of 8"):
        TensorIndex(100)


def test_best_passage_vs_cross_passage_hand_computed():
    # query tokens e0, e1. doc0: passage A matches e0 only, passage B matches e1 only.
    # doc1: one passage matching e0 and e1 a little less well (value 0.5 on the right axis is still > 0: bit 1)
    q = np.stack([np.eye(8, dtype=np.float32)[0], np.eye(8, dtype=np.float32)[1]])
    doc0 = [np.stack([_e(0)]), np.stack([_e(1)])]
    doc1 = [np.stack([_e(0), _e(1)])]
    idx = TensorIndex(8)
    idx.add_batch(_batch(0, [doc0, doc1]))
    # bits: _e(i) -> only bit i set. dot(e0, bits(e0)) = 1, dot(e0, bits(e1)) = 0.
    # best passage: doc0 = max(1 + 0, 0 + 1) = 1; doc1 = 1 + 1 = 2; cross passage: doc0 = 1 + 1 = 2
    s, best = idx.score(q, np.array([0, 1]), mode="best_passage", backend="cpu")
    assert s.tolist() == [1.0, 2.0] and best == {0: 0, 1: 0}
    s, _ = idx.score(q, np.array([0, 1]), mode="cross_passage", backend="cpu")
    assert s.tolist() == [2.0, 2.0]


def test_delete_removes_tensors_from_scoring_and_ranking(tmp_path):
    q = np.stack([np.eye(8, dtype=np.float32)[0]])
    idx = TensorIndex(8)
    idx.add_batch(_batch(0, [[np.stack([_e(0)])], [np.stack([_e(1)])], [np.stack([_e(0)])]]))
    idx.delete([0])
    s, _ = idx.score(q, np.array([0, 1, 2]), backend="cpu")
    assert s[0] == -np.inf and s[2] == 1.0
    hits = idx.search(q, 10, backend="cpu")
    d, sc = hits.docnos, hits.scores
    assert d.tolist() == [2, 1] and sc.tolist() == [1.0, 0.0]
    state = idx.save(tmp_path, "v000002")
    assert TensorIndex.load(tmp_path, state).search(q, 10).docnos.tolist() == [2, 1]


def test_float16_exact_mode_matches_float_maxsim():
    rng = np.random.default_rng(3)
    mats = [[rng.normal(size=(6, 16)).astype(np.float32)] for _ in range(4)]
    q = rng.normal(size=(3, 16)).astype(np.float32)
    idx = TensorIndex(16, store_float16=True)
    idx.add_batch(_batch(0, mats))
    s, _ = idx.score(q, np.arange(4), quantization="float16", backend="cpu")
    ref = [float((q @ m[0].astype(np.float16).astype(np.float32).T).max(axis=1).sum()) for m in mats]
    np.testing.assert_allclose(s, ref, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="binary tensors only"):
        TensorIndex(16).score(q, np.arange(1), quantization="float16")
