"""Prompt assembly and context packing, with a whitespace tokenizer whose counts can be worked out by hand.

(The same packing with the real llama.cpp tokenizer is tested in test_answer_llamacpp.py.)
"""

from __future__ import annotations

import re

import pytest

from core.errors import UserError
from rag.answer.prompt import (
    SYSTEM_PROMPT,
    TRUNCATION_MARK,
    build_messages,
    count_messages,
    pack_context,
    source_block,
)
from rag.records import Hit, Passage


def words(text: str) -> int:
    """One token per whitespace-separated word."""
    return len(text.split())


def _hit(doc_id: str, n_words: int, rank: int, *, page: int | None = None, title: str = "", start: int = 100) -> Hit:
    text = " ".join(f"{doc_id}w{i}" for i in range(n_words))
    passage = Passage(doc_id=doc_id, ordinal=rank, start=start, end=start + len(text), text=text, page=page)
    return Hit(doc_id=doc_id, score=10.0 - rank, rank=rank, title=title or doc_id.upper(), passage=passage)


Q = "What boils water?"


def _base() -> int:
    return count_messages(build_messages(Q, []), words)


def test_messages_hold_instructions_numbered_sources_and_question() -> None:
    hits = [_hit("a", 3, 1, page=4, title="Boiling"), _hit("b", 2, 2)]
    packed = pack_context(Q, hits, words, 10_000, max_tokens=100)
    system, user = packed.messages
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "only the numbered sources" in system["content"] and "[1]" in system["content"]
    assert "don't know" in system["content"]
    assert user["role"] == "user"
    assert user["content"] == (
        "Sources:\n\n[1] Boiling (page 4)\naw0 aw1 aw2\n\n[2] B\nbw0 bw1\n\nQuestion: What boils water?"
    )
    assert [s.number for s in packed.sources] == [1, 2]
    assert packed.dropped == [] and not packed.truncated


def test_packing_keeps_what_fits_truncates_one_and_drops_the_rest() -> None:
    # a block costs its header ("[k] X", 2 words) + passage words; "[…]" adds 1 to a truncated one
    hits = [_hit("a", 10, 1), _hit("b", 10, 2), _hit("c", 50, 3, page=7), _hit("d", 5, 4)]
    max_tokens = 40
    context = _base() + 12 + 12 + 12 + max_tokens
    packed = pack_context(Q, hits, words, context, max_tokens=max_tokens, template_reserve=0, min_truncated_tokens=8)
    assert [s.doc_id for s in packed.sources] == ["a", "b", "c"]
    assert packed.dropped == [{"doc_id": "d", "rank": 4, "reason": "no_room"}]
    assert packed.truncated
    cut = packed.sources[2]
    assert cut.truncated and cut.page == 7
    # 12 tokens = 4 (header "[3] C (page 7)") + 7 words + 1 ("[…]")
    shown = " ".join(f"cw{i}" for i in range(7))
    assert cut.snippet == shown
    assert (cut.start, cut.end) == (100, 100 + len(shown))
    assert packed.messages[1]["content"].count(TRUNCATION_MARK) == 1
    assert packed.prompt_tokens == _base() + 36 == packed.budget == context - max_tokens


def test_a_passage_too_long_for_the_room_left_is_dropped_and_shorter_ones_still_fit() -> None:
    hits = [_hit("a", 10, 1), _hit("c", 50, 2), _hit("d", 5, 3)]
    context = _base() + 12 + 12 + 40
    packed = pack_context(Q, hits, words, context, max_tokens=40, template_reserve=0, min_truncated_tokens=20)
    assert [(s.number, s.doc_id) for s in packed.sources] == [(1, "a"), (2, "d")]
    assert packed.dropped == [{"doc_id": "c", "rank": 2, "reason": "no_room"}]
    assert not packed.truncated
    assert packed.prompt_tokens == _base() + 12 + 7


