"""Typed records of the answer stage: citations, the answer, stream events, generation errors.

Every record has ``to_dict()`` giving plain JSON-ready data, so the REST layer can send an
``AnswerEvent`` as a Server-Sent Event without knowing the record's fields (``AnswerEvent.to_sse()``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EventType = Literal["token", "citations", "done", "error"]
EVENT_TYPES: tuple[str, ...] = ("token", "citations", "done", "error")
SNIPPET_CHARS = 240


def make_snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of ``text`` with whitespace collapsed; when longer than ``limit``, cut after its last whole sentence
    that fits (``rag.sentences``: 。！？ too) if that keeps half of ``limit``, else at a word boundary (a character
    boundary for text without spaces), and marked "…".

    >>> make_snippet("a  b\\nc")
    'a b c'
    >>> make_snippet("alpha beta gamma", limit=12)
    'alpha beta…'
    >>> make_snippet("北京是中国的首都。它有三千多年的历史，是世界上著名的古都之一。", limit=25)
    '北京是中国的首都。…'
    """
    from rag.sentences import split_sentences

    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    kept = ""
    for sentence in split_sentences(flat[: limit * 2]):
        joined = f"{kept} {sentence}" if kept and not kept.endswith(("。", "！", "？")) else kept + sentence
        if len(joined) > limit:
            break
        kept = joined
    if len(kept) >= limit // 2 or (kept and " " not in flat[:limit]):
        return kept + "…"
    cut = flat[:limit].rsplit(" ", 1)[0] if " " in flat[:limit] else flat[:limit]
    return cut + "…"


class GenerationError(RuntimeError):
    """A generator could not produce (all of) its answer: server unreachable, timed out, died mid-stream,
    prompt rejected. The message says what happened and what to check next."""


@dataclass(slots=True)
class Citation:
    """One numbered source as the model saw it: ``[number]`` in the prompt points at this passage.

    ``start``/``end`` are the passage's character span ``[start, end)`` in its document (``Passage.start``/
    ``end``); ``page`` is 1-based for PDFs, else None; ``snippet`` is the start of the passage text (at most
    ``SNIPPET_CHARS`` characters, ending with "…" when cut); ``truncated`` says the passage was cut to fit the
    model's context, so the model saw only part of it.
    """

    number: int
    doc_id: str
    title: str
    passage_ordinal: int | None
    page: int | None
    snippet: str
    start: int | None
    end: int | None
    truncated: bool = False
    passage_ordinals: list[int] = field(default_factory=list)  # every passage the source holds (merged neighbours)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Answer:
    """The answer to one question.

    - ``text``: the answer, with markers that pointed at no source removed.
    - ``citations``: the sources the text cites, in order of first citation.
    - ``sources``: every numbered source given to the model (or quoted by the extractive answer).
    - ``removed_markers``: how many citation references pointed nowhere and were removed.
    - ``generator``: the generator's name, ``"extractive"`` or ``"none"`` (no-answer).
    - ``no_answer``: True when the answer says it does not know without calling a model.
    - ``trace``: how the answer was made (context packing, token counts, timings).
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    sources: list[Citation] = field(default_factory=list)
    removed_markers: int = 0
    generator: str = ""
    no_answer: bool = False
    trace: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [c.to_dict() for c in self.sources],
            "removed_markers": self.removed_markers,
            "generator": self.generator,
            "no_answer": self.no_answer,
            "trace": self.trace,
        }


@dataclass(slots=True)
class AnswerEvent:
    """One event of a streamed answer: ``token`` events, then one ``citations`` event, then ``done``;
    or an ``error`` event, which ends the stream.

    ``data`` is JSON-ready:
    - ``token``: ``{"text": str}`` (the model's text exactly as produced, markers not yet checked);
    - ``citations``: ``{"citations": [...], "removed_markers": int, "text": cleaned_text}``;
    - ``done``: ``Answer.to_dict()``;
    - ``error``: ``{"message": str, "error": exception class name, "partial_text": str}``.
    """

    type: EventType
    data: dict[str, Any]

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"AnswerEvent type must be one of {EVENT_TYPES}, got {self.type!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "data": self.data}

    def to_sse(self) -> str:
        """The event as one Server-Sent Event frame (``event:`` line, one-line JSON ``data:``, blank line)."""
        return f"event: {self.type}\ndata: {json.dumps(self.data, ensure_ascii=False)}\n\n"
