"""Generation over HTTP from any OpenAI-compatible local server (llama.cpp server, llama-cpp-python server, vLLM, Ollama).

Streams ``/v1/chat/completions`` (chat messages) or ``/v1/completions`` (a raw prompt, or every prompt with
``endpoint="completions"``) and parses the Server-Sent Events incrementally, line by line, as they arrive.

Never hangs: the connect timeout bounds connecting, and the read timeout applies to *every* read of the
stream, so a server that stops sending raises ``GenerationError`` after ``timeout`` seconds. A stream that
ends without ``[DONE]`` or a ``finish_reason`` (server died, connection cut) raises ``GenerationError`` too.

Token counting, chosen on first use and reported in ``token_counting``:

- ``"server:/tokenize"``: llama.cpp's C++ server (``{"content": ...}``) and vLLM (``{"prompt": ...}``);
- ``"server:/extras/tokenize/count"``: the llama-cpp-python server;
- ``"estimate:chars/4"``: neither endpoint exists (Ollama, hosted APIs): ``ceil(len(text) / 4)``, a common
  rule of thumb for English with BPE vocabularies; ``answer()`` keeps its template reserve on top.

Tokens the server adds to every input (a BOS) are measured once on the empty string and subtracted.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rag.answer.base import Prompt, check_generation_args, check_prompt, flatten_messages
from rag.answer.records import GenerationError

DEFAULT_CONTEXT_SIZE = 2048
_MISSING_ENDPOINT = {404, 405, 501}


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - httpx is a core dependency
        raise ImportError('OpenAIHTTPGenerator needs httpx: pip install "httpx>=0.27"') from exc
    return httpx


def estimate_tokens(text: str) -> int:
    """Rough token count when the server cannot tokenize: one token per 4 characters, rounded up.

    >>> estimate_tokens(""), estimate_tokens("abcd"), estimate_tokens("abcde")
    (0, 1, 2)
    """
    return math.ceil(len(text) / 4)


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` payload of each Server-Sent Event in ``lines`` (one text line each, no line ends).

    Multi-line data is joined with ``\\n``; comments (``:``), ``event:``/``id:``/``retry:`` fields are skipped;
    an event still open when the lines end is yielded (lenient with servers that omit the last blank line).

    >>> list(iter_sse_data(["data: a", "", ": ping", "data: b", "data: c", "", "data: [DONE]"]))
    ['a', 'b\\nc', '[DONE]']
    """
    buf: list[str] = []
    for line in lines:
        if line == "":
            if buf:
                yield "\n".join(buf)
                buf = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            buf.append(value[1:] if value.startswith(" ") else value)
    if buf:
        yield "\n".join(buf)


def chunk_text(chunk: dict[str, Any]) -> tuple[str, str | None]:
    """Text piece and ``finish_reason`` of one streamed chat or completion chunk.

    >>> chunk_text({"choices": [{"delta": {"content": "Hi"}, "finish_reason": None}]})
    ('Hi', None)
    >>> chunk_text({"choices": [{"text": "", "finish_reason": "stop"}]})
    ('', 'stop')
    """
    if "error" in chunk:
        err = chunk["error"]
        raise GenerationError(f"the server reported an error mid-stream: {err.get('message', err) if isinstance(err, dict) else err}")
    choices = chunk.get("choices") or []
    if not choices:
        return "", None
    choice = choices[0]
    delta = choice.get("delta")
    piece = (delta.get("content") if isinstance(delta, dict) else None) or choice.get("text") or ""
    return piece, choice.get("finish_reason")


