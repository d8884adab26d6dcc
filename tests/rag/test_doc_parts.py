"""Documents over max_doc_chars split into parts, and the doctests of the small modules of the hardening work."""

from __future__ import annotations

import doctest
import importlib

import pytest

from rag.doc_parts import cut_points, split_document
from rag.records import Document, PageSpan


def test_parts_keep_pages_and_never_exceed_the_limit():
    text = "".join(f"Page {i} " + "word " * 50 + "\n\n" for i in range(1, 6))
    starts = [text.index(f"Page {i} ") for i in range(1, 6)]
    pages = [PageSpan(i + 1, s, (starts[i + 1] if i < 4 else len(text))) for i, s in enumerate(starts)]
    parts = split_document(Document("r.pdf", text, "R", {"year": 2024}, "r.pdf", pages), 600)
    assert "".join(p.text for p in parts) == text and all(len(p.text) <= 600 for p in parts)
    assert [p.id for p in parts] == [f"r.pdf#part-{i}" for i in range(1, len(parts) + 1)]
    for p in parts:
        assert p.metadata["year"] == 2024 and p.metadata["part_of"] == "r.pdf" and p.title == "R"
        for span in p.pages:  # spans shifted into the part and clipped to it
            assert 0 <= span.start < span.end <= len(p.text)
            assert p.text[span.start : span.end] in text
    assert parts[0].pages[0].page == 1 and parts[-1].pages[-1].page == 5


def test_cut_points_prefer_paragraphs_and_fall_back_to_a_hard_cut():
    assert cut_points("a" * 10, 4) == [4, 8, 10]
    text = "x" * 90 + "\n\n" + "y" * 50
    assert cut_points(text, 100)[0] == 92  # after the blank line, not at 100
    with pytest.raises(ValueError):
        cut_points("abc", 0)


@pytest.mark.parametrize("name", ["rag.doc_parts", "rag.relevance", "rag.loaders.binary", "rag.loaders.pdf",
                                  "core.records", "indexers.tensors", "indexers.dense"])
def test_module_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
