"""``answer()`` end to end on hand-written model outputs, sent over real HTTP by a scripted SSE server:
citation mapping and removal, streaming order, the "don't know" floor, the extractive fallback, errors."""

from __future__ import annotations

import pytest
from answer_sse_servers import ScriptedSSEServer, closed_port

from rag.answer import Answer, OpenAIHTTPGenerator, answer
from rag.answer.extractive import NO_GENERATOR_NOTE
from rag.answer.records import GenerationError
from rag.records import Hit, Passage

Q = "Does vitamin D deficiency raise fracture risk?"


def _hits() -> list[Hit]:
    texts = [
        ("d1", "Vitamin D deficiency raises the risk of bone fractures. Sunlight makes vitamin D.", 4, "Bones"),
        ("d2", "Calcium intake matters for bones. Fracture risk grows with age.", None, "Calcium"),
        ("d3", "Cats sleep a lot. Dogs bark.", 9, "Pets"),
    ]
    return [
        Hit(
            doc_id=d,
            score=3.0 - i,
            rank=i + 1,
            title=title,
            passage=Passage(doc_id=d, ordinal=i + 5, start=100 * i, end=100 * i + len(t), text=t, page=page),
        )
        for i, (d, t, page, title) in enumerate(texts)
    ]


def _gen(url: str) -> OpenAIHTTPGenerator:
    return OpenAIHTTPGenerator(url, "scripted", timeout=5, context_size=4096)


MODEL_OUTPUT = ["Yes", ", deficiency raises", " fracture risk [1]", ". Age matters too [2, 7]", " and [9]", "."]


def test_model_output_citations_are_mapped_and_bad_ones_removed() -> None:
    with ScriptedSSEServer(MODEL_OUTPUT) as server:
        result = answer(Q, _hits(), _gen(server.url), max_tokens=64)
        sent = server.requests[-1]["json"]
    assert isinstance(result, Answer)
    assert result.text == "Yes, deficiency raises fracture risk [1]. Age matters too [2] and."
    assert result.removed_markers == 2
    assert [(c.number, c.doc_id, c.passage_ordinal, c.page, c.title) for c in result.citations] == [
        (1, "d1", 5, 4, "Bones"),
        (2, "d2", 6, None, "Calcium"),
    ]
    assert [s.number for s in result.sources] == [1, 2, 3]
    assert result.citations[0].snippet.startswith("Vitamin D deficiency")
    assert (result.citations[1].start, result.citations[1].end) == (100, 100 + len(_hits()[1].passage.text))
    assert result.generator.startswith("openai-http:scripted@") and not result.no_answer
    # the prompt the model got: instructions, numbered sources, the question; max_tokens passed through
    assert sent["max_tokens"] == 64
    user = sent["messages"][1]["content"]
    assert "[1] Bones (page 4)\nVitamin D deficiency" in user and "[3] Pets (page 9)" in user
    assert user.endswith(f"Question: {Q}")
    assert result.trace["token_counting"] == "estimate:chars/4"


def test_stream_passes_tokens_unchanged_then_citations_then_done() -> None:
    with ScriptedSSEServer(MODEL_OUTPUT) as server:
        events = list(answer(Q, _hits(), _gen(server.url), stream=True))
    assert [e.type for e in events] == ["token"] * len(MODEL_OUTPUT) + ["citations", "done"]
    assert [e.data["text"] for e in events[:-2]] == MODEL_OUTPUT  # markers untouched while streaming
    cites = events[-2].data
    assert cites["removed_markers"] == 2
    assert [c["doc_id"] for c in cites["citations"]] == ["d1", "d2"]
    assert cites["text"] == "Yes, deficiency raises fracture risk [1]. Age matters too [2] and."
    done = events[-1].data
    assert done["text"] == cites["text"] and done["removed_markers"] == 2 and len(done["sources"]) == 3
    assert events[-1].to_sse().startswith("event: done\ndata: {")


