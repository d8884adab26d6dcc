"""The query planner on a real index built with the real MiniLM model: hybrid RRF arithmetic, per-retriever
trace, filters applied in every retriever, MaxSim rerank, ranker mode, and refusal of a mismatched model."""

import json

import numpy as np
import pytest

from core.errors import UserError
from indexers.folder import Snapshot
from rag.planner import SearchOptions
from rag.service import ingest_paths, load_encoders, open_searcher

DOCS = [
    ("cats", "Cats", "Cats are small domesticated felines that purr and hunt mice.", {"year": 2019, "lang": "en"}),
    ("dogs", "Dogs", "Dogs are loyal domesticated canines that bark and fetch sticks.", {"year": 2020, "lang": "en"}),
    ("stars", "Stars", "Stars are luminous spheres of plasma held together by gravity.", {"year": 2021, "lang": "en"}),
    ("rain", "Rain", "Rain is liquid water falling from clouds in the atmosphere.", {"year": 2022, "lang": "de"}),
    ("bread", "Bread", "Bread is a staple food prepared from a dough of flour and water.", {"year": 2023, "lang": "en"}),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("planner")
    corpus = root / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x, **m}) + "\n" for i, t, x, m in DOCS), encoding="utf-8"
    )
    ingest_paths([corpus], root / "idx", profile="default", device="cpu")
    return root / "idx"


@pytest.fixture(scope="module")
def planner(index):
    return open_searcher(index, device="cpu")


def test_index_records_profile_models_and_tensor_sizes(index):
    snap = Snapshot.open(index)
    m = snap.manifest
    assert m.profile == "default"
    assert m.models["dense"]["dense_dim"] == 384 and m.models["multivector"]["multivector_dim"] == 384
    assert set(m.components) == {"docs", "bm25", "bm25_passages", "dense", "tensors"}
    rep = snap["tensors"].size_report()
    assert rep["binary_bytes"] * 32 == rep["float32_equivalent_bytes"]


def test_dense_finds_paraphrase_without_shared_words(planner):
    res = planner.search("a pet that meows", SearchOptions(k=2, mode="dense", rerank=False))
    assert res.hits[0].doc_id == "cats"
    assert set(res.hits[0].retrievers) == {"dense"}


def test_hybrid_rrf_arithmetic_and_trace(planner):
    opt = SearchOptions(k=5, mode="bm25+dense", rerank=False)
    res = planner.search("domesticated canines", opt)
    for h in res.hits:
        expected = sum(1 / (60 + r.rank) for r in h.retrievers.values())
        assert h.score == pytest.approx(expected)
    top = res.hits[0]
    assert top.doc_id == "dogs"
    # dogs is first in both retrievers: 1/(60+1) + 1/(60+1)
    assert top.score == pytest.approx(1 / (60 + 1) + 1 / (60 + 1))
    assert top.passage is not None and "canines" in top.passage.text


def test_filters_apply_in_every_retriever(planner):
    for mode in ("bm25", "dense", "bm25+dense", "colbert"):
        res = planner.search("water", SearchOptions(k=5, mode=mode, filters={"year": {"gte": 2022}, "lang": "en"}))
        assert [h.doc_id for h in res.hits] == ["bread"], mode  # the only English document from 2022 on
    with pytest.raises(ValueError, match="unknown operator"):
        planner.search("water", SearchOptions(filters={"year": {"approx": 1}}))


def test_rerank_reorders_fused_candidates_and_explains(planner):
    res = planner.search(
        "what barks", SearchOptions(k=5, mode="bm25+dense", rerank=True, rerank_depth=5, rerank_combine="replace")
    )
    assert "rerank" in res.timings_ms
    assert all(h.rerank_score is not None for h in res.hits)
    ms = [h.rerank_score for h in res.hits]
    assert ms == sorted(ms, reverse=True)  # "replace": MaxSim order
    w = planner.search("what barks", SearchOptions(k=5, mode="bm25+dense", rerank=True, rerank_combine="rrf"))
    assert len(w.hits) == 5
    # the default: 0.35 * minmax(first stage) + 0.65 * minmax(MaxSim), written out for the top hit
    d = planner.search("what barks", SearchOptions(k=5, mode="bm25+dense", rerank=True, rerank_depth=5))
    first = {h.doc_id: h.score for h in planner.search("what barks", SearchOptions(k=5, mode="bm25+dense", rerank=False)).hits}
    ms = {h.doc_id: h.rerank_score for h in d.hits}
    lo_f, hi_f = min(first.values()), max(first.values())
    lo_m, hi_m = min(ms.values()), max(ms.values())
    top = d.hits[0]
    expected = 0.35 * (first[top.doc_id] - lo_f) / (hi_f - lo_f) + 0.65 * (ms[top.doc_id] - lo_m) / (hi_m - lo_m)
    assert top.score == pytest.approx(expected)
    off = planner.search("what barks", SearchOptions(k=5, mode="bm25+dense", rerank=False))
    assert all(h.rerank_score is None for h in off.hits)


def test_colbert_ranker_is_exact_maxsim(planner, index):
    snap = Snapshot.open(index)
    q = planner.encoders["multivector"].encode(["luminous plasma"], kind="query", want=("multivector",)).multivector[0]
    scores, _ = snap["tensors"].score(q, np.arange(len(DOCS)), backend="reference")
    res = planner.search("luminous plasma", SearchOptions(k=5, mode="colbert"))
    assert [h.doc_id for h in res.hits][0] == "stars"
    np.testing.assert_allclose([h.score for h in res.hits], np.sort(scores)[::-1], rtol=1e-4)


def test_mode_without_index_is_refused_clearly(planner):
    with pytest.raises(UserError, match="sparse"):
        planner.search("x", SearchOptions(mode="sparse"))


def test_querying_with_another_model_is_refused(index):
    from rag.encoders.registry import IncompatibleModel

    m = Snapshot.open(index).manifest
    forged = json.loads(json.dumps(m.models))
    forged["dense"]["fingerprint"] = "0" * 16
    with pytest.raises(IncompatibleModel):
        load_encoders("default", device="cpu", models=forged)


def test_ingest_into_index_with_other_profile_is_refused(index, tmp_path):
    (tmp_path / "x.txt").write_text("some words here for a document")
    with pytest.raises(UserError, match="profile"):
        ingest_paths([tmp_path / "x.txt"], index, profile="bm25")
