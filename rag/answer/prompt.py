"""Grounded prompt: number the hits' passages [1]..[n] and pack them into the model's context window.

Budget, in the model's own tokens (``count_tokens``)::

    context_size >= max_tokens (the answer) + template_reserve (chat-template role markers)
                    + tokens(system message) + tokens(user message: question, framing, numbered sources)

or, when the generator can count its whole templated prompt (``count_prompt``), exactly
``context_size >= max_tokens + tokens(templated prompt)``.

Hits are taken in rank order, after duplicates are removed and neighbouring passages of one document merged
(``rag.answer.sources``: several passages of one document are kept when they are among the best). A passage that fits whole is kept; one that does not is cut at a word
boundary and marked ``[…]`` when at least ``min_truncated_tokens`` of room remain (that fills the window
and ends packing); otherwise it is dropped and later, shorter passages are still tried. Hits without a
passage and repeated passages are dropped. Every drop is recorded with its reason. The assembled prompt is
counted once more as a whole (tokenization is not exactly additive at block joins) and trailing sources
are dropped until it fits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import UserError
from rag.answer.base import Message
from rag.answer.records import Citation, make_snippet
from rag.answer.sources import passage_ordinals, select_sources
from rag.records import Hit

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources given by the user. "
    "After each sentence, cite the sources that support it by number in square brackets, like [1] or [2, 3]. "
    "Cite only the numbers of the given sources. "
    "If the sources do not contain the answer, say that you don't know. Do not use outside knowledge."
)
TRUNCATION_MARK = " […]"
SOURCE_SEPARATOR = "\n\n"


@dataclass(slots=True)
class PackedContext:
    """What goes to the model and what was left out.

    ``messages``: system + user chat messages; ``sources``: the numbered passages in the prompt;
    ``dropped``: ``{"doc_id", "rank", "reason"}`` per hit left out (reason ``no_passage``, ``duplicate``,
    ``no_room``, ``max_sources``); ``prompt_tokens``: counted tokens of both messages plus ``template_reserve``;
    ``budget``: ``context_size - max_tokens``, which ``prompt_tokens`` never exceeds; ``exact``: True when
    ``prompt_tokens`` was counted on the fully templated prompt (``count_prompt``), not estimated with a reserve.
    """

    messages: list[Message]
    sources: list[Citation]
    dropped: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    prompt_tokens: int = 0
    budget: int = 0
    exact: bool = False


def source_header(number: int, hit: Hit) -> str:
    """The line that introduces source ``number``: its number, title (or doc id) and page.

    >>> from rag.records import Passage
    >>> source_header(2, Hit("d7", 1.0, 1, title="Vitamin D", passage=Passage("d7", 0, 0, 4, "text", page=3)))
    '[2] Vitamin D (page 3)'
    >>> source_header(1, Hit("d7", 1.0, 1))
    '[1] d7'
    """
    label = hit.title.strip() or hit.doc_id
    page = hit.passage.page if hit.passage is not None else None
    return f"[{number}] {label}" + (f" (page {page})" if page is not None else "")


def source_block(number: int, hit: Hit, text: str, truncated: bool = False) -> str:
    """Header line, then the passage text (marked ``[…]`` when cut)."""
    return source_header(number, hit) + "\n" + text.strip() + (TRUNCATION_MARK if truncated else "")


def build_messages(question: str, blocks: Sequence[str], system: str = SYSTEM_PROMPT) -> list[Message]:
    """System instructions, then a user message with the numbered sources and the question.

    >>> build_messages("Why?", ["[1] T\\nA."])[1]["content"]
    'Sources:\\n\\n[1] T\\nA.\\n\\nQuestion: Why?'
    """
    user = "Sources:" + SOURCE_SEPARATOR + SOURCE_SEPARATOR.join(blocks) + SOURCE_SEPARATOR + f"Question: {question.strip()}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def count_messages(messages: Sequence[Message], count_tokens: Callable[[str], int]) -> int:
    """Tokens of the messages' contents (role markers are covered by ``template_reserve``)."""
    return sum(count_tokens(m["content"]) for m in messages)


def make_citation(number: int, hit: Hit, shown: str, truncated: bool = False) -> Citation:
    """The citation for source ``number``: ``shown`` is the passage text as the model saw it."""
    p = hit.passage
    if p is None:
        raise ValueError(f"hit {hit.doc_id!r} has no passage to cite")
    lead = len(p.text) - len(p.text.lstrip())  # shown text is stripped
    end = p.start + lead + len(shown) if truncated else p.end
    return Citation(
        number=number,
        doc_id=hit.doc_id,
        title=hit.title,
        passage_ordinal=p.ordinal,
        page=p.page,
        snippet=make_snippet(shown),
        start=p.start,
        end=end,
        truncated=truncated,
        passage_ordinals=passage_ordinals(p),
    )


