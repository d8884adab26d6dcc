"""In-process llama.cpp generator on the tiny random GGUF (real tokenizer, real sampling, gibberish text).

The output text is random, so these tests check plumbing: token counts, exact prompt packing under a
256-token context, streaming, errors, and the whole ``answer()`` path.
"""

from __future__ import annotations

import sys
import threading

import pytest

pytest.importorskip("llama_cpp", reason='llama-cpp-python is not installed: pip install "latte[llm]"')

from tiny_gguf import build_tiny_gguf  # noqa: E402

from rag.answer import LlamaCppGenerator, answer  # noqa: E402
from rag.answer.citations import check_citations  # noqa: E402
from rag.answer.prompt import build_messages, pack_context, source_block  # noqa: E402
from rag.answer.records import GenerationError  # noqa: E402
from rag.records import Hit, Passage  # noqa: E402

FOX = "The quick brown fox jumps over the lazy dog near the river bank."
VITAMIN = "Vitamin D deficiency is associated with a higher risk of bone fractures in older adults."
Q = "What does the fox do?"


def _hit(doc_id: str, text: str, rank: int, page: int | None = None) -> Hit:
    return Hit(
        doc_id=doc_id,
        score=1.0 / rank,
        rank=rank,
        title=f"Doc {doc_id}",
        passage=Passage(doc_id=doc_id, ordinal=0, start=0, end=len(text), text=text, page=page),
    )


def test_count_tokens_uses_the_models_own_bpe_vocabulary(llama_gen: LlamaCppGenerator) -> None:
    n = llama_gen.count_tokens(FOX)
    assert n == len(llama_gen._llama.tokenize(FOX.encode(), add_bos=False, special=False))
    assert 0 < n < len(FOX) / 2  # merges learned on this sentence make it short
    assert llama_gen.count_tokens("zqxj wvvk") > llama_gen.count_tokens("the the")  # unseen text costs more
    assert llama_gen.count_tokens("") == 0
    assert llama_gen.context_size == 256


def test_templated_prompt_count_equals_what_llama_cpp_feeds_the_model(llama_gen: LlamaCppGenerator) -> None:
    messages = build_messages(Q, [source_block(1, _hit("a", FOX, 1), FOX)])
    counted = llama_gen.count_prompt_tokens(messages)
    usage = llama_gen._llama.create_chat_completion(messages=messages, max_tokens=1)["usage"]
    assert counted == usage["prompt_tokens"]
    contents = sum(llama_gen.count_tokens(m["content"]) for m in messages)
    assert counted > contents  # the template's role markers are included


def test_packing_under_a_256_token_context_with_the_real_tokenizer(llama_gen: LlamaCppGenerator) -> None:
    hits = [
        _hit("a", FOX, 1, page=2),
        _hit("b", " ".join([VITAMIN] * 6), 2),  # far too long: cut to fit
        _hit("c", FOX, 3),  # no room left
    ]
    max_tokens = 16
    packed = pack_context(
        Q, hits, llama_gen.count_tokens, llama_gen.context_size, max_tokens=max_tokens,
        count_prompt=llama_gen.count_prompt_tokens, template_reserve=10_000,
    )  # fmt: skip
    assert packed.exact and packed.budget == 256 - max_tokens
    assert [(s.number, s.doc_id, s.truncated) for s in packed.sources] == [(1, "a", False), (2, "b", True)]
    assert packed.sources[0].page == 2
    assert packed.dropped == [{"doc_id": "c", "rank": 3, "reason": "no_room"}]
    assert "[…]" in packed.messages[1]["content"]
    # the count is the model's real prompt length, within budget, and the answer still fits the window
    usage = llama_gen._llama.create_chat_completion(messages=packed.messages, max_tokens=1)["usage"]
    assert usage["prompt_tokens"] == packed.prompt_tokens <= packed.budget
    # the cut is maximal: one more word would not fit
    shown = packed.messages[1]["content"].split("[2] Doc b\n", 1)[1].split(" […]")[0].split()
    all_words = hits[1].passage.text.split()
    assert shown == all_words[: len(shown)]
    longer = " ".join(all_words[: len(shown) + 1])
    blocks = [source_block(1, hits[0], FOX), source_block(2, hits[1], longer, truncated=True)]
    assert llama_gen.count_prompt_tokens(build_messages(Q, blocks)) > packed.budget


