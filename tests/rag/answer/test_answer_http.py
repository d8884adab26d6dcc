"""OpenAI-compatible HTTP generator: a real ``llama_cpp.server`` serving the tiny GGUF, and small socket
servers that misbehave on purpose (refuse, never connect, never answer, die mid-stream).

Every call that could hang runs under ``run_bounded`` (fails the test instead of hanging).
"""

from __future__ import annotations

import pytest
from answer_sse_servers import FullBacklogServer, ScriptedSSEServer, SilentServer, closed_port
from llama_server_proc import start_llama_server, stop_llama_server
from tiny_gguf import build_tiny_gguf

from rag.answer import OpenAIHTTPGenerator, answer
from rag.answer.openai_http import DEFAULT_CONTEXT_SIZE, estimate_tokens, iter_sse_data
from rag.answer.records import GenerationError
from rag.records import Hit, Passage

FOX = "The quick brown fox jumps over the lazy dog near the river bank."
MESSAGES = [{"role": "user", "content": "Hello"}]


def _hit(doc_id: str, text: str, rank: int) -> Hit:
    return Hit(doc_id, 1.0 / rank, rank, title=doc_id, passage=Passage(doc_id, 0, 0, len(text), text))


# --- against the real llama.cpp server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def http_gen(llama_server):
    gen = OpenAIHTTPGenerator(llama_server["url"] + "/v1", llama_server["model"], timeout=30, context_size=llama_server["n_ctx"])
    yield gen
    gen.close()


def test_server_token_counts_equal_the_in_process_tokenizer(http_gen, llama_gen) -> None:
    for text in [FOX, "zqxj wvvk [1]", "Vitamin D and bones."]:
        assert http_gen.count_tokens(text) == llama_gen.count_tokens(text)
    assert http_gen.token_counting == "server:/extras/tokenize/count"
    assert http_gen.count_tokens("") == 0


def test_chat_stream_from_the_real_server(http_gen, run_bounded) -> None:
    pieces, err, _ = run_bounded(lambda: list(http_gen.stream(MESSAGES, max_tokens=10, temperature=0.0)), 60)
    assert err is None
    assert pieces and all(isinstance(p, str) and p for p in pieces) and len(pieces) <= 10


def test_raw_prompt_goes_to_completions(http_gen, run_bounded) -> None:
    pieces, err, _ = run_bounded(lambda: list(http_gen.stream(FOX, max_tokens=6, temperature=0.0)), 60)
    assert err is None and 0 < len(pieces) <= 6


def test_answer_over_http_streams_tokens_then_citations_then_done(http_gen, run_bounded) -> None:
    hits = [_hit("a", FOX, 1), _hit("b", "Vitamin D deficiency raises fracture risk.", 2)]
    events, err, _ = run_bounded(
        lambda: list(answer("What does the fox do?", hits, http_gen, max_tokens=12, stream=True)), 60
    )
    assert err is None
    types = [e.type for e in events]
    assert types[-2:] == ["citations", "done"] and set(types[:-2]) == {"token"}
    done = events[-1].data
    assert done["generator"].startswith("openai-http:tiny@")
    assert done["trace"]["token_counting"] == "server:/extras/tokenize/count"
    assert done["trace"]["prompt_tokens"] <= done["trace"]["budget"] == 512 - 12
    assert [s["doc_id"] for s in done["sources"]] == ["a", "b"]


def test_context_size_falls_back_to_the_default_when_the_server_does_not_say(llama_server) -> None:
    with OpenAIHTTPGenerator(llama_server["url"], llama_server["model"]) as gen:
        assert gen.context_size == DEFAULT_CONTEXT_SIZE
        assert gen.context_size_source == "default"


def test_forced_estimate_never_asks_the_server() -> None:
    gen = OpenAIHTTPGenerator(f"http://127.0.0.1:{closed_port()}", "m", token_counting="estimate", context_size=1024)
    assert gen.count_tokens("abcdefghi") == estimate_tokens("abcdefghi") == 3
    assert gen.token_counting == "estimate:chars/4"
    gen.close()


