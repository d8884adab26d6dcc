"""The outermost layer of every request: a request id, body-size limits, metrics, and a clean 500.

Pure ASGI (no BaseHTTPMiddleware), so streamed responses pass through untouched. Per request:

- ``X-Request-ID``: the client's when it is a short token, else a new one; echoed on every response and
  stored in ``scope["state"]["request_id"]`` for error bodies and logs;
- body limit: a ``Content-Length`` over the limit is refused (413) before anything is read, and a body
  streamed without one is counted as it arrives (413 as soon as it passes the limit);
- an unexpected exception is logged with the request id and answered 500 with the id only: no trace,
  no message, no path;
- request count and latency per route template (``/v1/documents/{doc_id}``), status included.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from api.errors import too_large
from api.metrics import Metrics

log = logging.getLogger("latte.api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def endpoint_label(scope: Scope) -> str:
    """The route template the router matched, ``static`` for files, ``unmatched`` otherwise."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static"
    return "unmatched"


async def send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())] + headers,
        }
    )
    await send({"type": "http.response.body", "body": data})


class RequestContextMiddleware:
    def __init__(self, app: Any, *, metrics: Metrics, body_limit: Callable[[str], tuple[int, str, str]]) -> None:
        """``body_limit(path) -> (bytes, setting name, hint)``."""
        self.app = app
        self.metrics = metrics
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        rid_header = [(b"x-request-id", rid.encode("ascii"))]
        status = {"code": 500, "started": False}
        t0 = time.perf_counter()
        self.metrics.in_flight.inc()

        limit, setting, hint = self.body_limit(scope.get("path", ""))
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise too_large("the request body", None, limit, setting, hint)
            return msg

        async def send_with_id(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status["code"] = msg["status"]
                status["started"] = True
                msg = {**msg, "headers": [*msg.get("headers", []), *rid_header]}
            await send(msg)

        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                exc = too_large("the request body", int(length), limit, setting, hint)
                await send_json(send_with_id, 413, {"detail": exc.detail, "request_id": rid}, [])
                return
            await self.app(scope, counting_receive, send_with_id)
        except Exception as exc:
            from fastapi import HTTPException

            if isinstance(exc, HTTPException) and not status["started"]:  # a limit hit outside a route
                await send_json(send_with_id, exc.status_code, {"detail": exc.detail, "request_id": rid}, [])
                return
            self.metrics.errors.inc()
            log.exception("request %s %s %s failed", rid, scope.get("method"), scope.get("path"))
            if not status["started"]:
                await send_json(
                    send_with_id,
                    500,
                    {
                        "detail": f"internal error; the server log has the details under request id {rid}",
                        "request_id": rid,
                    },
                    [],
                )
        finally:
            self.metrics.in_flight.dec()
            self.metrics.observe_request(scope.get("method", ""), endpoint_label(scope), status["code"], time.perf_counter() - t0)
