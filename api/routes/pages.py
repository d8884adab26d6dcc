"""``GET /v1/documents/{id}/pages/{page}.png``: one page of a PDF document as a PNG image.

The page is rendered from the document's source PDF (an uploaded PDF is kept in ``index/files/``) by a child
process (:mod:`api.page_worker`; PDFium is not thread-safe), cached in memory, and answered with an ETag of the
index version, id, page and resolution, so a browser revalidates it cheaply (304).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.deps import ReadAuth, ServedDep, SettingsDep, StateDep
from api.kept_files import resolve_source
from api.page_images import RenderError, etag_matches, page_etag
from api.page_worker import MIN_DPI
from api.schemas import ErrorOut

router = APIRouter(tags=["documents"])
log = logging.getLogger("latte.api")

HARD_MAX_DPI = 600
CACHE_CONTROL = "private, no-cache"  # stored, but revalidated: the ETag changes when a new version is committed
PDF_ERRORS = {
    "password_required": "is password-protected",
    "wrong_password": "is password-protected",
    "unsupported_security": "uses a security handler PDFium cannot open",
    "corrupt": "is not a readable PDF any more (corrupt or replaced)",
    "not_found": "is no longer on disk",
    "render_failed": "could not be rendered by PDFium",
}


def _gone(doc_id: str) -> HTTPException:
    return HTTPException(
        404,
        f"the PDF of document {doc_id!r} is no longer on disk (moved or deleted); upload it again, or ingest it again "
        "from its new place, to show its pages",
    )


@router.get(
    "/v1/documents/{doc_id:path}/pages/{page}.png",
    dependencies=[ReadAuth],
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the page as a PNG image"},
        304: {"description": "not modified (If-None-Match matched the ETag)"},
        404: {"model": ErrorOut, "description": "unknown id, not a PDF, no such page, or the PDF is no longer on disk"},
        422: {"model": ErrorOut, "description": "dpi over LATTE_PAGE_IMAGE_MAX_DPI, or a PDF that cannot be rendered"},
        503: {"model": ErrorOut, "description": "no index version yet, or every render worker is busy"},
        504: {"model": ErrorOut, "description": "the page took longer than LATTE_PAGE_RENDER_TIMEOUT to render"},
    },
    summary="One page of a PDF document as a PNG image",
)
def page_image(
    doc_id: str,
    page: int,
    request: Request,
    served: ServedDep,
    state: StateDep,
    settings: SettingsDep,
    dpi: int | None = Query(
        None, ge=MIN_DPI, le=HARD_MAX_DPI, description="resolution (default LATTE_PAGE_IMAGE_DPI, at most LATTE_PAGE_IMAGE_MAX_DPI)"
    ),
) -> Response:
    """The ``page``-th page (from 1) of a PDF document, rendered at ``dpi`` (a page larger than
    LATTE_PAGE_IMAGE_MAX_PIXELS at that resolution is rendered smaller). Runs in the threadpool."""
    dpi = settings.page_image_dpi if dpi is None else dpi
    if dpi > settings.page_image_max_dpi:
        from api.routes.search import limit_error

        err = limit_error("dpi", dpi, settings.page_image_max_dpi, "LATTE_PAGE_IMAGE_MAX_DPI", "ask for a lower resolution")
        err.detail[0]["loc"] = ["query", "dpi"]  # type: ignore[index]
        raise err
    docs = served.planner.docs
    docno = docs.id_map.get(doc_id)
    if docno is None:
        raise HTTPException(404, f"no document with id {doc_id!r} in version {served.version}; check the id (GET /v1/search)")
    row: dict[str, Any] = docs.row(docno)
    if row.get("pages") is None:
        raise HTTPException(404, f"document {doc_id!r} is not a PDF (it has no pages); page images exist only for PDFs")
    n_pages = len(json.loads(row["pages"]))
    if not 1 <= page <= n_pages:
        raise HTTPException(404, f"document {doc_id!r} has pages 1..{n_pages}; there is no page {page}")
    path = resolve_source(row.get("source") or "", state.index)
    if path is None:
        raise _gone(doc_id)
    etag = page_etag(served.version, doc_id, page, dpi)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        state.metrics.page_images.labels("not_modified").inc()
        return Response(status_code=304, headers=headers)
    try:
        rendered, cached = state.pages.render(path, page, dpi, settings.page_image_max_pixels)
    except FileNotFoundError:  # deleted between the check and the render
        raise _gone(doc_id) from None
    except RenderError as exc:
        raise _render_error(exc, doc_id, page) from None
    state.metrics.page_images.labels("cached" if cached else "rendered").inc()
    headers["X-Page-DPI"] = f"{rendered.dpi:g}"
    return Response(rendered.png, media_type="image/png", headers=headers)


def _render_error(exc: RenderError, doc_id: str, page: int) -> HTTPException:
    """The HTTP error for a failed render; the file's path stays in the log."""
    if exc.reason == "out_of_range":  # the file has fewer pages than when it was ingested: replaced on disk
        return HTTPException(
            404, f"the PDF of document {doc_id!r} now has pages 1..{exc.pages}; there is no page {page} (ingest it again)"
        )
    if exc.reason == "not_found":
        return _gone(doc_id)
    if exc.reason == "timeout":
        log.warning("page image timed out: %s", exc.detail)
        return HTTPException(
            504, f"page {page} of {doc_id!r} took too long to render (LATTE_PAGE_RENDER_TIMEOUT); try a lower dpi"
        )
    if exc.reason == "busy":
        return HTTPException(503, "every page renderer is busy; retry in a moment", headers={"Retry-After": "2"})
    if exc.reason in PDF_ERRORS:
        log.warning("page image of %r failed: %s", doc_id, exc.detail)
        return HTTPException(422, f"the PDF of document {doc_id!r} {PDF_ERRORS[exc.reason]}; its pages cannot be shown")
    log.error("page image of %r failed: %s", doc_id, exc)  # a crashed worker; the next request starts a new one
    return HTTPException(500, "rendering the page failed (the renderer stopped); retry, and see the server log if it fails again")