def test_stream_yields_text_pieces_and_respects_max_tokens(llama_gen: LlamaCppGenerator) -> None:
    pieces = list(llama_gen.stream([{"role": "user", "content": "Hello"}], max_tokens=12, temperature=0.0))
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert len(pieces) <= 12


def test_raw_prompt_uses_plain_completion(llama_gen: LlamaCppGenerator) -> None:
    pieces = list(llama_gen.stream(FOX, max_tokens=8, temperature=0.0))
    assert 0 < len(pieces) <= 8


def test_a_model_stuck_on_utf8_lead_bytes_still_stops_at_max_tokens(tmp_path) -> None:
    # This model greedily emits the lone byte 0xE1 (BPE spelling "\u00e1") forever. llama-cpp-python alone
    # skips its max_tokens check while the text ends in an incomplete UTF-8 sequence and runs until the
    # context overflows ("llama_decode returned 1"); the generator's guard ends it at max_tokens.
    path = build_tiny_gguf(tmp_path / "lead_byte.gguf", always_token="\u00e1")
    gen = LlamaCppGenerator(path, n_ctx=256, n_threads=1)
    try:
        for prompt in ["Hello there", [{"role": "user", "content": "Hello there"}]]:
            n_prompt = (
                len(gen._llama.tokenize(prompt.encode(), add_bos=True, special=False))
                if isinstance(prompt, str)
                else gen.count_prompt_tokens(prompt)
            )
            pieces = list(gen.stream(prompt, max_tokens=20, temperature=0.0))
            assert "".join(pieces) == ""  # lone lead bytes never form text
            assert gen._llama.n_tokens == n_prompt + 20
    finally:
        gen.close()


def test_cancel_stops_the_model_at_the_next_token_even_when_no_text_comes(tmp_path, set_after) -> None:
    # the lead-byte model's tokens never form text, so the first piece would be asked for through all of
    # max_tokens: cancel is checked at every sampled token, not at every piece
    path = build_tiny_gguf(tmp_path / "lead_byte.gguf", always_token="\u00e1")
    gen = LlamaCppGenerator(path, n_ctx=512, n_threads=1)
    try:
        for prompt in ["Hello there", [{"role": "user", "content": "Hello there"}]]:
            n_prompt = (
                len(gen._llama.tokenize(prompt.encode(), add_bos=True, special=False))
                if isinstance(prompt, str)
                else gen.count_prompt_tokens(prompt)
            )
            cancel = set_after(5)
            assert list(gen.stream(prompt, max_tokens=400, temperature=0.0, cancel=cancel)) == []
            assert gen._llama.n_tokens == n_prompt + 5  # five tokens sampled, then end-of-sequence forced
            assert cancel.checks == 6
    finally:
        gen.close()


def test_answer_stream_passes_cancel_to_the_model(llama_gen: LlamaCppGenerator) -> None:
    hits = [_hit("fox", FOX, 1)]
    uncancelled = answer(Q, hits, llama_gen, max_tokens=30, temperature=0.0)
    assert uncancelled.trace["pieces"] > 3  # else stopping early would prove nothing
    cancel = threading.Event()
    events = answer(Q, hits, llama_gen, stream=True, max_tokens=30, temperature=0.0, cancel=cancel)
    first = next(events)
    assert first.type == "token"
    cancel.set()  # the reader left
    rest = list(events)
    assert [e.type for e in rest][-2:] == ["citations", "done"]
    assert rest[-1].data["trace"]["pieces"] <= 3  # the piece in hand, at most one more from the token sampled before
    assert rest[-1].data["trace"]["max_tokens"] == 30


