import numpy as np
import pytest
import scipy.sparse as sp

from indexers.dense import DenseIndex
from indexers.docstore import StoredDoc
from indexers.passage_index import best_per_document
from indexers.sparse import SparseIndex
from indexers.writer import Batch
from rag.records import Document, Passage


def _batch(start, n_docs, passages_per_doc, encoded):
    items = []
    for i in range(n_docs):
        doc = Document(f"d{start + i}", "x " * 10)
        ps = [Passage(doc.id, j, 0, 1, "x") for j in range(passages_per_doc)]
        items.append(StoredDoc(doc, b"0" * 16, b"0" * 16, np.zeros(4, np.uint32), ps))
    return Batch(start, items, encoded)


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_dense_best_passage_and_roundtrip(tmp_path, index_type):
    rng = np.random.default_rng(0)
    v = _unit(rng.normal(size=(30, 16)).astype(np.float32))
    idx = DenseIndex(16, index_type=index_type)
    idx.add_batch(_batch(0, 10, 3, {"dense": v}))
    q = v[7]  # passage 7 = doc 2, ordinal 1
    hits = idx.search(q, 3)
    d, s, best = hits.docnos, hits.scores, hits.passages
    assert d[0] == 2 and best[2] == 1 and s[0] == pytest.approx(1.0, abs=2e-3)
    state = idx.save(tmp_path / "dense", "v000001")
    loaded = DenseIndex.load(tmp_path / "dense", state)
    hits = loaded.search(q, 3)
    d2, s2 = hits.docnos, hits.scores
    assert d2.tolist() == d.tolist()
    np.testing.assert_allclose(s2, s, atol=1e-3)


def test_dense_exact_equals_numpy_and_hnsw_recall(tmp_path):
    rng = np.random.default_rng(1)
    v = _unit(rng.normal(size=(2000, 32)).astype(np.float32))
    flat, hnsw = DenseIndex(32, index_type="flat"), DenseIndex(32, index_type="hnsw")
    for idx in (flat, hnsw):
        idx.add_batch(_batch(0, 2000, 1, {"dense": v}))
    recall = []
    for _ in range(20):
        q = _unit(rng.normal(size=(1, 32)).astype(np.float32))[0]
        ref = np.argsort(-(v.astype(np.float16).astype(np.float32) @ q))[:10]
        d = flat.search(q, 10).docnos
        assert set(d.tolist()) == set(ref.tolist())
        dh = hnsw.search(q, 10).docnos
        recall.append(len(set(dh.tolist()) & set(ref.tolist())) / 10)
    assert np.mean(recall) >= 0.9


def test_dense_delete_and_filter():
    rng = np.random.default_rng(2)
    v = _unit(rng.normal(size=(20, 8)).astype(np.float32))
    idx = DenseIndex(8)
    idx.add_batch(_batch(0, 20, 1, {"dense": v}))
    idx.delete([5])
    d = idx.search(v[5], 20).docnos
    assert 5 not in d.tolist() and len(d) == 19
    allowed = np.zeros(20, bool)
    allowed[[1, 2]] = True
    d = idx.search(v[5], 20, allowed=allowed).docnos
    assert sorted(d.tolist()) == [1, 2]


def test_dense_rejects_wrong_shapes():
    idx = DenseIndex(8)
    with pytest.raises(ValueError, match="dense vectors must be"):
        idx.add_batch(_batch(0, 2, 1, {"dense": np.zeros((2, 4), np.float32)}))
    with pytest.raises(ValueError, match="no dense vectors"):
        idx.add_batch(_batch(0, 2, 1, {}))


def test_sparse_exact_dot_products_best_passage_delete(tmp_path):
    # 3 docs x 2 passages over a vocabulary of 6 terms
    m = sp.csr_matrix(
        np.array(
            [
                [0.5, 0, 0, 0, 0, 0],
                [0, 1.0, 0, 0, 0, 0],
                [0, 0.2, 0.3, 0, 0, 0],
                [0, 0, 0, 0, 0, 0],
                [0.1, 0.1, 0, 0, 0, 2.0],
                [0, 0, 0, 0.4, 0, 0],
            ],
            dtype=np.float32,
        )
    )
    idx = SparseIndex(6)
    idx.add_batch(_batch(0, 3, 2, {"sparse": m}))
    q = {1: 2.0, 5: 0.5}
    hits = idx.search(q, 10)
    d, s, best = hits.docnos, hits.scores, hits.passages
    # doc0 best = passage 1: 1.0*2 = 2.0; doc2 passage 0: 0.1*2 + 2.0*0.5 = 1.2; doc1 passage 0: 0.2*2 = 0.4
    assert d.tolist() == [0, 2, 1]
    np.testing.assert_allclose(s, [2.0, 1.2, 0.4], rtol=1e-6)
    assert best == {0: 1, 2: 0, 1: 0}
    state = idx.save(tmp_path / "sparse", "v000001")
    loaded = SparseIndex.load(tmp_path / "sparse", state)
    loaded.delete([0])
    hits = loaded.search(sp.csr_matrix(([2.0, 0.5], ([0, 0], [1, 5])), shape=(1, 6)), 10)
    d, s = hits.docnos, hits.scores
    assert d.tolist() == [2, 1]


def test_best_per_document_ties_prefer_earlier_passage():
    d, s, best = best_per_document(np.array([1, 1]), np.array([3, 2]), np.array([0.5, 0.5]), 5)
    assert best == {1: 2}


def test_auto_switches_new_segments_to_hnsw_beyond_collection_size(tmp_path):
    rng = np.random.default_rng(4)
    idx = DenseIndex(16, hnsw_min=25)
    first = _unit(rng.normal(size=(20, 16)).astype(np.float32))
    second = _unit(rng.normal(size=(20, 16)).astype(np.float32))
    idx.add_batch(_batch(0, 20, 1, {"dense": first}))
    idx.add_batch(_batch(20, 20, 1, {"dense": second}))
    # 20 passages: exact; 40 >= 25: the new segment gets an HNSW graph, saved beside it and found again on load
    assert idx._hnsw == {idx.segments[1].name}
    state = idx.save(tmp_path / "dense", "v000001")
    assert (tmp_path / "dense" / idx.segments[1].name / "hnsw.faiss").exists()
    assert not (tmp_path / "dense" / idx.segments[0].name / "hnsw.faiss").exists()
    loaded = DenseIndex.load(tmp_path / "dense", state)
    assert loaded._hnsw == {idx.segments[1].name}
    d = loaded.search(second[3], 1).docnos
    assert d.tolist() == [23]
