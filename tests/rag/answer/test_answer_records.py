"""Answer records: JSON-ready dicts, Server-Sent Event frames, event type checks; and the modules' doctests."""

from __future__ import annotations

import doctest
import json

import pytest

import rag.answer.base
import rag.answer.citations
import rag.answer.extractive
import rag.answer.llamacpp
import rag.answer.openai_http
import rag.answer.prompt
import rag.answer.records
from rag.answer.records import Answer, AnswerEvent, Citation, make_snippet


def test_event_is_one_sse_frame_with_one_line_json() -> None:
    event = AnswerEvent("token", {"text": "line one\nline two é"})
    frame = event.to_sse()
    assert frame.startswith("event: token\ndata: ") and frame.endswith("\n\n")
    assert frame.count("\n") == 3
    assert json.loads(frame.split("data: ", 1)[1]) == {"text": "line one\nline two é"}


def test_unknown_event_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="token"):
        AnswerEvent("tokens", {})  # type: ignore[arg-type]


def test_answer_to_dict_is_json_ready() -> None:
    c = Citation(1, "d", "T", 0, 3, "snip", 10, 20)
    a = Answer(text="x [1]", citations=[c], sources=[c], generator="g", trace={"k": 1})
    d = json.loads(json.dumps(a.to_dict()))
    assert d["citations"][0] == {
        "number": 1, "doc_id": "d", "title": "T", "passage_ordinal": 0, "page": 3,
        "snippet": "snip", "start": 10, "end": 20, "truncated": False, "passage_ordinals": [],
    }  # fmt: skip
    assert d["no_answer"] is False and d["removed_markers"] == 0


def test_snippet_is_cut_at_a_word_and_marked() -> None:
    long = "word " * 100
    snip = make_snippet(long, limit=23)
    assert snip == "word word word word…"


@pytest.mark.parametrize(
    "module",
    [
        rag.answer.base,
        rag.answer.citations,
        rag.answer.extractive,
        rag.answer.llamacpp,
        rag.answer.openai_http,
        rag.answer.prompt,
        rag.answer.records,
    ],
)
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