def usable_hits(hits: Sequence[Hit]) -> tuple[list[Hit], list[dict[str, Any]]]:
    """Hits that have a non-empty passage, duplicates removed and neighbouring passages of one document merged
    (``rag.answer.sources``); and the drops."""
    return select_sources(hits)


def _word_ends(text: str) -> list[int]:
    return [m.end() for m in re.finditer(r"\S+", text)]


def truncate_to_fit(
    number: int, hit: Hit, room: int, count_tokens: Callable[[str], int]
) -> tuple[str, int] | None:
    """Longest word-boundary prefix of the passage whose marked block costs at most ``room`` tokens.

    Returns ``(prefix, block_tokens)``, or None when not even one word fits. Binary search: about
    ``log2(words)`` calls of ``count_tokens``.
    """
    text = hit.passage.text.strip()  # type: ignore[union-attr]
    ends = _word_ends(text)
    best: tuple[str, int] | None = None
    lo, hi = 1, len(ends)
    while lo <= hi:
        mid = (lo + hi) // 2
        prefix = text[: ends[mid - 1]]
        cost = count_tokens(SOURCE_SEPARATOR + source_block(number, hit, prefix, truncated=True))
        if cost <= room:
            best = (prefix, cost)
            lo = mid + 1
        else:
            hi = mid - 1
    return best


def pack_context(
    question: str,
    hits: Sequence[Hit],
    count_tokens: Callable[[str], int],
    context_size: int,
    *,
    max_tokens: int,
    template_reserve: int = 32,
    min_truncated_tokens: int = 24,
    max_sources: int | None = None,
    system: str = SYSTEM_PROMPT,
    count_prompt: Callable[[Sequence[Message]], int | None] | None = None,
) -> PackedContext:
    """Number the hits' passages and keep those that fit ``context_size`` (see the module docstring).

    ``count_prompt(messages)``, when given and not None for these messages, counts the whole prompt after
    the chat template exactly (``LlamaCppGenerator.count_prompt_tokens``); then ``template_reserve`` is not
    needed and the budget check is exact. Otherwise contents are counted and ``template_reserve`` added.

    ``max_sources``: keep at most this many sources even when more would fit (prompt processing dominates
    time to first token on CPU); the rest are dropped with reason ``max_sources``.

    Raises UserError when not a single source fits (not even cut to ``min_truncated_tokens``); the message
    says what to lower.
    """
    if not question.strip():
        raise ValueError("question is empty; pass the user's question text")
    if max_sources is not None and max_sources < 1:
        raise ValueError(f"max_sources must be >= 1 or None, got {max_sources}")
    budget = context_size - max_tokens
    candidates, dropped = usable_hits(hits)

    def total_tokens(messages: Sequence[Message]) -> tuple[int, bool]:
        exact = count_prompt(messages) if count_prompt is not None else None
        if exact is not None:
            return exact, True
        return count_messages(messages, count_tokens) + template_reserve, False

    base, _ = total_tokens(build_messages(question, [], system))

    kept: list[tuple[Hit, str, bool]] = []
    used = base
    full = False
    for hit in candidates:
        if max_sources is not None and len(kept) >= max_sources:
            dropped.append({"doc_id": hit.doc_id, "rank": hit.rank, "reason": "max_sources"})
            continue
        number = len(kept) + 1
        text = hit.passage.text.strip()  # type: ignore[union-attr]
        if not full:
            cost = count_tokens(SOURCE_SEPARATOR + source_block(number, hit, text))
            if used + cost <= budget:
                kept.append((hit, text, False))
                used += cost
                continue
            room = budget - used
            if room >= min_truncated_tokens:
                cut = truncate_to_fit(number, hit, room, count_tokens)
                if cut is not None:
                    kept.append((hit, cut[0], True))
                    used += cut[1]
                    full = True
                    continue
        dropped.append({"doc_id": hit.doc_id, "rank": hit.rank, "reason": "no_room"})

    while True:
        blocks = [source_block(i + 1, h, t, tr) for i, (h, t, tr) in enumerate(kept)]
        messages = build_messages(question, blocks, system)
        total, exact = total_tokens(messages)
        if total <= budget or not kept:
            break
        h, _, _ = kept.pop()
        dropped.append({"doc_id": h.doc_id, "rank": h.rank, "reason": "no_room"})

    if candidates and not kept:
        raise UserError(
            f"no room for any source: the instructions and question take {base} tokens (chat template included), "
            f"max_tokens={max_tokens} is kept for the answer, and the context holds {context_size}, leaving "
            f"{budget - base} tokens; lower max_tokens, shorten the question or use a larger context (n_ctx)"
        )
    sources = [make_citation(i + 1, h, t, tr) for i, (h, t, tr) in enumerate(kept)]
    return PackedContext(
        messages=messages,
        sources=sources,
        dropped=dropped,
        truncated=any(tr for _, _, tr in kept),
        prompt_tokens=total,
        budget=budget,
        exact=exact,
    )
