"""evals.metrics: hand-computed measures, missing queries as zeros, input checks, real SciFact."""

from __future__ import annotations

import doctest
import json
import math
import random
from pathlib import Path

import pytest

import evals.metrics
from evals.datasets import load_beir
from evals.metrics import DEFAULT_MEASURES, EvalResult, display_name, evaluate, parse_measures, run_from_rankings

SCIFACT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "scifact"


def test_doctests_pass():
    assert doctest.testmod(evals.metrics).failed == 0


def test_ndcg_at_10_by_hand():
    # Relevant d1, d3, d9; the run ranks d1 first, d3 third, d9 at 12 (beyond the cut-off).
    qrels = {"q": {"d1": 1, "d3": 1, "d9": 1}}
    ranking = ["d1", "d2", "d3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "d9"]
    result = evaluate(run_from_rankings({"q": ranking}), qrels, ["nDCG@10"])
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert result.per_query["q"]["nDCG@10"] == pytest.approx(dcg / idcg)
    assert result.aggregate["nDCG@10"] == pytest.approx(dcg / idcg)


def test_graded_ndcg_uses_linear_gain():
    # trec_eval's nDCG gain is the relevance itself: rel 2 at rank 2, rel 1 at rank 1.
    qrels = {"q": {"a": 1, "b": 2}}
    result = evaluate({"q": {"a": 2.0, "b": 1.0}}, qrels, ["nDCG@10"])
    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert result.aggregate["nDCG@10"] == pytest.approx(dcg / idcg)


def test_recall_at_cutoffs():
    # Three relevant docs at ranks 1, 50 and 150 of a 200-doc ranking.
    ranking = [f"n{i}" for i in range(200)]
    ranking[0], ranking[49], ranking[149] = "r1", "r2", "r3"
    qrels = {"q": {"r1": 1, "r2": 1, "r3": 1, "never": 1}}
    result = evaluate(run_from_rankings({"q": ranking}), qrels, ["R@100", "R@1000"])
    assert result.aggregate["R@100"] == pytest.approx(2 / 4)
    assert result.aggregate["R@1000"] == pytest.approx(3 / 4)


def test_mrr_at_10_is_displayed_as_mrr():
    qrels = {"early": {"r": 1}, "late": {"r": 1}}
    ranking_early = ["a", "b", "r"]  # first relevant at rank 3 -> 1/3
    ranking_late = [f"n{i}" for i in range(10)] + ["r"]  # rank 11 -> 0 within the cut-off
    result = evaluate(run_from_rankings({"early": ranking_early, "late": ranking_late}), qrels, ["RR@10"])
    assert list(result.aggregate) == ["MRR@10"]
    assert result.per_query["early"]["MRR@10"] == pytest.approx(1 / 3)
    assert result.per_query["late"]["MRR@10"] == 0.0
    assert result.aggregate["MRR@10"] == pytest.approx((1 / 3 + 0) / 2)


def test_missing_and_empty_queries_score_zero_and_count_in_the_mean():
    qrels = {"hit": {"d": 1}, "missing": {"d": 1}, "empty": {"d": 1}}
    run = {"hit": {"d": 1.0}, "empty": {}, "unjudged": {"d": 1.0}}
    result = evaluate(run, qrels)
    assert set(result.per_query) == {"hit", "missing", "empty"}  # unjudged run query ignored
    for qid in ("missing", "empty"):
        assert result.per_query[qid] == {name: 0.0 for name in ("nDCG@10", "R@100", "R@1000", "MRR@10")}
    for name, value in result.aggregate.items():
        assert value == pytest.approx((1.0 + 0.0 + 0.0) / 3), name


def test_empty_run_scores_zero_everywhere():
    result = evaluate({}, {"a": {"d": 1}, "b": {"e": 1}})
    assert result.aggregate == {name: 0.0 for name in ("nDCG@10", "R@100", "R@1000", "MRR@10")}


def test_judged_non_relevant_documents_change_nothing():
    run = {"q": {"n1": 3.0, "r": 2.0, "n2": 1.0}}
    plain = evaluate(run, {"q": {"r": 1}})
    with_negatives = evaluate(run, {"q": {"r": 1, "n1": 0, "n2": -1}})
    assert plain.aggregate == with_negatives.aggregate
    assert plain.aggregate["nDCG@10"] == pytest.approx(1 / math.log2(3))


def test_run_from_rankings_keeps_order_where_equal_scores_would_not():
    qrels = {"q": {"a": 1}}
    assert evaluate(run_from_rankings({"q": ["b", "a"]}), qrels, ["RR@10"]).aggregate["MRR@10"] == 0.5
    assert evaluate(run_from_rankings({"q": ["a", "b"]}), qrels, ["RR@10"]).aggregate["MRR@10"] == 1.0
    with pytest.raises(TypeError, match="sequence of doc ids"):
        run_from_rankings({"q": "ab"})


def _reference_ndcg10(ranking: list[str], rels: dict[str, int]) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:10]) if rels.get(d, 0) > 0)
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:10]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def test_matches_a_plain_python_reference_on_random_runs():
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(40)]
    qrels, rankings = {}, {}
    for q in range(30):
        qrels[f"q{q}"] = {d: rng.choice([0, 1, 2]) for d in rng.sample(docs, 6)}
        if q % 5:  # every fifth query is absent from the run
            rankings[f"q{q}"] = rng.sample(docs, 25)
    result = evaluate(run_from_rankings(rankings), qrels, ["nDCG@10"])
    for qid, rels in qrels.items():
        expected = _reference_ndcg10(rankings.get(qid, []), rels)
        assert result.per_query[qid]["nDCG@10"] == pytest.approx(expected), qid
    mean = sum(_reference_ndcg10(rankings.get(q, []), r) for q, r in qrels.items()) / len(qrels)
    assert result.aggregate["nDCG@10"] == pytest.approx(mean)


