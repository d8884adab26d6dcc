"""``POST /v1/search``: ranked hits with the retrieval trace, over one committed version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from api.deps import ReadAuth, ServedDep, SettingsDep, StateDep
from api.errors import scrub
from api.page_images import add_hit_urls
from api.schemas import ErrorOut, SearchOptionsIn, SearchRequest, SearchResponse
from api.settings import Settings
from core.errors import UserError

router = APIRouter(tags=["search"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "a key is required (LATTE_REQUIRE_KEY_FOR_READS) and missing or wrong"},
    413: {"model": ErrorOut, "description": "request body over LATTE_MAX_BODY_BYTES"},
    422: {"model": ErrorOut, "description": "invalid request, over a server limit, or a mode this index cannot run"},
    503: {"model": ErrorOut, "description": "no index version to search yet (loading, or empty)"},
}


def limit_error(field: str, value: Any, limit: int, setting: str, what_next: str) -> HTTPException:
    """A 422 shaped like pydantic's, naming the server setting that set the limit."""
    return HTTPException(
        422,
        [
            {
                "type": "server_limit",
                "loc": ["body", field],
                "msg": f"{field}={value} is over this server's limit of {limit} ({setting}); {what_next}",
                "input": value,
                "ctx": {"limit": limit, "setting": setting},
            }
        ],
    )


def check_limits(text_field: str, text: str, opt: SearchOptionsIn, settings: Settings) -> None:
    """Raise 422 when the query or the options pass the server's configured limits."""
    if len(text) > settings.max_query_chars:
        raise HTTPException(
            422,
            [
                {
                    "type": "server_limit",
                    "loc": ["body", text_field],
                    "msg": f"the {text_field} is {len(text)} characters; this server accepts at most "
                    f"{settings.max_query_chars} (LATTE_MAX_QUERY_CHARS); shorten it",
                    "ctx": {"limit": settings.max_query_chars, "setting": "LATTE_MAX_QUERY_CHARS"},
                }
            ],
        )
    if opt.k > settings.max_k:
        raise limit_error("k", opt.k, settings.max_k, "LATTE_MAX_K", "ask for fewer hits")
    if opt.depth > settings.max_depth:
        raise limit_error("depth", opt.depth, settings.max_depth, "LATTE_MAX_DEPTH", "lower the first-stage depth")
    if opt.rerank_depth > settings.max_rerank_depth:
        raise limit_error(
            "rerank_depth", opt.rerank_depth, settings.max_rerank_depth, "LATTE_MAX_RERANK_DEPTH", "rerank fewer candidates"
        )


def search_options(opt: SearchOptionsIn) -> Any:
    from rag.planner import SearchOptions

    return SearchOptions(
        k=opt.k,
        mode=opt.mode,
        depth=opt.depth,
        fusion=opt.fusion,
        rrf_k=opt.rrf_k,
        weights={str(k): v for k, v in opt.weights.items()} if opt.weights else None,
        rerank=opt.rerank,
        rerank_depth=opt.rerank_depth,
        filters=opt.filters,
        unit=opt.unit,
        lang=opt.lang,
    )


def run_search(planner: Any, query: str, opt: SearchOptionsIn, roots: list[str]) -> Any:
    """``planner.search``; a UserError (a mode the index lacks, a bad filter, rerank without tensors) is 422; any
    other exception is a bug, answered 500 by the middleware."""
    try:
        return planner.search(query, search_options(opt))
    except UserError as exc:
        raise HTTPException(422, scrub(str(exc), roots)) from None


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    dependencies=[ReadAuth],
    responses=ERRORS,
    summary="Search the index",
)
def search(req: SearchRequest, request: Request, served: ServedDep, settings: SettingsDep, state: StateDep) -> dict[str, Any]:
    """Ranked documents with each retriever's rank and score, the rerank score and the best passage (with the URL
    of its page image when it is a PDF page).

    Runs in the threadpool: the event loop keeps serving while the planner works. The whole search uses the
    version that was current when it started (``version`` in the response)."""
    check_limits("query", req.query, req, settings)
    result = run_search(served.planner, req.query, req, state.roots)
    state.metrics.observe_search("search", result.timings_ms)
    body = result.to_dict()
    add_hit_urls(body["hits"], request.scope.get("root_path", ""))
    return body
