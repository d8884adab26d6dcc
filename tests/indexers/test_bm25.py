import json
from pathlib import Path

import numpy as np
import pytest

from indexers.analyzer import Analyzer
from indexers.bm25 import BM25Index, BM25Params, idf_lucene, tf_saturation

SCIFACT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "scifact"

TOY = [
    "the quick brown fox jumps over the lazy dog",
    "a quick brown dog outpaces a quick fox",
    "lorem ipsum dolor sit amet",
    "foxes and dogs are animals",
]


def test_analyzer_lowercases_stems_and_drops_stopwords():
    assert Analyzer().tokens("The Running FOXES of it") == ["run", "fox"]
    assert Analyzer(stemmer=None, stopwords=None).tokens("The Running") == ["the", "running"]


def test_scores_are_the_formula_written_out():
    idx = BM25Index(BM25Params(k1=0.9, b=0.4), Analyzer(stemmer=None))
    idx.add(np.arange(4), TOY)
    hits = idx.search("lazy", 10)
    docnos, scores = hits.docnos, hits.scores
    # "lazy" only in doc 0: df=1, N=4; without stopwords (the, over, a, and, are) the documents have 6, 6, 5 and
    # 3 tokens: doc 0 = quick brown fox jumps lazy dog
    n, df, dl, avgdl = 4, 1, 6.0, (6 + 6 + 5 + 3) / 4
    expected = np.log(1 + (n - df + 0.5) / (df + 0.5)) * 1 / (1 + 0.9 * (1 - 0.4 + 0.4 * dl / avgdl))
    assert docnos.tolist() == [0]
    assert scores[0] == pytest.approx(expected, rel=1e-6)
    assert idf_lucene(np.array([1.0]), 4)[0] == pytest.approx(np.log(1 + 3.5 / 1.5))
    assert tf_saturation(np.array([1.0]), np.array([dl]), avgdl, k1=0.9, b=0.4)[0] == pytest.approx(
        1 / (1 + 0.9 * (1 - 0.4 + 0.4 * dl / avgdl))
    )


def test_incremental_add_and_delete_equal_a_rebuild(tmp_path):
    an = Analyzer()
    inc = BM25Index(analyzer=an)
    inc.add(np.arange(0, 2), TOY[:2])
    inc.add(np.arange(2, 4), TOY[2:])
    inc.delete([1])
    state = inc.save(tmp_path / "bm25", "v000001")
    loaded = BM25Index.load(tmp_path / "bm25", state)
    fresh = BM25Index(analyzer=an)
    fresh.add(np.arange(3), [TOY[0], TOY[2], TOY[3]])
    for q in ["quick fox", "dog", "animals lorem"]:
        hits = loaded.search(q, 10)
        d1, s1 = hits.docnos, hits.scores
        hits = fresh.search(q, 10)
        d2, s2 = hits.docnos, hits.scores
        remap = {0: 0, 1: 2, 2: 3}
        assert [remap[int(x)] for x in d2] == d1.tolist()
        np.testing.assert_allclose(s1, s2, rtol=1e-6)
        assert 1 not in d1.tolist()


def test_loaded_arrays_are_memory_mapped(tmp_path):
    idx = BM25Index()
    idx.add(np.arange(4), TOY)
    state = idx.save(tmp_path, "v000001")
    loaded = BM25Index.load(tmp_path, state)
    assert isinstance(loaded.segments[0].blocks.data, np.memmap)
    assert isinstance(loaded.segments[0].doc_len, np.memmap)


def test_allowed_mask_filters_candidates():
    idx = BM25Index()
    idx.add(np.arange(4), TOY)
    allowed = np.array([False, True, True, True])
    d = idx.search("fox", 10, allowed=allowed).docnos
    assert 0 not in d.tolist() and len(d) > 0


def test_bad_adds_are_refused():
    idx = BM25Index()
    idx.add(np.arange(2), TOY[:2])
    with pytest.raises(ValueError, match="already used"):
        idx.add(np.arange(1, 3), TOY[:2])
    with pytest.raises(ValueError, match="contiguous"):
        idx.add(np.array([5, 7]), TOY[:2])
    with pytest.raises(ValueError, match="unknown idf"):
        BM25Params(idf="bm42")


@pytest.mark.slow
def test_top10_matches_rank_bm25_on_scifact_queries():
    """rank-bm25 (BM25Okapi, epsilon=0) is the oracle: same tokens, Robertson idf -> same top 10 (ties aside)."""
    rank_bm25 = pytest.importorskip("rank_bm25", reason="rank-bm25 is the test oracle: pip install rank-bm25")
    if not (SCIFACT / "corpus.jsonl").exists():
        pytest.skip(f"SciFact not found at {SCIFACT} (shared data absent)")
    docs = [json.loads(line) for line in open(SCIFACT / "corpus.jsonl", encoding="utf-8")]
    texts = [d["title"] + "\n" + d["text"] for d in docs]
    an = Analyzer()
    toks = [an.tokens(t) for t in texts]
    idx = BM25Index(BM25Params(k1=0.9, b=0.4, idf="robertson"), an)
    half = len(texts) // 2  # two segments: parity must hold across segments
    idx.add(np.arange(half), texts[:half])
    idx.add(np.arange(half, len(texts)), texts[half:])
    oracle = rank_bm25.BM25Okapi(toks, k1=0.9, b=0.4, epsilon=0)
    queries = [json.loads(line) for line in open(SCIFACT / "queries.jsonl", encoding="utf-8")]
    mismatched = []
    for q in queries[:300]:
        hits = idx.search(q["text"], 10)
        d, s = hits.docnos, hits.scores
        ref = oracle.get_scores(an.tokens(q["text"]))
        top = np.argsort(-ref, kind="stable")[:10]
        np.testing.assert_allclose(s, ref[top], rtol=1e-4, atol=1e-5)  # the same scores in the same order
        if d.tolist() != top.tolist():
            # allowed only where scores tie
            ties = {round(float(x), 4) for x in ref[top]}
            if len(ties) == 10:
                mismatched.append(q["_id"])
    assert not mismatched, f"top 10 differ beyond ties for {mismatched}"
