"""The app factory: ``create_app(settings)`` builds the FastAPI app; nothing is loaded at import.

The lifespan starts loading the index, its encoders and the LLM backend in a worker thread, so ``/healthz``
answers at once and ``/readyz`` turns 200 when loading is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import error_body, validation_errors
from api.metrics import Metrics
from api.middleware import RequestContextMiddleware
from api.routes import ROUTERS
from api.routes.web import STATIC_DIR
from api.settings import Settings, load_settings
from api.state import AppState

log = logging.getLogger("latte.api")

DESCRIPTION = """\
Self-hosted retrieval-augmented generation on late interaction: hybrid BM25/dense/sparse first stage, RRF
fusion, binary-quantized MaxSim rerank, and cited answers from a local LLM.

* **Reads** (`/v1/search`, `/v1/answer`, `GET /v1/documents/...`, `/v1/index`) are open unless
  `LATTE_REQUIRE_KEY_FOR_READS=true`.
* **Writes** (`POST /v1/documents`, `/v1/documents/upload`, `DELETE`) need `Authorization: Bearer <key>` with a key
  from `LATTE_API_KEYS` (or `LATTE_ALLOW_OPEN_WRITES=true` on a trusted network).
* Every response carries `X-Request-ID`; error bodies are `{"detail": ..., "request_id": ...}`.
"""


def _request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def _body_limits(settings: Settings) -> Any:
    def limit(path: str) -> tuple[int, str, str]:
        if path.rstrip("/") == "/v1/documents/upload":
            return settings.max_upload_bytes, "LATTE_MAX_UPLOAD_BYTES", "upload fewer or smaller files per request"
        return settings.max_body_bytes, "LATTE_MAX_BODY_BYTES", "send a smaller body (fewer documents per batch)"

    return limit


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app for ``settings`` (default: from the environment and ``LATTE_SETTINGS_FILE``)."""
    settings = settings or load_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState(settings, metrics)
        app.state.latte = state
        loader = asyncio.create_task(asyncio.to_thread(state.load), name="latte-load")
        try:
            yield
        finally:
            if loader.done():
                state.close()
            else:  # still loading (a quick restart): let the thread finish on its own
                loader.add_done_callback(lambda _t: state.close())

    app = FastAPI(
        title="latte",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "search", "description": "ranked hits with the retrieval trace"},
            {"name": "answer", "description": "cited answers, JSON or Server-Sent Events"},
            {"name": "documents", "description": "add, upload, read and delete documents"},
            {"name": "system", "description": "index description, health, readiness, metrics"},
        ],
    )
    app.state.settings = settings
    app.state.metrics = metrics

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.detail, _request_id(request)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # never echo the input as is: it may be huge, hold lone surrogates or non-finite numbers (see ``bounded``)
        return JSONResponse(error_body(validation_errors(exc.errors()), _request_id(request)), status_code=422)

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_middleware(RequestContextMiddleware, metrics=metrics, body_limit=_body_limits(settings))
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("latte")
    except Exception:  # not installed (a source checkout): the API still works
        return "0"
