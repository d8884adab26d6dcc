"""Citation markers on hand-written model outputs: parse, keep valid ones untouched, remove and count bad ones."""

from __future__ import annotations

import pytest

from rag.answer.citations import check_citations, map_citations
from rag.answer.records import Citation


def _sources(n: int) -> list[Citation]:
    return [
        Citation(number=k, doc_id=f"doc{k}", title=f"T{k}", passage_ordinal=k * 10, page=k + 1, snippet="s", start=0, end=5)
        for k in range(1, n + 1)
    ]


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("Water boils at 100 C [1].", [1]),
        ("Fish swim [2, 3] and birds fly [1].", [2, 3, 1]),
        ("Adjacent markers [1][3] are two markers.", [1, 3]),
        ("Semicolons [3; 1] work.", [3, 1]),
        ("Ranges [1-3] expand.", [1, 2, 3]),
        ("En dash ranges [2\u20133] too.", [2, 3]),
        ("Repeats [2] count once [2].", [2]),
        ("Spaces inside [ 1 , 2 ] are fine.", [1, 2]),
    ],
)
def test_valid_markers_are_kept_verbatim_and_numbered_in_order(text: str, numbers: list[int]) -> None:
    out = check_citations(text, 3)
    assert out.text == text
    assert out.numbers == numbers
    assert out.removed == 0


@pytest.mark.parametrize(
    "text, cleaned, numbers, removed",
    [
        ("Claim [9].", "Claim.", [], 1),
        ("Claim [2, 9] here.", "Claim [2] here.", [2], 1),
        ("Claim [1][4][3].", "Claim [1][3].", [1, 3], 1),
        ("Zero [0] is not a source.", "Zero is not a source.", [], 1),
        ("Range [2-7] is clipped.", "Range [2-3] is clipped.", [2, 3], 1),
        ("Range [5-7] is gone.", "Range is gone.", [], 1),
        ("Backwards [3-1] is gone.", "Backwards is gone.", [], 1),
        ("Two bad [4, 5] refs.", "Two bad refs.", [], 2),
        ("[7] Leading marker.", "Leading marker.", [], 1),
        ("Line one.\n[8] Line two [1].", "Line one.\nLine two [1].", [1], 1),
        ("Year [2019] is not a source.", "Year is not a source.", [], 1),
        ("Glued[5] marker.", "Glued marker.", [], 1),
    ],
)
def test_bad_markers_are_removed_and_counted(text: str, cleaned: str, numbers: list[int], removed: int) -> None:
    out = check_citations(text, 3)
    assert out.text == cleaned
    assert out.numbers == numbers
    assert out.removed == removed


def test_brackets_that_are_not_markers_are_left_alone() -> None:
    text = "A [link](http://x.org), a list [a, b], a note [see 2], and a real one [2]."
    out = check_citations(text, 2)
    assert out.text == text
    assert out.numbers == [2]
    assert out.removed == 0


def test_every_marker_is_removed_when_there_are_no_sources() -> None:
    out = check_citations("Nothing [1] to cite [1, 2].", 0)
    assert out.text == "Nothing to cite."
    assert out.removed == 3


def test_huge_range_is_clipped_without_expanding_it() -> None:
    out = check_citations("See [1-1000000000].", 2)
    assert out.text == "See [1-2]."
    assert out.numbers == [1, 2]
    assert out.removed == 1


def test_citations_map_back_to_doc_passage_and_page() -> None:
    sources = _sources(3)
    out = check_citations("B [3] then A [1, 3] and bad [6].", len(sources))
    cited = map_citations(out.numbers, sources)
    assert [(c.number, c.doc_id, c.passage_ordinal, c.page) for c in cited] == [(3, "doc3", 30, 4), (1, "doc1", 10, 2)]
    assert out.removed == 1


def test_map_citations_rejects_unknown_numbers_with_a_hint() -> None:
    with pytest.raises(ValueError, match="check_citations"):
        map_citations([4], _sources(3))


def test_negative_source_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="n_sources"):
        check_citations("x", -1)