def test_stream_error_event_carries_the_partial_text() -> None:
    with ScriptedSSEServer(["Partial", " answer [1]"], ending="cut") as server:
        events = list(answer(Q, _hits(), _gen(server.url), stream=True))
    assert [e.type for e in events] == ["token", "token", "error"]
    err = events[-1].data
    assert err["error"] == "GenerationError" and "closed the connection" in err["message"]
    assert err["partial_text"] == "Partial answer [1]"


def test_without_streaming_a_generation_error_propagates() -> None:
    with ScriptedSSEServer(["Partial"], ending="close") as server:
        with pytest.raises(GenerationError, match="ended before the answer was finished"):
            answer(Q, _hits(), _gen(server.url))


def test_no_hit_above_the_floor_means_i_dont_know_without_calling_the_model() -> None:
    with ScriptedSSEServer(MODEL_OUTPUT) as server:
        result = answer(Q, _hits(), _gen(server.url), floor=3.0)  # best score is 3.0: not above
        assert server.requests == []
    assert result.no_answer and result.generator == "none"
    assert result.text.startswith("I don't know") and "3" in result.text
    assert result.citations == [] and result.sources == []
    assert result.trace["reason"] == "below_floor" and result.trace["best_score"] == 3.0


def test_floor_keeps_only_hits_above_it() -> None:
    with ScriptedSSEServer(["Ok [1]."]) as server:
        result = answer(Q, _hits(), _gen(server.url), floor=1.5)
    assert [s.doc_id for s in result.sources] == ["d1", "d2"]


def test_no_hits_means_i_dont_know_even_with_an_unreachable_generator() -> None:
    gen = OpenAIHTTPGenerator(f"http://127.0.0.1:{closed_port()}", "m")  # would fail if it were called
    result = answer(Q, [], gen)
    assert result.no_answer and result.trace["reason"] == "no_hits"
    events = list(answer(Q, [], gen, stream=True))
    assert [e.type for e in events] == ["token", "citations", "done"]
    assert events[-1].data["no_answer"] is True and events[0].data["text"] == result.text


def test_hits_without_passage_text_mean_i_dont_know() -> None:
    result = answer(Q, [Hit("x", 1.0, 1)], None)
    assert result.no_answer and result.trace["reason"] == "no_passage"


def test_without_a_generator_the_answer_is_extractive_and_cited() -> None:
    result = answer(Q, _hits(), None)
    assert result.generator == "extractive" and not result.no_answer
    lines = result.text.splitlines()
    assert lines[0] == NO_GENERATOR_NOTE
    assert lines[1:] == [
        '- "Vitamin D deficiency raises the risk of bone fractures." [1]',  # 6 question terms
        '- "Sunlight makes vitamin D." [1]',  # 2 terms, ties go to the better-ranked source
        '- "Fracture risk grows with age." [2]',  # 2 terms
    ]
    assert [c.doc_id for c in result.citations] == ["d1", "d2"]
    assert [s.doc_id for s in result.sources] == ["d1", "d2", "d3"]


def test_extractive_answer_streams_as_one_token_then_citations_then_done() -> None:
    events = list(answer(Q, _hits(), None, stream=True))
    assert [e.type for e in events] == ["token", "citations", "done"]
    assert events[0].data["text"].startswith(NO_GENERATOR_NOTE)
    assert [c["number"] for c in events[1].data["citations"]] == [1, 2]


def test_unreachable_server_during_token_counting_is_an_error_event_when_streaming() -> None:
    gen = OpenAIHTTPGenerator(f"http://127.0.0.1:{closed_port()}", "m", context_size=1024)
    events = list(answer(Q, _hits(), gen, stream=True))
    assert [e.type for e in events] == ["error"]
    assert "could not connect" in events[0].data["message"]
    with pytest.raises(GenerationError, match="could not connect"):
        answer(Q, _hits(), gen)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"question": "  "}, "question"),
        ({"hits": [("d1", 1.0)]}, "rag.records.Hit"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": -1.0}, "temperature"),
        ({"floor": "high"}, "floor"),
    ],
)
def test_bad_arguments_raise_at_the_call(kwargs: dict, message: str) -> None:
    args = {"question": Q, "hits": _hits(), **kwargs}
    with pytest.raises(ValueError, match=message):
        answer(args.pop("question"), args.pop("hits"), None, stream=True, **args)
