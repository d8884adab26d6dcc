"""Block-max MaxScore must return exactly the exhaustive scorer's top k (ties aside), whatever the segments,
deletions, filters, k and idf; old uncompressed segments must still load and search the same."""

import json
import os

import numpy as np
import pytest

from indexers.analyzer import Analyzer
from indexers.bm25 import BM25Index, BM25Params
from indexers.postings import PostingBlocks

WORDS = [f"w{i}" for i in range(400)]


def _corpus(rng, n, mean_len=60):
    p = 1.0 / np.arange(1, len(WORDS) + 1) ** 1.05
    p /= p.sum()
    out = []
    for _ in range(n):
        k = max(1, int(rng.normal(mean_len, mean_len * 0.4)))
        out.append(" ".join(rng.choice(WORDS, size=k, p=p)))
    return out


def _queries(rng, n):
    return [" ".join(rng.choice(WORDS[:200], size=int(rng.integers(1, 7)))) for _ in range(n)]


def _reference(idx, q, k, allowed=None):
    s = idx.score_all(q)
    ok = s > 0
    if allowed is not None:
        ok &= allowed[: len(s)]
    cand = np.flatnonzero(ok)
    order = np.lexsort((cand, -s[cand]))[:k]
    return cand[order], s[cand][order]


def _assert_same_top(got, ref):
    (d1, s1), (d2, s2) = (got.docnos, got.scores), ref
    assert len(d1) == len(d2)
    np.testing.assert_allclose(s1, s2, rtol=1e-5, atol=1e-6)
    for a, b, sa in zip(d1.tolist(), d2.tolist(), s1.tolist()):
        if a != b:  # only a tie may swap two documents
            assert abs(sa - float(s2[d2.tolist().index(b)])) <= 1e-5 * max(1.0, abs(sa))


@pytest.mark.parametrize("idf", ["lucene", "robertson"])
def test_maxscore_equals_exhaustive_scoring(idf):
    rng = np.random.default_rng(1 if idf == "lucene" else 2)
    texts = _corpus(rng, 1500)
    idx = BM25Index(BM25Params(k1=1.2, b=0.75, idf=idf), Analyzer(stemmer=None, stopwords=None))
    for lo in range(0, len(texts), 400):  # four segments of unequal sizes
        hi = min(lo + 400, len(texts))
        idx.add(np.arange(lo, hi), texts[lo:hi])
    idx.delete(rng.choice(len(texts), 150, replace=False))
    allowed = rng.random(len(texts)) < 0.5
    for q in _queries(rng, 60):
        for k in (1, 3, 10, 100, 5000):
            _assert_same_top(idx.search(q, k), _reference(idx, q, k))
        _assert_same_top(idx.search(q, 10, allowed=allowed), _reference(idx, q, 10, allowed))


def test_ties_go_to_the_smaller_docno():
    idx = BM25Index(analyzer=Analyzer(stemmer=None, stopwords=None))
    idx.add(np.arange(0, 3), ["apple pie", "apple pie", "banana"])
    idx.add(np.arange(3, 6), ["apple pie", "cherry", "apple pie"])
    hits = idx.search("apple", 2)
    d, s = hits.docnos, hits.scores
    assert d.tolist() == [0, 1] and s[0] == s[1]
    d = idx.search("apple pie", 10).docnos
    assert d.tolist() == [0, 1, 3, 5]


def test_unknown_terms_and_empty_index_return_nothing():
    idx = BM25Index()
    assert idx.search("anything", 10).docnos.tolist() == []
    idx.add(np.arange(2), ["red fox", "blue whale"])
    assert idx.search("zebra", 10).docnos.tolist() == []
    assert idx.search("fox", 0).docnos.tolist() == []


def test_doc_freq_counts_live_documents_only():
    idx = BM25Index(analyzer=Analyzer(stemmer=None, stopwords=None))
    idx.add(np.arange(3), ["fox", "fox dog", "dog"])
    t = idx.vocab.ids["fox"]
    assert idx.doc_freq(t) == 2
    idx.delete([0])
    assert idx.doc_freq(t) == 1


