"""Passage-level BM25 (``bm25_passages``): scores equal a BM25 index built over the passage texts alone, deletion
removes a document's passages from the statistics, it survives a commit and reopen, and an index written without
it still opens and searches passages through the document-BM25 fallback."""

import numpy as np
import pytest

from indexers.bm25 import BM25Index
from indexers.docstore import DocStore
from indexers.folder import Snapshot
from indexers.passage_bm25 import PassageBM25Index
from indexers.writer import IndexWriter
from rag.ingest import ingest
from rag.planner import Planner, SearchOptions
from rag.records import Document, Passage
from rag.units import decode

TEXTS = {
    "a": ["the cat sat on the mat", "dogs chase cats in the park", "quarterly revenue grew strongly"],
    "b": ["revenue fell in the quarter", "the mat was red"],
    "c": ["cash flow from operations", "capital expenditure rose", "the cat and the dog"],
}


def _items():
    from indexers.docstore import StoredDoc

    items = []
    for doc_id, parts in TEXTS.items():
        text, passages, pos = "", [], 0
        for i, p in enumerate(parts):
            if i:
                text += "\n"
                pos += 1
            passages.append(Passage(doc_id, i, pos, pos + len(p), p))
            text += p
            pos += len(p)
        items.append(StoredDoc(Document(doc_id, text), bytes(16), bytes(16), np.zeros(4, np.uint32), passages))
    return items


def _reference(passages: list[tuple[str, int, str]]) -> dict[tuple[str, int], float]:
    ref = BM25Index()
    ref.add(np.arange(len(passages)), [t for _, _, t in passages])
    scores = ref.score_all("cat revenue mat")
    return {(d, o): float(s) for (d, o, _), s in zip(passages, scores) if s > 0}


@pytest.fixture()
def index(tmp_path):
    comps = {"docs": DocStore(), "bm25": BM25Index(), "bm25_passages": PassageBM25Index()}
    with IndexWriter(tmp_path / "idx", components=comps) as w:
        items = _items()
        w.add(items[:2], num_perm=4)
        w.commit()
        w.add(items[2:], num_perm=4)  # a second segment: rows numbered on across batches
        w.commit()
    return tmp_path / "idx"


def test_scores_equal_bm25_over_the_passages_alone(index):
    snap = Snapshot.open(index)
    d, o, s = snap["bm25_passages"].search_passages("cat revenue mat", 100)
    ids = snap["docs"].ids_by_docno()
    got = {(ids[a], int(b)): float(c) for a, b, c in zip(d, o, s)}
    expected = _reference([(doc, i, t) for doc, parts in TEXTS.items() for i, t in enumerate(parts)])
    assert got.keys() == expected.keys()
    for k in expected:
        assert got[k] == pytest.approx(expected[k], rel=1e-5)
    assert list(s) == sorted(s, reverse=True)


def test_delete_removes_a_documents_passages_from_scores_and_statistics(index):
    with IndexWriter(index) as w:
        w.delete_ids(["b"])
        w.commit()
    snap = Snapshot.open(index)
    d, o, s = snap["bm25_passages"].search_passages("cat revenue mat", 100)
    ids = snap["docs"].ids_by_docno()
    got = {(ids[a], int(b)): float(c) for a, b, c in zip(d, o, s)}
    expected = _reference([(doc, i, t) for doc, parts in TEXTS.items() if doc != "b" for i, t in enumerate(parts)])
    assert got.keys() == expected.keys()
    for k in expected:
        assert got[k] == pytest.approx(expected[k], rel=1e-5)


def test_allowed_mask_filters_by_document(index):
    snap = Snapshot.open(index)
    allowed = np.zeros(3, dtype=bool)
    allowed[2] = True  # only "c"
    d, _, _ = snap["bm25_passages"].search_passages("cat revenue mat", 100, allowed=allowed)
    assert set(d.tolist()) == {2}


def test_planner_ranks_passages_with_passage_bm25(index):
    planner = Planner(Snapshot.open(index))
    res = planner.search("revenue grew", SearchOptions(k=3, mode="bm25", unit="passage"))
    assert res.hits[0].doc_id == "a" and res.hits[0].passage.ordinal == 2
    assert res.hits[0].unit == "passage" and res.hits[0].passage.text == "quarterly revenue grew strongly"
    assert {(h.doc_id, h.passage.ordinal) for h in res.hits[:2]} == {("a", 2), ("b", 0)}


