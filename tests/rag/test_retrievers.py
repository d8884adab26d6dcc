"""The retriever table (rag/retrievers.py): a new retriever is one file plus one table entry. A toy retriever (the
class and factory below stand for its file) is added to the table; the planner then serves it alone, fused with
BM25 and inside ``auto``, and the CLI help, the API's mode pattern and the eval pipeline parser all accept it,
with no other change. Also: what the API and evals derive from the table matches what they offered before."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from core.errors import UserError
from rag import retrievers as table
from rag.ranking import Ranking, SearchOptions
from rag.service import ingest_paths, open_searcher

DOCS = {
    "cats.txt": "Cats\n\nCats are small domesticated felines that purr and hunt mice.",
    "dogs.txt": "Dogs\n\nDogs are loyal domesticated canines that bark and fetch sticks.",
    "stars.txt": "Stars\n\nStars are luminous spheres of plasma held together by gravity.",
}


# --- the toy retriever's "file": a class with name + retrieve, and a factory -----------------------------------
class DocLengthRetriever:
    """Ranks every live document, shortest text first (score: minus its length in characters)."""

    name = "shortest"

    def __init__(self, docs: Any) -> None:
        self.docs = docs

    def retrieve(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> Ranking:
        docnos = np.array([d for d, _, _ in self.docs.iter_live()
                           if allowed is None or (d < len(allowed) and allowed[d])], dtype=np.int64)
        lengths = np.array([len(self.docs.row(int(d))["text"]) for d in docnos], dtype=np.float64)
        order = np.lexsort((docnos, lengths))[:n]
        return Ranking(docnos[order], -lengths[order])


def shortest_retriever(snapshot: Any, encoders: Mapping[str, Any]) -> DocLengthRetriever | None:
    return DocLengthRetriever(snapshot["docs"])


# --- its table entry -------------------------------------------------------------------------------------------
TOY = table.RetrieverEntry("shortest", shortest_retriever, "the shortest documents first")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    files = root / "files"
    files.mkdir()
    for name, text in DOCS.items():
        (files / name).write_text(text, encoding="utf-8")
    ingest_paths([files], root / "idx", profile="bm25")
    return root / "idx"


@pytest.fixture
def with_toy(monkeypatch):
    monkeypatch.setitem(table.RETRIEVERS, TOY.name, TOY)


def test_a_new_retriever_is_one_file_plus_one_table_entry(index, with_toy):
    planner = open_searcher(index)
    assert list(planner.retrievers) == ["bm25", "shortest"]
    alone = planner.search("anything", SearchOptions(k=3, mode="shortest"))
    lengths = {name.removesuffix(".txt"): len(text) for name, text in DOCS.items()}
    assert [h.doc_id for h in alone.hits] == [f"{d}.txt" for d in sorted(lengths, key=lengths.get)]
    assert alone.retrievers == ["shortest"]
    assert alone.hits[0].retrievers["shortest"].rank == 1
    fused = planner.search("bark", SearchOptions(k=3, mode="bm25+shortest"))
    assert fused.retrievers == ["bm25", "shortest"]
    top = fused.hits[0]  # dogs: first in BM25, and its rank in "shortest" adds 1/(60 + rank)
    assert top.doc_id == "dogs.txt"
    assert top.score == pytest.approx(1 / (60 + 1) + 1 / (60 + top.retrievers["shortest"].rank))
    assert planner.search("bark", SearchOptions(k=3)).retrievers == ["bm25", "shortest"]  # auto: every first stage


def test_what_the_entry_points_derive_from_the_table_includes_it(with_toy):
    from evals.runner import parse_pipeline

    assert "shortest" in table.modes_help()
    assert re.match(table.mode_pattern(from_ingest=True), "bm25+shortest")
    assert parse_pipeline("bm25+shortest+colbert").mode == "bm25+shortest"


def test_without_the_entry_the_mode_is_refused(index):
    planner = open_searcher(index)
    with pytest.raises(UserError, match="shortest"):
        planner.search("x", SearchOptions(mode="shortest"))
    assert not re.match(table.mode_pattern(from_ingest=True), "shortest")


def test_the_derived_api_schema_and_eval_parser_match_what_they_offered():
    from api.schemas import MODE_PATTERN, SearchOptionsIn
    from evals.runner import parse_pipeline

    assert MODE_PATTERN == r"^(auto|hybrid|colbert|(bm25|dense|sparse)(\+(bm25|dense|sparse))*)$"
    weights = SearchOptionsIn.model_json_schema()["properties"]["weights"]["anyOf"][0]["propertyNames"]["enum"]
    assert weights == table.first_stage_names()  # a Literal in the schema, checked against the table here
    assert parse_pipeline("colbert").mode == "colbert"
    with pytest.raises(UserError, match="plaid"):
        parse_pipeline("plaid")  # PLAID is built apart from ingest: an eval cannot build it
