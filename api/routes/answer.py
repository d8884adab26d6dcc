"""``POST /v1/answer``: search, then a cited answer, as JSON or as Server-Sent Events.

Streaming sends ``token`` events (the text as generated), one ``citations`` event, then ``done`` (the whole
answer plus the searched ``version``); a failure while generating ends the stream with an ``error`` event.
Errors before the stream starts (limits, a mode the index lacks) are ordinary JSON 4xx responses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ReadAuth, ServedDep, SettingsDep, StateDep
from api.errors import scrub
from api.page_images import add_citation_urls
from api.routes.search import ERRORS, check_limits, run_search
from api.schemas import AnswerRequest, AnswerResponse, ErrorOut
from core.errors import UserError

router = APIRouter(tags=["answer"])
log = logging.getLogger("latte.api")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
ANSWER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    502: {"model": ErrorOut, "description": "the LLM backend failed (JSON answers; streams end with an error event)"},
}
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    "200": {
        "description": "JSON answer, or with stream=true a text/event-stream: token..., citations, done (or error)",
        "content": {
            "text/event-stream": {
                "schema": {"type": "string"},
                "example": 'event: token\ndata: {"text": "Vitamin D ... [1]"}\n\nevent: citations\ndata: {"citations": [...], '
                '"removed_markers": 0, "text": "..."}\n\nevent: done\ndata: {"text": "...", "version": 3, ...}\n\n',
            }
        },
    }
}


def _sse(event: str, data: dict[str, Any]) -> str:
    from rag.answer import AnswerEvent

    return AnswerEvent(event, data).to_sse()  # type: ignore[arg-type]


def add_answer_urls(data: dict[str, Any], root_path: str) -> None:
    """Page image URLs on the citations and sources of an answer (its JSON, or a citations/done event's data)."""
    for key in ("citations", "sources"):
        add_citation_urls(data.get(key) or [], root_path)


class AnswerStream(StreamingResponse):
    """The answer's SSE stream; generation stops at the model's next token once the client has gone.

    Starlette cancels the streaming task when the client disconnects, but a task waiting for a worker thread is
    only cancelled when that thread returns, and one step (the next piece of text) can run through every
    remaining token when the model samples tokens that add no text: the generation then went on up to
    ``max_tokens`` for nobody, holding llama.cpp's lock, and the next answer waited. ``client_left`` is set on
    disconnect and reaches the model (``answer(cancel=...)``), which checks it after every token; the stream
    also checks it between events and closes the events however streaming ends.
    """

    def __init__(
        self, events: Iterator[Any], client_left: threading.Event, version: int, request_id: str, root_path: str = ""
    ) -> None:
        self.client_left = client_left
        super().__init__(
            _stream(events, version, request_id, root_path, self.client_left),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    async def listen_for_disconnect(self, receive: Any) -> None:
        await super().listen_for_disconnect(receive)
        self.client_left.set()

    async def stream_response(self, send: Any) -> None:
        try:
            await super().stream_response(send)
        finally:
            self.client_left.set()  # ended, failed (a send to a closed connection) or cancelled: generate no more
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()


async def _stream(
    events: Iterator[Any],
    version: int,
    request_id: str,
    root_path: str = "",
    client_left: threading.Event | None = None,
) -> AsyncIterator[str]:
    """Each answer event as an SSE frame; the blocking iterator is advanced in the threadpool.

    Stops (and closes ``events``) once ``client_left`` is set; also when cancelled.
    """
    it = iter(events)
    # one step or the close at a time: a client that leaves cancels the awaiting coroutine, not the worker thread
    # running the step, and a generator cannot be closed while it runs; the close then waits for that step instead
    # of failing ("generator already executing") and leaving the generation, and the model's lock, held for good
    step_lock = threading.Lock()

    def step() -> Any:
        with step_lock:
            if client_left is not None and client_left.is_set():
                return None
            return next(it, None)

    try:
        while True:
            ev = await run_in_threadpool(step)
            if ev is None:
                return
            if ev.type == "done":
                ev.data["version"] = version
            if ev.type in ("citations", "done"):
                add_answer_urls(ev.data, root_path)
            yield ev.to_sse()
    except Exception:
        log.exception("answer stream %s failed", request_id)
        yield _sse(
            "error",
            {
                "message": f"internal error while answering; the server log has the details under request id {request_id}",
                "error": "InternalError",
                "partial_text": "",
            },
        )
    finally:
        # also when the client went away mid-stream: closing the answer stream ends the model's generation and
        # releases it for the next request
        close = getattr(it, "close", None)
        if close is not None:

            def close_after_step() -> None:
                with step_lock:
                    close()

            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close_after_step)


@router.post(
    "/v1/answer",
    response_model=AnswerResponse,
    dependencies=[ReadAuth],
    responses={**ANSWER_ERRORS, **STREAM_DOC},
    summary="Answer a question with cited sources",
)
async def answer_question(
    req: AnswerRequest, request: Request, served: ServedDep, settings: SettingsDep, state: StateDep
) -> Any:
    """Search with the given options, then answer from the top ``k`` hits (extractive without an LLM backend)."""
    from rag.answer import GenerationError, answer

    check_limits("question", req.question, req, settings)
    if state.generator_error is not None:
        raise HTTPException(503, "the LLM backend failed to load; check the LATTE_LLM_* settings and the server log")
    max_tokens = req.max_tokens or settings.answer_max_tokens
    if max_tokens > settings.max_answer_tokens:
        from api.routes.search import limit_error

        raise limit_error("max_tokens", max_tokens, settings.max_answer_tokens, "LATTE_MAX_ANSWER_TOKENS", "ask for a shorter answer")
    temperature = settings.answer_temperature if req.temperature is None else req.temperature
    result = await run_in_threadpool(run_search, served.planner, req.question, req, state.roots)
    state.metrics.observe_search("answer", result.timings_ms)
    root_path = request.scope.get("root_path", "")
    try:
        if req.stream:
            client_left = threading.Event()
            events = await run_in_threadpool(lambda: answer(
                req.question, result.hits, state.generator, stream=True, max_tokens=max_tokens, temperature=temperature,
                floor=req.floor, cancel=client_left,
            ))
            rid = request.scope.get("state", {}).get("request_id", "")
            return AnswerStream(events, client_left, result.version, rid, root_path)
        ans = await run_in_threadpool(lambda: answer(
            req.question, result.hits, state.generator, max_tokens=max_tokens, temperature=temperature, floor=req.floor
        ))
    except GenerationError as exc:
        raise HTTPException(502, f"the LLM backend failed: {scrub(str(exc), state.roots)}") from None
    except UserError as exc:
        raise HTTPException(422, scrub(str(exc), state.roots)) from None
    body = ans.to_dict()
    add_answer_urls(body, root_path)
    return {
        "question": req.question,
        **body,
        "version": result.version,
        "retrievers": result.retrievers,
        "timings_ms": result.timings_ms,
    }