def test_template_reserve_and_max_tokens_are_kept_free() -> None:
    hits = [_hit("a", 10, 1), _hit("b", 10, 2)]
    context = _base() + 24 + 30 + 50
    assert len(pack_context(Q, hits, words, context, max_tokens=50, template_reserve=30).sources) == 2
    tight = pack_context(Q, hits, words, context - 1, max_tokens=50, template_reserve=30, min_truncated_tokens=100)
    assert [s.doc_id for s in tight.sources] == ["a"]
    assert tight.prompt_tokens == _base() + 12 + 30 <= tight.budget


def test_hits_without_passage_and_repeated_passages_are_dropped_without_using_a_number() -> None:
    no_text = Hit(doc_id="x", score=9.0, rank=1)
    a = _hit("a", 3, 2)
    packed = pack_context(Q, [no_text, a, a], words, 10_000, max_tokens=10)
    assert [(s.number, s.doc_id) for s in packed.sources] == [(1, "a")]
    assert packed.dropped == [
        {"doc_id": "x", "rank": 1, "reason": "no_passage"},
        {"doc_id": "a", "rank": 2, "reason": "duplicate"},
    ]


def test_max_sources_caps_the_sources_even_when_more_fit() -> None:
    hits = [_hit(d, 3, r) for r, d in enumerate("abcd", start=1)]
    packed = pack_context(Q, hits, words, 10_000, max_tokens=10, max_sources=2)
    assert [s.doc_id for s in packed.sources] == ["a", "b"]
    assert [(d["doc_id"], d["reason"]) for d in packed.dropped] == [("c", "max_sources"), ("d", "max_sources")]
    with pytest.raises(ValueError, match="max_sources"):
        pack_context(Q, hits, words, 10_000, max_tokens=10, max_sources=0)


def test_no_room_for_any_source_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="lower max_tokens"):
        pack_context(Q, [_hit("a", 30, 1)], words, _base() + 100, max_tokens=90, template_reserve=0)


def test_empty_question_is_rejected() -> None:
    with pytest.raises(ValueError, match="question is empty"):
        pack_context("  ", [_hit("a", 3, 1)], words, 1000, max_tokens=10)


def test_exact_prompt_counter_replaces_the_reserve() -> None:
    hits = [_hit("a", 10, 1), _hit("b", 10, 2)]

    def templated(messages) -> int:  # role markers cost 3 tokens per message, known exactly
        return count_messages(messages, words) + 3 * len(messages)

    context = _base() + 6 + 24 + 20
    # a reserve this large would leave no room at all; the exact counter makes it irrelevant
    packed = pack_context(Q, hits, words, context, max_tokens=20, template_reserve=10_000, count_prompt=templated)
    assert packed.exact
    assert len(packed.sources) == 2
    assert packed.prompt_tokens == _base() + 6 + 24 == packed.budget


def test_counter_that_declines_falls_back_to_the_reserve() -> None:
    packed = pack_context(Q, [_hit("a", 4, 1)], words, 1000, max_tokens=10, template_reserve=7, count_prompt=lambda m: None)
    assert not packed.exact
    assert packed.prompt_tokens == _base() + 6 + 7


def test_whole_prompt_recount_drops_trailing_sources_when_blocks_do_not_add_up() -> None:
    # The templated count charges 4 extra tokens per source header that per-block counts do not see,
    # so greedy packing overshoots and the final whole-prompt check must drop the last source.
    def templated(messages) -> int:
        return count_messages(messages, words) + 4 * len(re.findall(r"^\[\d+\] ", messages[1]["content"], re.M))

    hits = [_hit("a", 10, 1), _hit("b", 10, 2), _hit("c", 10, 3)]
    context = _base() + 36 + 10
    packed = pack_context(Q, hits, words, context, max_tokens=10, template_reserve=0, count_prompt=templated)
    assert [s.doc_id for s in packed.sources] == ["a", "b"]
    assert packed.dropped == [{"doc_id": "c", "rank": 3, "reason": "no_room"}]
    assert packed.prompt_tokens == _base() + 24 + 8 <= packed.budget


def test_source_block_marks_truncation() -> None:
    hit = _hit("a", 2, 1, title="Title", page=2)
    assert source_block(3, hit, "some text", truncated=True) == "[3] Title (page 2)\nsome text […]"