def test_prompt_longer_than_the_context_raises_generation_error(llama_gen: LlamaCppGenerator) -> None:
    with pytest.raises(GenerationError, match="context window"):
        list(llama_gen.stream(FOX * 40, max_tokens=8))


def test_bad_arguments_fail_before_generation(llama_gen: LlamaCppGenerator) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        llama_gen.stream("x", max_tokens=0)
    with pytest.raises(ValueError, match="role"):
        llama_gen.stream([{"content": "no role"}])  # type: ignore[list-item]


def test_a_second_stream_waits_until_the_first_is_closed(llama_gen: LlamaCppGenerator) -> None:
    first = llama_gen.stream(FOX, max_tokens=50)
    next(first)  # holds the model
    done = threading.Event()

    def second() -> None:
        list(llama_gen.stream(FOX, max_tokens=2))
        done.set()

    t = threading.Thread(target=second, daemon=True)
    t.start()
    assert not done.wait(0.3)
    first.close()
    assert done.wait(10)
    t.join(10)


def test_missing_or_invalid_model_files_are_clear_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="GGUF model file not found"):
        LlamaCppGenerator(tmp_path / "nope.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(ValueError, match="valid GGUF"):
        LlamaCppGenerator(junk)


def test_missing_llama_cpp_names_the_extra(monkeypatch, tiny_gguf_path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "latte\[llm\]"'):
        LlamaCppGenerator(tiny_gguf_path)


def test_answer_end_to_end_in_process(llama_gen: LlamaCppGenerator) -> None:
    hits = [_hit("a", FOX, 1, page=3), _hit("b", VITAMIN, 2)]
    result = answer(Q, hits, llama_gen, max_tokens=16, temperature=0.0)
    assert result.generator == "llama.cpp:tiny.gguf"
    assert not result.no_answer
    assert [s.doc_id for s in result.sources] == ["a", "b"]
    assert {c.number for c in result.citations} <= {1, 2}
    t = result.trace
    assert t["prompt_tokens_exact"] and t["prompt_tokens"] <= t["budget"] == 256 - 16
    assert 0 < t["pieces"] <= 16
    assert t["timings_ms"]["first_token"] <= t["timings_ms"]["generate"] <= t["timings_ms"]["total"]


def test_answer_stream_sends_tokens_then_citations_then_done(llama_gen: LlamaCppGenerator) -> None:
    hits = [_hit("a", FOX, 1), _hit("b", VITAMIN, 2)]
    events = list(answer(Q, hits, llama_gen, max_tokens=16, temperature=0.0, stream=True))
    types = [e.type for e in events]
    assert types[-2:] == ["citations", "done"]
    assert set(types[:-2]) == {"token"} and len(types) > 2
    raw = "".join(e.data["text"] for e in events[:-2])
    checked = check_citations(raw, 2)
    assert events[-2].data["text"] == checked.text == events[-1].data["text"]
    assert events[-2].data["removed_markers"] == checked.removed
    assert [s["doc_id"] for s in events[-1].data["sources"]] == ["a", "b"]


def test_forced_chat_format_falls_back_to_the_reserve(tiny_gguf_path) -> None:
    gen = LlamaCppGenerator(tiny_gguf_path, n_ctx=512, n_threads=1, chat_format="chatml")
    try:
        assert gen.count_prompt_tokens([{"role": "user", "content": "hi"}]) is None
        result = answer(Q, [_hit("a", FOX, 1)], gen, max_tokens=8, template_reserve=40)
        assert not result.trace["prompt_tokens_exact"]
        assert result.trace["template_reserve"] == 40
        assert result.trace["prompt_tokens"] <= 512 - 8
    finally:
        gen.close()