class OpenAIHTTPGenerator:
    """A model served by an OpenAI-compatible HTTP server.

    ``base_url``: the server root, with or without ``/v1`` (``http://127.0.0.1:8080``); ``model``: the model
    name the server expects; ``timeout``: seconds to wait for *each* read (first token included) before
    giving up; ``connect_timeout``: seconds to connect; ``api_key``: sent as a Bearer token when set;
    ``context_size``: the served context window (None: ask the server — llama.cpp ``/props``, vLLM
    ``/v1/models`` ``max_model_len`` — else ``DEFAULT_CONTEXT_SIZE``; see ``context_size_source``);
    ``endpoint``: ``"chat"`` or ``"completions"`` for chat messages; ``token_counting``: ``"auto"`` or
    ``"estimate"`` (never ask the server).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        timeout: float = 60.0,
        api_key: str | None = None,
        *,
        connect_timeout: float = 5.0,
        context_size: int | None = None,
        endpoint: str = "chat",
        token_counting: str = "auto",
    ) -> None:
        httpx = _import_httpx()
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if endpoint not in ("chat", "completions"):
            raise ValueError(f"endpoint must be 'chat' or 'completions', got {endpoint!r}")
        if token_counting not in ("auto", "estimate"):
            raise ValueError(f"token_counting must be 'auto' or 'estimate', got {token_counting!r}")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeout and connect_timeout must be positive seconds")
        if context_size is not None and context_size < 16:
            raise ValueError(f"context_size must be at least 16 tokens, got {context_size}")
        root = base_url.rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        self.base_url = root
        self.model = model
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.name = f"openai-http:{model}@{root}"
        self.token_counting: str | None = "estimate:chars/4" if token_counting == "estimate" else None
        self._count_offset = 0
        self._context_size = context_size
        self.context_size_source: str | None = "given" if context_size is not None else None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=root,
            headers=headers,
            timeout=httpx.Timeout(connect=self.connect_timeout, read=self.timeout, write=self.timeout, pool=self.connect_timeout),
        )
        self._httpx = httpx

    # --- errors -------------------------------------------------------------------------------------------

    def _error(self, exc: Exception, url: str, during: str) -> GenerationError:
        h = self._httpx
        if isinstance(exc, h.ConnectTimeout):
            msg = f"could not connect to {url} within {self.connect_timeout:g}s while {during}; is the server up and reachable?"
        elif isinstance(exc, h.ConnectError):
            msg = (
                f"could not connect to {url} while {during} ({exc}); is the server running? "
                "e.g. python -m llama_cpp.server --model FILE.gguf --port 8080"
            )
        elif isinstance(exc, h.ReadTimeout):
            msg = (
                f"no data from {url} for {self.timeout:g}s while {during} (read timeout); the server is stuck or "
                "overloaded — check its log, or raise timeout= for very slow models"
            )
        elif isinstance(exc, (h.RemoteProtocolError, h.ReadError)):
            msg = f"the server at {url} closed the connection while {during} ({exc}); it may have crashed — check its log"
        else:
            msg = f"HTTP request to {url} failed while {during}: {type(exc).__name__}: {exc}"
        return GenerationError(msg)

    def _post_json(self, path: str, payload: dict[str, Any], during: str) -> tuple[int, Any]:
        url = self.base_url + path
        try:
            r = self._client.post(path, json=payload)
        except self._httpx.HTTPError as exc:
            raise self._error(exc, url, during) from exc
        try:
            body = r.json()
        except ValueError:
            body = None
        return r.status_code, body

    # --- context size -------------------------------------------------------------------------------------

    @property
    def context_size(self) -> int:
        if self._context_size is None:
            self._context_size, self.context_size_source = self._probe_context_size()
        return self._context_size

    def _probe_context_size(self) -> tuple[int, str]:
        for path, pick in (
            ("/props", lambda b: b.get("default_generation_settings", {}).get("n_ctx") or b.get("n_ctx")),
            ("/v1/models", lambda b: (b.get("data") or [{}])[0].get("max_model_len")),
        ):
            try:
                r = self._client.get(path)
            except self._httpx.HTTPError as exc:
                raise self._error(exc, self.base_url + path, "asking the server for its context size") from exc
            if r.status_code == 200:
                try:
                    value = pick(r.json())
                except (ValueError, AttributeError, IndexError, TypeError):
                    value = None
                if isinstance(value, int) and value > 0:
                    return value, f"server:{path}"
        return DEFAULT_CONTEXT_SIZE, "default"

    # --- token counting -----------------------------------------------------------------------------------

    def _raw_count(self, text: str) -> int | None:
        """Tokens of ``text`` per the chosen server endpoint (None: the endpoint is missing)."""
        if self.token_counting in (None, "server:/tokenize"):
            status, body = self._post_json(
                "/tokenize",
                {"content": text, "prompt": text, "model": self.model, "add_special": False, "add_special_tokens": False},
                "counting tokens",
            )
            if status == 200 and isinstance(body, dict) and isinstance(body.get("tokens"), list):
                self.token_counting = "server:/tokenize"
                return len(body["tokens"])
            if status == 200 and isinstance(body, dict) and isinstance(body.get("count"), int):
                self.token_counting = "server:/tokenize"
                return body["count"]
            if self.token_counting is not None:
                raise GenerationError(f"{self.base_url}/tokenize answered HTTP {status}: {str(body)[:300]}")
        if self.token_counting in (None, "server:/extras/tokenize/count"):
            status, body = self._post_json(
                "/extras/tokenize/count", {"input": text, "model": self.model}, "counting tokens"
            )
            if status == 200 and isinstance(body, dict) and isinstance(body.get("count"), int):
                self.token_counting = "server:/extras/tokenize/count"
                return body["count"]
            if self.token_counting is not None or status not in _MISSING_ENDPOINT:
                raise GenerationError(
                    f"{self.base_url}/extras/tokenize/count answered HTTP {status}: {str(body)[:300]}"
                )
        return None

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the server's tokenizer, else estimated (see ``token_counting``)."""
        if self.token_counting is None:
            offset = self._raw_count("")
            if offset is None:
                self.token_counting = "estimate:chars/4"
            else:
                self._count_offset = offset
        if self.token_counting == "estimate:chars/4":
            return estimate_tokens(text)
        if not text:
            return 0
        n = self._raw_count(text)
        return max(0, (n or 0) - self._count_offset)

    # --- generation ---------------------------------------------------------------------------------------

    def _request(self, prompt: Prompt, max_tokens: int, temperature: float, stop: list[str]) -> tuple[str, dict]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if stop:
            payload["stop"] = stop
        if isinstance(prompt, str):
            return "/v1/completions", {**payload, "prompt": prompt}
        if self.endpoint == "completions":
            return "/v1/completions", {**payload, "prompt": flatten_messages(prompt)}
        return "/v1/chat/completions", {**payload, "messages": [dict(m) for m in prompt]}

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 512,
        temperature: float = 0.1,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as the server streams them (SSE parsed incrementally).

        Raises ``GenerationError`` on connect/read timeouts, HTTP errors (body quoted), an error event, or a
        stream cut before ``[DONE]``/``finish_reason``. Arguments are checked before the request is sent.
        ``cancel``: checked at every event the server sends; once set, the connection is closed (the server
        stops generating) and the stream ends.
        """
        check_prompt(prompt)
        check_generation_args(max_tokens, temperature)
        path, payload = self._request(prompt, max_tokens, temperature, list(stop or []))
        return self._stream(path, payload, cancel)

    def _stream(self, path: str, payload: dict[str, Any], cancel: threading.Event | None = None) -> Iterator[str]:
        url = self.base_url + path
        during = "streaming the answer"
        finished = False
        try:
            # a stream gets its own connection, closed afterwards: a connection left by a stream the server
            # broke off is never handed to the next request from the pool
            with self._client.stream("POST", path, json=payload, headers={"Connection": "close"}) as response:
                if response.status_code >= 400:
                    body = response.read().decode("utf-8", "replace")
                    raise GenerationError(f"{url} answered HTTP {response.status_code}: {body[:500]}")
                for data in iter_sse_data(response.iter_lines()):
                    if cancel is not None and cancel.is_set():
                        return  # leaving the block closes the connection
                    if data.strip() == "[DONE]":
                        finished = True
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError as exc:
                        raise GenerationError(f"{url} sent an event that is not JSON: {data[:200]!r}") from exc
                    piece, finish_reason = chunk_text(chunk)
                    if piece:
                        yield piece
                    if finish_reason is not None:
                        finished = True
        except self._httpx.HTTPError as exc:
            if finished:  # the model had finished; only the closing [DONE] was lost
                return
            raise self._error(exc, url, during) from exc
        if not finished:
            raise GenerationError(
                f"the stream from {url} ended before the answer was finished (no [DONE] and no finish_reason); "
                "the server may have crashed or cut the connection — check its log"
            )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAIHTTPGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAIHTTPGenerator({self.base_url!r}, model={self.model!r})"
