"""Result units on a real index (BM25 + MiniLM dense + binary MaxSim tensors) of PDFs and a text file: passages
and pages come back with their document, ordinal, page, span and text; every retriever, fusion and the MaxSim
rerank work at the unit; a page scores as its best passage; the document unit is unchanged."""

import numpy as np
import pytest

from core.errors import UserError
from rag.planner import SearchOptions
from rag.service import ingest_paths, open_searcher
from rag.units import aggregate, decode, page_key, passage_key, unit_keys
from tests.rag.test_loaders import make_pdf

REPORT = [
    ["Annual report of Acme Corporation", "Our business sells anvils and rockets to coyotes."],
    ["Consolidated statement of cash flows", "Capital expenditure was 1,577 million dollars in 2018.",
     "Purchases of property, plant and equipment rose."],
    ["Risk factors", "Roadrunners may outrun our customers and reduce demand."],
]
OTHER = [["Weather report", "Rain fell on the plains all week."], ["Snow is expected in the mountains."]]


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    root = tmp_path_factory.mktemp("units")
    folder = root / "files"
    folder.mkdir()
    (folder / "acme.pdf").write_bytes(make_pdf(REPORT))
    (folder / "weather.pdf").write_bytes(make_pdf(OTHER))
    (folder / "notes.txt").write_text(
        "Meeting notes about anvils.\n\nThe capital expenditure budget for next year is unchanged.", encoding="utf-8"
    )
    ingest_paths([folder], root / "idx", profile="default", device="cpu")
    return open_searcher(root / "idx", device="cpu")


def test_keys_round_trip_and_aggregate_by_max():
    assert decode(passage_key(7, 3)) == (7, 3, None)
    assert decode(page_key(7, 12)) == (7, None, 12)
    keys = unit_keys("page", np.array([1, 1, 2]), np.array([0, 1, 4]), np.array([3, 3, 0]))
    assert keys.tolist() == [page_key(1, 3), page_key(1, 3), passage_key(2, 4)]
    k, s, best = aggregate(keys, np.array([0, 1, 4]), np.array([0.2, 0.7, 0.5]), 10)
    assert k.tolist() == [page_key(1, 3), passage_key(2, 4)] and s.tolist() == [0.7, 0.5]
    assert best == {page_key(1, 3): 1, passage_key(2, 4): 4}


@pytest.mark.parametrize("mode", ["bm25", "dense", "bm25+dense", "colbert"])
def test_every_retriever_ranks_pages(planner, mode):
    res = planner.search("capital expenditure cash flows", SearchOptions(k=5, mode=mode, unit="page", rerank=False))
    top = res.hits[0]
    assert top.unit == "page" and top.doc_id == "acme.pdf" and top.passage.page == 2
    doc = planner.docs.document(planner.docs.id_map["acme.pdf"])
    span = doc.pages[1]
    assert (top.passage.start, top.passage.end) == (span.start, span.end)
    assert top.passage.text == doc.text[span.start : span.end]
    assert set(top.retrievers) == set(res.retrievers)
    # a text file's passages stand for pages
    assert any(h.doc_id == "notes.txt" and h.unit == "passage" for h in res.hits) or mode == "colbert"


def test_passage_unit_gives_several_passages_of_one_document(planner):
    res = planner.search("anvils", SearchOptions(k=10, mode="bm25+dense", unit="passage"))
    assert {h.unit for h in res.hits} == {"passage"}
    seen = [(h.doc_id, h.passage.ordinal) for h in res.hits]
    assert len(seen) == len(set(seen))
    by_doc = {}
    for doc_id, _ in seen:
        by_doc[doc_id] = by_doc.get(doc_id, 0) + 1
    assert max(by_doc.values()) >= 2  # several passages of one document (acme's pages are passages)
    for h in res.hits:
        text = planner.docs.document(planner.docs.id_map[h.doc_id]).text
        assert text[h.passage.start : h.passage.end] == h.passage.text


def test_fusion_and_rerank_at_the_page_unit(planner):
    opt = SearchOptions(k=5, mode="bm25+dense", unit="page", rerank=True, rerank_combine="replace")
    res = planner.search("roadrunners reduce demand", opt)
    assert "rerank" in res.timings_ms
    assert res.hits[0].doc_id == "acme.pdf" and res.hits[0].passage.page == 3
    scores = [h.rerank_score for h in res.hits if h.rerank_score is not None]
    assert scores == sorted(scores, reverse=True)  # replace: MaxSim order
    plain = planner.search(
        "roadrunners reduce demand", SearchOptions(k=5, mode="bm25+dense", unit="page", rerank=False, title_weight=0)
    )
    for h in plain.hits:  # RRF over page ranks
        assert h.score == pytest.approx(sum(1 / (60 + r.rank) for r in h.retrievers.values()))


def test_page_scores_as_its_best_passage(planner):
    opt = dict(k=50, mode="dense", rerank=False, title_weight=0)
    passages = planner.search("capital expenditure", SearchOptions(unit="passage", **opt))
    pages = planner.search("capital expenditure", SearchOptions(unit="page", **opt))
    best: dict[tuple[str, int], float] = {}
    for h in passages.hits:
        key = (h.doc_id, h.passage.page or -h.passage.ordinal - 1)
        best[key] = max(best.get(key, -1e9), h.score)
    for h in pages.hits:
        key = (h.doc_id, h.passage.page if h.unit == "page" else -h.passage.ordinal - 1)
        assert h.score == pytest.approx(best[key], abs=1e-5)


def test_document_unit_is_unchanged_and_bad_unit_is_refused(planner):
    res = planner.search("capital expenditure", SearchOptions(k=3, mode="bm25"))
    assert {h.unit for h in res.hits} == {"document"}
    assert len({h.doc_id for h in res.hits}) == len(res.hits)
    with pytest.raises(UserError, match="unit must be one of"):
        planner.search("x", SearchOptions(unit="chapter"))


def test_title_prior_puts_the_named_documents_pages_first(planner):
    """"weather" is in weather.pdf's title (its file name): at the page unit its pages come first, while the
    passage retrievers alone put acme's rocket page first for this query."""
    q = "weather report rockets"
    plain = planner.search(q, SearchOptions(k=3, mode="bm25", unit="page", rerank=False, title_weight=0))
    assert plain.hits[0].doc_id == "acme.pdf"
    res = planner.search(q, SearchOptions(k=3, mode="bm25", unit="page", rerank=False))
    assert res.hits[0].doc_id == "weather.pdf" and "title" in res.timings_ms
    doc = planner.search(q, SearchOptions(k=3, mode="bm25", rerank=False))  # never at the document unit
    assert "title" not in doc.timings_ms