def _write_legacy_layout(folder, state):
    """Rewrite each segment as today's main branch wrote it: uncompressed term_ids/indptr/rows/tf/doc_len."""
    for entry in state["segments"]:
        seg = folder / entry["name"]
        pb = PostingBlocks.load(seg, mmap=False)
        indptr, rows, tf = pb.decode_all()
        for name in PostingBlocks.names():
            os.remove(seg / f"{name}.npy")
        np.save(seg / "term_ids.npy", np.asarray(pb.term_ids, np.int64))
        np.save(seg / "indptr.npy", indptr)
        np.save(seg / "rows.npy", rows)
        np.save(seg / "tf.npy", tf)
        del entry["postings"]


def test_old_uncompressed_segments_load_and_search_the_same(tmp_path):
    rng = np.random.default_rng(3)
    texts = _corpus(rng, 600)
    idx = BM25Index()
    idx.add(np.arange(300), texts[:300])
    idx.add(np.arange(300, 600), texts[300:])
    idx.delete([5, 400])
    state = idx.save(tmp_path, "v000001")
    new = BM25Index.load(tmp_path, json.loads(json.dumps(state)))
    _write_legacy_layout(tmp_path, state)
    assert "postings" not in state["segments"][0]
    old = BM25Index.load(tmp_path, state)
    assert all(s.legacy for s in old.segments)
    queries = _queries(rng, 30)
    for q in queries:
        hits = old.search(q, 10)
        d1, s1 = hits.docnos, hits.scores
        hits = new.search(q, 10)
        d2, s2 = hits.docnos, hits.scores
        assert d1.tolist() == d2.tolist()
        np.testing.assert_array_equal(s1, s2)
    # a later version keeps the old segments readable (their manifest entries still say "uncompressed")
    old.add(np.arange(600, 610), texts[:10])
    state2 = old.save(tmp_path, "v000002")
    assert "postings" not in state2["segments"][0] and state2["segments"][2]["postings"] == "blocks128"
    again = BM25Index.load(tmp_path, state2)
    for q in queries:
        _assert_same_top(again.search(q, 10), _reference(again, q, 10))


def test_segments_longer_than_a_scoring_window_stay_exact():
    """Essential terms are scored in windows of WINDOW documents; lists cross window and block borders."""
    from indexers.bm25_maxscore import WINDOW

    rng = np.random.default_rng(4)
    n = 2 * WINDOW + 300
    texts = _corpus(rng, n, mean_len=8)
    idx = BM25Index(analyzer=Analyzer(stemmer=None, stopwords=None))
    idx.add(np.arange(n), texts)
    idx.delete(rng.choice(n, 200, replace=False))
    for q in _queries(rng, 25):
        for k in (1, 10, 300):
            _assert_same_top(idx.search(q, k), _reference(idx, q, k))


def test_the_compiled_kernels_load_from_numba_s_disk_cache():
    """Kernels defined inside a function were compiled again in every process (13 s before a CLI's first BM25
    search); module-level ones are cached on disk, so a second process loads them."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import numpy as np\n"
        "from indexers.bm25 import BM25Index\n"
        "from rag.textscan import scan_quality\n"
        "ix = BM25Index(); ix.add(np.arange(2), ['alpha beta', 'beta gamma']); ix.search('beta', 1)\n"
        "scan_quality('some words here')\n"
        "from indexers.bm25_maxscore_jit import search\n"
        "from rag.textscan_jit import quality\n"
        "print(sum(search.stats.cache_hits.values()), sum(quality.stats.cache_hits.values()))\n"
    )
    root = Path(__file__).resolve().parents[2]
    runs = [subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
            for _ in range(2)]
    hits = [int(x) for x in runs[1].stdout.split()]
    assert hits[0] >= 1 and hits[1] >= 1, runs[1].stdout + runs[1].stderr
