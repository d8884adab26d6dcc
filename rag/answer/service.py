"""``answer()``: from a question and ranked hits to a cited answer, whole or streamed.

Paths, decided before any model call:

1. no hit, or no hit scoring above ``floor`` (``Hit.score``), or no hit with passage text: a plain
   "I don't know" (``no_answer=True``), the generator is never called;
2. no generator: an extractive answer (``rag.answer.extractive``);
3. otherwise the passages are numbered and packed into the generator's context (``rag.answer.prompt``), the
   model streams its answer, and its citation markers are checked and mapped (``rag.answer.citations``).

Streaming (``stream=True``) yields ``AnswerEvent``: ``token`` events with the text exactly as generated,
then one ``citations`` event (checked markers, mapping, removed count, cleaned text), then ``done`` with
the whole ``Answer``. A ``GenerationError`` (including one raised while counting tokens over HTTP) becomes a
final ``error`` event. Bad arguments raise ``ValueError`` at the call, before any event.
"""

from __future__ import annotations

import collections.abc
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal, overload

from rag.answer.base import Generator, check_generation_args
from rag.answer.citations import check_citations, map_citations
from rag.answer.extractive import pick_sentences, render_extractive
from rag.answer.prompt import SYSTEM_PROMPT, PackedContext, make_citation, pack_context, usable_hits
from rag.answer.records import Answer, AnswerEvent, GenerationError
from rag.records import Hit

NO_HITS_TEXT = "I don't know: the search found no sources for this question."
BELOW_FLOOR_TEXT = "I don't know: no source scored above the relevance floor ({floor:g}), so there is nothing reliable to answer from."
NO_PASSAGE_TEXT = "I don't know: the search results carry no passage text to answer from."


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 3)


def _check_args(question: Any, hits: Any, max_tokens: int, temperature: float, floor: float | None) -> None:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty string")
    if not isinstance(hits, Sequence) or any(not isinstance(h, Hit) for h in hits):
        raise ValueError("hits must be a list of rag.records.Hit, best first (as retrieval returns them)")
    check_generation_args(max_tokens, temperature)
    if floor is not None and not isinstance(floor, (int, float)):
        raise ValueError(f"floor must be a number or None, got {floor!r}")


def _no_answer(text: str, trace: dict[str, Any]) -> Answer:
    return Answer(text=text, generator="none", no_answer=True, trace=trace)


def _extractive(question: str, hits: list[Hit], n_sources: int, n_sentences: int, trace: dict[str, Any]) -> Answer:
    chosen = hits[:n_sources]
    sources = [make_citation(i + 1, h, h.passage.text) for i, h in enumerate(chosen)]  # type: ignore[union-attr]
    quotes = pick_sentences(question, [h.passage.text for h in chosen], k=n_sentences)  # type: ignore[union-attr]
    text = render_extractive(quotes)
    numbers: list[int] = []
    for q in quotes:
        if q.number not in numbers:
            numbers.append(q.number)
    trace.update(sources=len(sources), sentences=[{"source": q.number, "overlap": q.score} for q in quotes])
    return Answer(
        text=text,
        citations=map_citations(numbers, sources),
        sources=sources,
        generator="extractive",
        trace=trace,
    )


def _finish(text: str, packed: PackedContext, generator: Generator, trace: dict[str, Any]) -> Answer:
    checked = check_citations(text, len(packed.sources))
    return Answer(
        text=checked.text,
        citations=map_citations(checked.numbers, packed.sources),
        sources=packed.sources,
        removed_markers=checked.removed,
        generator=generator.name,
        trace=trace,
    )


def _citations_event(answer: Answer) -> AnswerEvent:
    return AnswerEvent(
        "citations",
        {
            "citations": [c.to_dict() for c in answer.citations],
            "removed_markers": answer.removed_markers,
            "text": answer.text,
        },
    )