def test_a_bm25_document_hit_shows_its_best_passage_by_passage_bm25(index):
    """At the document unit, a BM25-only search has no retriever saying which passage matched: each hit shows the
    passage that passage-level BM25 ranks first among its document's passages."""
    snap = Snapshot.open(index)
    res = Planner(snap).search("cat mat revenue", SearchOptions(k=3, mode="bm25"))
    assert {h.doc_id for h in res.hits} == {"a", "b", "c"}
    d, o, _ = snap["bm25_passages"].search_passages("cat mat revenue", 100)
    ids = snap["docs"].ids_by_docno()
    first: dict[str, int] = {}
    for doc, ordinal in zip(d.tolist(), o.tolist()):
        first.setdefault(ids[doc], ordinal)
    assert {h.doc_id: h.passage.ordinal for h in res.hits} == first
    assert all(h.passage.text == TEXTS[h.doc_id][h.passage.ordinal] for h in res.hits)


def test_index_without_passage_bm25_still_ranks_passages(tmp_path):
    """An index as written before passage BM25 existed (docs + bm25 only) opens, and the passage unit falls back
    to document BM25 with each document's lexically best passage."""
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Cats purr.\n\nQuarterly revenue grew strongly this year.", encoding="utf-8")
    (corpus / "b.txt").write_text("Dogs bark loudly at night.", encoding="utf-8")
    ingest([corpus], tmp_path / "old")  # the plain ingest() writes docs + bm25, the old layout
    snap = Snapshot.open(tmp_path / "old")
    assert "bm25_passages" not in snap.components
    res = Planner(snap).search("revenue", SearchOptions(k=5, mode="bm25", unit="passage"))
    assert [h.doc_id for h in res.hits] == ["a.txt"]
    assert "revenue" in res.hits[0].passage.text
    key_doc = decode(int(Planner(snap).rank("revenue", SearchOptions(mode="bm25", unit="passage")).docnos[0]))[0]
    assert key_doc == 0


def test_passages_are_analyzed_in_their_documents_language(tmp_path):
    """An English filing's Spanish notice stays English to BM25, as the whole document is: the index holds one
    language, so English queries are not also analyzed as Spanish (where 'the' would be a term)."""
    from indexers.analyzers import MultilingualAnalyzer
    from indexers.docstore import StoredDoc

    english = "The company reports revenue and cash flows for the year. " * 8
    spanish = ("Esta oferta de unidades de acciones restringidas se acoge a las disposiciones de la norma de carácter "
               "general de la comisión para el mercado financiero de Chile.")
    text = english + "\n" + spanish
    passages = [Passage("f", 0, 0, len(english), ""), Passage("f", 1, len(english) + 1, len(text), "")]
    an = MultilingualAnalyzer()
    comps = {"docs": DocStore(), "bm25": BM25Index(analyzer=an), "bm25_passages": PassageBM25Index(analyzer=an)}
    with IndexWriter(tmp_path / "idx", components=comps) as w:
        w.add([StoredDoc(Document("f", text, "Annual report"), bytes(16), bytes(16), np.zeros(4, np.uint32), passages)],
              num_perm=4)
        w.commit()
    assert sorted(an.languages) == ["en"]
    docnos, ordinals, scores = comps["bm25_passages"].search_passages("mercado financiero", 2)
    assert ordinals.tolist() == [1] and scores[0] > 0  # the passage's words are indexed (its text was empty)


def test_optimize_merges_passage_segments_and_answers_the_same(tmp_path):
    """``IndexWriter.merge`` (``latte optimize``, the tiered policy) merges passage-BM25 segments as it merges
    document BM25: one segment after, deleted documents' passages still out, every passage hit and score equal."""
    comps = {"docs": DocStore(), "bm25": BM25Index(), "bm25_passages": PassageBM25Index()}
    items = _items()
    with IndexWriter(tmp_path / "idx", components=comps, auto_merge=False) as w:
        for it in items:  # one commit, one segment per document
            w.add([it], num_perm=4)
            w.commit()
        w.delete_ids(["b"])
        w.commit()

    def answers():
        snap = Snapshot.open(tmp_path / "idx")
        d, o, s = snap["bm25_passages"].search_passages("cat revenue mat red", 100)
        return len(snap["bm25_passages"].segments), list(zip(d.tolist(), o.tolist(), s.round(5).tolist()))

    n_before, before = answers()
    assert n_before == 3 and before and 1 not in {d for d, _, _ in before}
    with IndexWriter(tmp_path / "idx", auto_merge=False) as w:
        assert w.merge(max_segments=1) > 0
    n_after, after = answers()
    assert n_after == 1 and after == before  # (reopened: the merged segment's row maps were written)