def test_killed_server_mid_answer_raises_generation_error(run_bounded, tmp_path) -> None:
    """A second real server is killed while the client waits on its stream."""
    pytest.importorskip("llama_cpp", reason='llama-cpp-python is not installed: pip install "latte[llm]"')
    pytest.importorskip("sse_starlette", reason='the server needs its extra: pip install "llama-cpp-python[server]"')
    endless = build_tiny_gguf(tmp_path / "endless.gguf", no_eos=True, ascii_only=True)  # streams until killed
    proc, url = start_llama_server(endless, n_ctx=4096, log_path=tmp_path / "server.log")
    try:
        gen = OpenAIHTTPGenerator(url, "tiny", timeout=10, context_size=4096)
        got: list[str] = []

        def consume() -> None:
            for piece in gen.stream(FOX, max_tokens=3500, temperature=1.0):
                got.append(piece)
                if len(got) == 3:
                    proc.kill()

        _, err, elapsed = run_bounded(consume, 30)
        assert isinstance(err, GenerationError)
        assert "closed the connection" in str(err) or "ended before the answer was finished" in str(err)
        assert len(got) >= 3 and elapsed < 15
    finally:
        stop_llama_server(proc)


# --- against misbehaving servers -----------------------------------------------------------------------


def test_closed_port_fails_fast_with_a_hint(run_bounded) -> None:
    gen = OpenAIHTTPGenerator(f"http://127.0.0.1:{closed_port()}", "m", context_size=1024)
    _, err, elapsed = run_bounded(lambda: list(gen.stream(MESSAGES)), 10)
    assert isinstance(err, GenerationError)
    assert "could not connect" in str(err) and "llama_cpp.server" in str(err)
    assert elapsed < 5


def test_connect_timeout_is_enforced(run_bounded) -> None:
    with FullBacklogServer() as server:
        gen = OpenAIHTTPGenerator(server.url, "m", connect_timeout=0.5, context_size=1024)
        _, err, elapsed = run_bounded(lambda: list(gen.stream(MESSAGES)), 10)
    assert isinstance(err, GenerationError)
    assert "within 0.5s" in str(err)
    assert 0.4 < elapsed < 5


def test_read_timeout_when_the_server_never_answers(run_bounded) -> None:
    with SilentServer() as server:
        gen = OpenAIHTTPGenerator(server.url, "m", timeout=0.5, context_size=1024)
        _, err, elapsed = run_bounded(lambda: list(gen.stream(MESSAGES)), 10)
        _, count_err, _ = run_bounded(lambda: gen.count_tokens("hello"), 10)
    assert isinstance(err, GenerationError) and "read timeout" in str(err) and "0.5s" in str(err)
    assert 0.4 < elapsed < 5
    assert isinstance(count_err, GenerationError) and "read timeout" in str(count_err)


@pytest.mark.parametrize("ending, message", [("cut", "closed the connection"), ("close", "ended before the answer")])
def test_server_dying_mid_stream_raises_after_the_pieces_it_sent(ending: str, message: str, run_bounded) -> None:
    with ScriptedSSEServer(["Hello", " world"], ending=ending) as server:
        gen = OpenAIHTTPGenerator(server.url, "m", timeout=5, context_size=1024)
        got: list[str] = []

        def consume() -> None:
            for piece in gen.stream(MESSAGES):
                got.append(piece)

        _, err, elapsed = run_bounded(consume, 10)
    assert got == ["Hello", " world"]
    assert isinstance(err, GenerationError) and message in str(err)
    assert elapsed < 5


def test_cancel_closes_the_stream_at_the_next_event(run_bounded, set_after) -> None:
    # events without text (empty deltas) still count: the check runs at each one, not at each piece
    with ScriptedSSEServer(["Hello", "", "", "", " world"]) as server:
        gen = OpenAIHTTPGenerator(server.url, "m", timeout=5, context_size=1024)
        cancel = set_after(2)
        got, err, _ = run_bounded(lambda: list(gen.stream(MESSAGES, cancel=cancel)), 10)
    assert err is None and got == ["Hello"]
    assert cancel.checks == 3


