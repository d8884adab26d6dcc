"""Answers pack the best passages across the collection: several passages of one document are cited when they
are the best, neighbouring passages are merged into one source, duplicates are removed; citations keep the
document, the passage ordinals and the PDF page. The last test runs the whole path on a real index."""

from __future__ import annotations

import json

import pytest

from rag.answer import answer
from rag.answer.sources import select_sources
from rag.records import Hit, Passage

TEXT = "alpha beta gamma delta epsilon zeta eta theta"


def _hit(rank: int, doc: str, ordinal: int, start: int, end: int, page: int | None = None, unit: str = "passage") -> Hit:
    return Hit(doc, 1.0 / rank, rank, passage=Passage(doc, ordinal, start, end, TEXT[start:end], page), unit=unit)


def test_neighbours_merge_duplicates_drop_far_passages_stay_apart():
    hits = [
        _hit(1, "a", 0, 0, 16),  # "alpha beta gamma"
        _hit(2, "a", 1, 11, 30),  # "gamma delta epsilon": overlaps ordinal 0, its neighbour
        _hit(3, "b", 0, 0, 10),
        _hit(4, "a", 0, 0, 16),  # the same passage again
        _hit(5, "a", 5, 35, 45),  # far from the others: its own source
    ]
    kept, dropped = select_sources(hits)
    assert [(h.doc_id, h.passage.text) for h in kept] == [
        ("a", "alpha beta gamma delta epsilon"), ("b", TEXT[0:10]), ("a", TEXT[35:45])
    ]
    assert kept[0].passage.ordinals == (0, 1) and (kept[0].passage.start, kept[0].passage.end) == (0, 30)
    assert [d["reason"] for d in dropped] == ["merged", "duplicate"]


def test_pages_are_not_merged_and_a_passage_inside_a_kept_page_is_a_duplicate():
    hits = [_hit(1, "r.pdf", 2, 0, 28, page=3, unit="page"), _hit(2, "r.pdf", 3, 29, 45, page=4, unit="page"),
            _hit(3, "r.pdf", 2, 11, 28, page=3)]
    kept, dropped = select_sources(hits)
    assert [h.passage.page for h in kept] == [3, 4]
    assert dropped == [{"doc_id": "r.pdf", "rank": 3, "reason": "duplicate"}]


def test_extractive_answer_cites_several_passages_of_one_document():
    hits = [
        Hit("report", 3.0, 1, passage=Passage("report", 4, 900, 960, "Net sales grew to 53 billion dollars.", 2)),
        Hit("other", 2.0, 2, passage=Passage("other", 0, 0, 30, "Cats sleep all day long.", None)),
        Hit("report", 1.0, 3, passage=Passage("report", 9, 2000, 2050, "Net sales in Canada grew by 9 percent.", 5)),
    ]
    ans = answer("How much did net sales grow?", hits)
    cited = [(c.doc_id, c.passage_ordinal, c.page) for c in ans.citations]
    assert ("report", 4, 2) in cited and ("report", 9, 5) in cited
    assert all(c.passage_ordinals == [c.passage_ordinal] for c in ans.citations)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from rag.service import ingest_paths

    root = tmp_path_factory.mktemp("answer_units")
    filler = " ".join(f"Item {i} of the appendix lists office furniture." for i in range(120))  # ~840 words
    long_doc = (
        "Revenue of the anvil business grew by twelve percent in the year. " + filler + " "
        "Revenue of the rocket business grew by thirty percent in the year. " + filler
    )
    rows = [{"_id": "annual", "title": "Acme annual report", "text": long_doc},
            {"_id": "pets", "title": "Pets", "text": "Cats sleep. Dogs bark at the mail carrier."}]
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ingest_paths([corpus], root / "idx", profile="bm25")
    return root / "idx"


def test_answer_on_a_real_index_cites_two_passages_of_one_document(index):
    from rag.planner import SearchOptions
    from rag.service import open_searcher

    planner = open_searcher(index)
    q = "How much did revenue of the anvil and rocket businesses grow?"
    doc_unit = planner.search(q, SearchOptions(k=5, unit="document"))
    assert len({h.doc_id for h in doc_unit.hits}) == len(doc_unit.hits)  # one hit, so one passage, per document
    res = planner.search(q, SearchOptions(k=5, unit="passage"))
    ans = answer(q, res.hits)
    annual = [c for c in ans.citations if c.doc_id == "annual"]
    assert len({c.passage_ordinal for c in annual}) >= 2  # two passages far apart: two sources of one document
    text = planner.docs.document(planner.docs.id_map["annual"]).text
    cited = [text[c.start : c.end] for c in annual]
    assert any("anvil business grew" in t for t in cited) and any("rocket business grew" in t for t in cited)
    assert "anvil business grew" in ans.text and "rocket business grew" in ans.text