def test_bad_inputs_get_clear_errors():
    qrels = {"q": {"1": 1}}
    with pytest.raises(TypeError, match="doc ids must be str"):
        evaluate({"q": {1: 1.0}}, qrels)
    with pytest.raises(TypeError, match="query ids must be str"):
        evaluate({1: {"1": 1.0}}, qrels)
    with pytest.raises(ValueError, match="finite number"):
        evaluate({"q": {"1": float("nan")}}, qrels)
    with pytest.raises(TypeError, match="relevance must be an int"):
        evaluate({}, {"q": {"1": 0.5}})
    with pytest.raises(ValueError, match="qrels are empty"):
        evaluate({"q": {"1": 1.0}}, {})
    with pytest.raises(ValueError, match="unknown measure"):
        evaluate({}, qrels, ["nDCG@ten"])
    with pytest.raises(ValueError, match="asked for twice"):
        evaluate({}, qrels, ["RR@10", "MRR@10"])
    with pytest.raises(ValueError, match="no measures"):
        evaluate({}, qrels, [])


def test_measure_names():
    assert [display_name(m) for m in DEFAULT_MEASURES] == ["nDCG@10", "R@100", "R@1000", "MRR@10"]
    assert [name for name, _ in parse_measures(["MRR@10", "P@5"])] == ["MRR@10", "P@5"]
    result = EvalResult(aggregate={"nDCG@10": 0.5}, per_query={"q": {"nDCG@10": 0.5}})
    assert result.measures == ["nDCG@10"]


def _scifact_or_skip():
    if not (SCIFACT / "qrels" / "test.tsv").is_file():
        pytest.skip(f"real SciFact data not found at {SCIFACT.resolve()} (../shared/data/scifact beside the repo)")
    return load_beir(SCIFACT, "test")


def test_scifact_qrels_as_run_score_one():
    ds = _scifact_or_skip()
    perfect = {qid: {doc: float(rel) for doc, rel in docs.items()} for qid, docs in ds.qrels.items()}
    result = evaluate(perfect, ds.qrels)
    assert len(result.per_query) == 300
    assert result.aggregate == pytest.approx({"nDCG@10": 1.0, "R@100": 1.0, "R@1000": 1.0, "MRR@10": 1.0})


@pytest.mark.slow
def test_scifact_bm25_matches_published_figures():
    """BM25 on SciFact test: published nDCG@10 is 0.665 (Anserini flat) to 0.684 (PyTerrier), R@1000 0.977."""
    ds = _scifact_or_skip()
    bm25s = pytest.importorskip("bm25s", reason="bm25s (test extra) is needed for the BM25 reference run")
    stemmer_mod = pytest.importorskip("Stemmer", reason="PyStemmer is needed for the BM25 reference run")
    ids, texts = [], []
    with open(ds.corpus_paths[0], encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            ids.append(record["_id"])
            texts.append(f"{record.get('title', '')} {record['text']}")
    stemmer = stemmer_mod.Stemmer("english")
    model = bm25s.BM25()
    model.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    qids = list(ds.queries)
    tokens = bm25s.tokenize([ds.queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False)
    docs, scores = model.retrieve(tokens, k=1000, show_progress=False)
    run = {q: {ids[d]: float(s) for d, s in zip(docs[i], scores[i])} for i, q in enumerate(qids)}
    result = evaluate(run, ds.qrels)
    assert 0.645 <= result.aggregate["nDCG@10"] <= 0.705
    assert 0.94 <= result.aggregate["R@1000"] <= 1.0
    assert result.aggregate["R@100"] <= result.aggregate["R@1000"]