def test_http_error_status_is_quoted(run_bounded) -> None:
    with ScriptedSSEServer([], status=400) as server:
        gen = OpenAIHTTPGenerator(server.url, "m", context_size=1024)
        _, err, _ = run_bounded(lambda: list(gen.stream(MESSAGES)), 10)
    assert isinstance(err, GenerationError)
    assert "HTTP 400" in str(err) and "scripted failure" in str(err)


def test_request_carries_model_limits_and_auth(run_bounded) -> None:
    with ScriptedSSEServer(["ok"]) as server:
        gen = OpenAIHTTPGenerator(server.url + "/v1/", "my-model", api_key="k123", context_size=1024)
        pieces, err, _ = run_bounded(lambda: list(gen.stream(MESSAGES, max_tokens=7, temperature=0.3, stop=["\n\n"])), 10)
        assert err is None and pieces == ["ok"]
        sent = server.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["json"] == {
        "model": "my-model", "max_tokens": 7, "temperature": 0.3, "stream": True, "stop": ["\n\n"], "messages": MESSAGES,
    }  # fmt: skip


def test_completions_endpoint_flattens_chat_messages(run_bounded) -> None:
    with ScriptedSSEServer(["ok"]) as server:
        gen = OpenAIHTTPGenerator(server.url, "m", endpoint="completions", context_size=1024)
        pieces, err, _ = run_bounded(lambda: list(gen.stream(MESSAGES)), 10)
        sent = server.requests[-1]
    assert err is None and pieces == ["ok"]
    assert sent["path"] == "/v1/completions" and sent["json"]["prompt"] == "User: Hello\n\nAssistant:"


def test_server_without_tokenizer_endpoints_gets_the_documented_estimate(run_bounded) -> None:
    with ScriptedSSEServer([]) as server:
        gen = OpenAIHTTPGenerator(server.url, "m", context_size=1024)
        n, err, _ = run_bounded(lambda: gen.count_tokens("abcdefgh"), 10)
        paths = [r["path"] for r in server.requests]
    assert err is None and n == 2
    assert gen.token_counting == "estimate:chars/4"
    assert paths == ["/tokenize", "/extras/tokenize/count"]


def test_context_size_is_read_from_llama_cpp_props_or_vllm_models() -> None:
    with ScriptedSSEServer([], routes={"/props": {"default_generation_settings": {"n_ctx": 8192}}}) as server:
        gen = OpenAIHTTPGenerator(server.url, "m")
        assert (gen.context_size, gen.context_size_source) == (8192, "server:/props")
    with ScriptedSSEServer([], routes={"/v1/models": {"data": [{"id": "m", "max_model_len": 32768}]}}) as server:
        gen = OpenAIHTTPGenerator(server.url, "m")
        assert (gen.context_size, gen.context_size_source) == (32768, "server:/v1/models")


def test_tokenize_endpoint_counts_with_the_servers_added_tokens_subtracted() -> None:
    def tokenize(body: dict) -> dict:  # one token per word, plus a BOS like a server that adds one
        return {"tokens": [1] + list(range(len(body["content"].split())))}

    with ScriptedSSEServer([], routes={"/tokenize": tokenize}) as server:
        gen = OpenAIHTTPGenerator(server.url, "m", context_size=1024)
        assert gen.count_tokens("three small words") == 3
        assert gen.token_counting == "server:/tokenize"
        sent = server.requests[-1]["json"]
    assert sent["content"] == sent["prompt"] == "three small words" and sent["add_special"] is False


def test_sse_parser_handles_comments_multiline_data_and_crlf_free_lines() -> None:
    lines = [": ping", "event: message", "data: {\"a\":", "data: 1}", "", "id: 7", "data: [DONE]", ""]
    assert list(iter_sse_data(lines)) == ['{"a":\n1}', "[DONE]"]


def test_bad_configuration_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match="http://"):
        OpenAIHTTPGenerator("localhost:8080", "m")
    with pytest.raises(ValueError, match="endpoint"):
        OpenAIHTTPGenerator("http://x", "m", endpoint="responses")