def _replay(answer: Answer) -> Iterator[AnswerEvent]:
    """Events for an answer made without a model: its text as one token, citations, done."""
    yield AnswerEvent("token", {"text": answer.text})
    yield _citations_event(answer)
    yield AnswerEvent("done", answer.to_dict())


def _error_event(exc: Exception, partial: str = "") -> AnswerEvent:
    return AnswerEvent("error", {"message": str(exc), "error": type(exc).__name__, "partial_text": partial})


def _pack(
    question: str,
    hits: list[Hit],
    generator: Generator,
    max_tokens: int,
    template_reserve: int,
    max_sources: int | None,
    system: str,
) -> PackedContext:
    count_prompt = getattr(generator, "count_prompt_tokens", None)
    return pack_context(
        question,
        hits,
        generator.count_tokens,
        generator.context_size,
        max_tokens=max_tokens,
        template_reserve=template_reserve,
        max_sources=max_sources,
        count_prompt=count_prompt,
        system=system,
    )


def _generate(
    generator: Generator,
    packed: PackedContext,
    max_tokens: int,
    temperature: float,
    trace: dict[str, Any],
    pieces: list[str],
    cancel: threading.Event | None = None,
) -> collections.abc.Generator[str, None, None]:
    """Stream the model's pieces, appending each to ``pieces`` and timing into ``trace``; closes the stream."""
    t0 = time.perf_counter()
    it = generator.stream(packed.messages, max_tokens=max_tokens, temperature=temperature, cancel=cancel)
    try:
        for piece in it:
            if not pieces:
                trace["timings_ms"]["first_token"] = _ms(t0)
            pieces.append(piece)
            yield piece
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
        trace["timings_ms"]["generate"] = _ms(t0)
        trace["pieces"] = len(pieces)


def _relevance(hit: Hit) -> float:
    """What a floor compares: the hit's calibrated relevance, else its score (a hit built by hand)."""
    rel = getattr(hit, "relevance", None)
    return hit.score if rel is None else rel


@overload
def answer(
    question: str,
    hits: Sequence[Hit],
    generator: Generator | None = None,
    *,
    max_tokens: int = 512,
    temperature: float = 0.1,
    floor: float | None = None,
    stream: Literal[False] = False,
    template_reserve: int = 64,
    max_sources: int | None = 8,
    extractive_sources: int = 5,
    extractive_sentences: int = 3,
    system_prompt: str = SYSTEM_PROMPT,
    cancel: threading.Event | None = None,
) -> Answer: ...


@overload
def answer(
    question: str,
    hits: Sequence[Hit],
    generator: Generator | None = None,
    *,
    max_tokens: int = 512,
    temperature: float = 0.1,
    floor: float | None = None,
    stream: Literal[True],
    template_reserve: int = 64,
    max_sources: int | None = 8,
    extractive_sources: int = 5,
    extractive_sentences: int = 3,
    system_prompt: str = SYSTEM_PROMPT,
    cancel: threading.Event | None = None,
) -> Iterator[AnswerEvent]: ...


@overload
def answer(
    question: str,
    hits: Sequence[Hit],
    generator: Generator | None = None,
    *,
    max_tokens: int = 512,
    temperature: float = 0.1,
    floor: float | None = None,
    stream: bool = False,
    template_reserve: int = 64,
    max_sources: int | None = 8,
    extractive_sources: int = 5,
    extractive_sentences: int = 3,
    system_prompt: str = SYSTEM_PROMPT,
    cancel: threading.Event | None = None,
) -> Answer | Iterator[AnswerEvent]: ...


def answer(
    question: str,
    hits: Sequence[Hit],
    generator: Generator | None = None,
    *,
    max_tokens: int = 512,
    temperature: float = 0.1,
    floor: float | None = None,
    stream: bool = False,
    template_reserve: int = 64,
    max_sources: int | None = 8,
    extractive_sources: int = 5,
    extractive_sentences: int = 3,
    system_prompt: str = SYSTEM_PROMPT,
    cancel: threading.Event | None = None,
) -> Answer | Iterator[AnswerEvent]:
    """Answer ``question`` from ``hits`` (ranked, best first) with cited sources.

    ``floor``: hits must have a relevance strictly above it (``Hit.relevance``: a scale shared by all queries, see
    ``rag.relevance``; ``Hit.score`` for a hit without one) to be used; None keeps every hit.
    ``template_reserve``: tokens kept for chat-template role markers when the generator cannot count its
    whole prompt exactly (``count_prompt_tokens``). ``max_sources``: at most this many passages go to the
    model even when more fit (each costs prompt-processing time before the first token). ``cancel``: once set,
    the model stops at its next token (a streaming reader that left sets it; see ``Generator.stream``). Returns an ``Answer``, or with ``stream=True`` an
    iterator of ``AnswerEvent`` (see the module docstring). Without streaming a ``GenerationError``
    propagates; a ``ValueError`` means bad arguments or a context too small for any source.
    """
    _check_args(question, hits, max_tokens, temperature, floor)
    t0 = time.perf_counter()
    trace: dict[str, Any] = {"hits": len(hits), "floor": floor, "timings_ms": {}}
    eligible = [h for h in hits if floor is None or _relevance(h) > floor]
    usable, skipped = usable_hits(eligible)
    trace["dropped"] = skipped

    result: Answer | None = None
    if not hits:
        result = _no_answer(NO_HITS_TEXT, {**trace, "reason": "no_hits"})
    elif not eligible:
        best = max(_relevance(h) for h in hits)
        result = _no_answer(BELOW_FLOOR_TEXT.format(floor=floor), {**trace, "reason": "below_floor", "best_score": best})
    elif not usable:
        result = _no_answer(NO_PASSAGE_TEXT, {**trace, "reason": "no_passage"})
    elif generator is None:
        result = _extractive(question, usable, extractive_sources, extractive_sentences, trace)
    if result is not None:
        result.trace["timings_ms"]["total"] = _ms(t0)
        return _replay(result) if stream else result
    assert generator is not None  # without one, the extractive answer returned above

    trace.update(generator=generator.name, max_tokens=max_tokens, temperature=temperature)
    try:
        packed = _pack(question, usable, generator, max_tokens, template_reserve, max_sources, system_prompt)
    except GenerationError as exc:
        if stream:
            return iter([_error_event(exc)])
        raise
    trace.update(
        context_size=generator.context_size,
        budget=packed.budget,
        prompt_tokens=packed.prompt_tokens,
        prompt_tokens_exact=packed.exact,
        template_reserve=0 if packed.exact else template_reserve,
        sources=len(packed.sources),
        truncated=packed.truncated,
        token_counting=getattr(generator, "token_counting", None) or "model tokenizer",
    )
    trace["dropped"] = skipped + packed.dropped
    trace["timings_ms"]["pack"] = _ms(t0)
    if stream:
        return _stream_events(generator, packed, max_tokens, temperature, trace, t0, cancel)
    pieces: list[str] = []
    for _ in _generate(generator, packed, max_tokens, temperature, trace, pieces, cancel):
        pass
    result = _finish("".join(pieces), packed, generator, trace)
    result.trace["timings_ms"]["total"] = _ms(t0)
    return result


def _stream_events(
    generator: Generator,
    packed: PackedContext,
    max_tokens: int,
    temperature: float,
    trace: dict[str, Any],
    t0: float,
    cancel: threading.Event | None = None,
) -> Iterator[AnswerEvent]:
    pieces: list[str] = []
    gen = _generate(generator, packed, max_tokens, temperature, trace, pieces, cancel)
    try:
        for piece in gen:
            yield AnswerEvent("token", {"text": piece})
    except GenerationError as exc:
        yield _error_event(exc, "".join(pieces))
        return
    finally:
        gen.close()  # closed now, not when garbage-collected: a stream left early releases the model at once
    result = _finish("".join(pieces), packed, generator, trace)
    result.trace["timings_ms"]["total"] = _ms(t0)
    yield _citations_event(result)
    yield AnswerEvent("done", result.to_dict())

