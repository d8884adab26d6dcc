"""Documents: add a JSON batch, upload files, read one back, delete one.

Writes are serialised (an asyncio lock here, the index's flock across processes), run in the threadpool so
searches keep being served, and answered only after the commit, with the new version already being served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.deps import ReadAuth, ServedDep, SettingsDep, StateDep, WritableDep, WriteAuth
from api.errors import scrub
from api.ingest import BatchIngest, IngestResult, Outcome, delete_document
from api.kept_files import keep_file, public_source
from api.schemas import DeleteResponse, DocumentOut, DocumentsRequest, ErrorOut, IngestResponse
from api.state import AppState
from api.uploads import ALLOWED_SUFFIXES, SavedFile, collect_leftovers, receive_files, temp_upload
from core.errors import UserError

router = APIRouter(tags=["documents"])
SERVED_STATUSES = ("indexed", "replaced", "unchanged")
log = logging.getLogger("latte.api")

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "API key missing or wrong"},
    403: {"model": ErrorOut, "description": "writes are disabled: no API key configured (see the message)"},
    409: {"model": ErrorOut, "description": "another write (of this server or another process) held the lock past "
          "LATTE_WRITE_LOCK_TIMEOUT; retry after Retry-After seconds"},
    413: {"model": ErrorOut, "description": "body over LATTE_MAX_BODY_BYTES / LATTE_MAX_UPLOAD_BYTES, or too many files"},
    422: {"model": ErrorOut, "description": "invalid request or over a server limit"},
    503: {"model": ErrorOut, "description": "the server is still loading its models"},
}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": f"one or more files: {', '.join(ALLOWED_SUFFIXES)}",
                        }
                    },
                }
            }
        },
    }
}


async def _write(state: AppState, job: Callable[[], IngestResult | Any]) -> Any:
    """Run ``job`` under the write lock in the threadpool, then serve the committed version before returning.

    A write waits at most ``LATTE_WRITE_LOCK_TIMEOUT`` seconds for another write, of this server (the in-process
    lock) or of another process (the index's flock); then it is refused with 409 and ``Retry-After``."""
    import asyncio

    from indexers.folder import IndexLocked

    timeout = state.settings.write_lock_timeout
    try:
        await asyncio.wait_for(state.write_lock.acquire(), timeout=timeout)
    except (asyncio.TimeoutError, TimeoutError):
        raise HTTPException(
            409,
            f"another write to this index is still running in this server after {timeout:g} s "
            "(LATTE_WRITE_LOCK_TIMEOUT); retry when it has finished",
            headers={"Retry-After": "10"},
        ) from None
    try:
        try:
            result = await run_in_threadpool(job)
        except IndexLocked:
            raise HTTPException(
                409, "another process is writing to the index; retry when it has finished", headers={"Retry-After": "10"}
            ) from None
        except RuntimeError as exc:
            if "restart the server" in str(exc):
                raise HTTPException(409, scrub(str(exc), state.roots)) from None
            raise
        await run_in_threadpool(state.refresh)
        await run_in_threadpool(collect_leftovers, state.index)  # what a crashed upload left (never one in progress)
    finally:
        state.write_lock.release()
    return result


def _record(state: AppState, res: IngestResult) -> None:
    for o in res.outcomes:
        state.metrics.documents.labels(o.status).inc()


def _response(res: IngestResult, t0: float, files: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "version": res.version,
        "counts": res.counts(),
        "results": [o.to_dict() for o in res.outcomes],
        "problems": [{"source": p.source, "message": p.message, "line": p.line, "level": p.level} for p in res.problems],
        "files": files,
        "seconds": round(time.perf_counter() - t0, 3),
    }


@router.post(
    "/v1/documents",
    response_model=IngestResponse,
    response_model_exclude_none=False,
    dependencies=[WriteAuth],
    responses=WRITE_ERRORS,
    summary="Add or update a batch of documents",
)
async def add_documents(body: DocumentsRequest, state: WritableDep, settings: SettingsDep) -> dict[str, Any]:
    """Ingest through the same pipeline as `latte ingest` (clean, quality rules, dedupe, passages, encode,
    index, commit). Each document's outcome: indexed, replaced, unchanged, dropped (rule) or duplicate
    (duplicate_of). Answered after the commit."""
    from api.routes.search import limit_error
    from rag.records import Document

    if len(body.documents) > settings.max_batch_docs:
        raise limit_error(
            "documents", len(body.documents), settings.max_batch_docs, "LATTE_MAX_BATCH_DOCS", "send the documents in smaller batches"
        )
    for i, d in enumerate(body.documents):
        if len(d.text) > settings.max_doc_chars:
            raise limit_error(
                f"documents[{i}].text", f"{len(d.text)} characters", settings.max_doc_chars, "LATTE_MAX_DOC_CHARS",
                "split the document or upload it as a file",
            )
    docs = [Document(id=d.id, text=d.text, title=d.title, metadata=dict(d.metadata), source="api") for d in body.documents]
    t0 = time.perf_counter()

    def job() -> IngestResult:
        with BatchIngest(state.index, profile=state.profile or settings.new_index_profile, encoders=state.encoders or {},
                         lock_timeout=settings.write_lock_timeout, max_doc_chars=settings.max_doc_chars) as batch:
            for doc in docs:
                batch.add(doc)
            return batch.finish()

    res = await _write(state, job)
    _record(state, res)
    return _response(res, t0)


@router.post(
    "/v1/documents/upload",
    response_model=IngestResponse,
    dependencies=[WriteAuth],
    responses=WRITE_ERRORS | {415: {"model": ErrorOut, "description": "not multipart, or a file type that is not supported"}},
    openapi_extra=UPLOAD_BODY,
    summary="Upload files (PDF, txt, md, JSONL)",
)
async def upload_documents(request: Request, state: WritableDep, settings: SettingsDep) -> dict[str, Any]:
    """Files are streamed into a temporary folder inside the index folder under sanitised names and ingested like
    `latte ingest` does (a text or PDF file is one document whose id is its sanitised name; JSONL holds one
    document per line). A PDF that becomes a document is kept as `index/files/<sha256>.pdf` (its source, for page
    images); everything else is removed afterwards."""
    from rag.loaders import LoadOptions, iter_documents
    from rag.records import LoadProblem

    t0 = time.perf_counter()
    with temp_upload(state.index) as tmp:
        saved = await receive_files(request.stream(), request.headers.get("content-type"), tmp, max_files=settings.max_upload_files)

        def job() -> tuple[IngestResult, list[dict[str, Any]]]:
            files: list[dict[str, Any]] = []
            created: dict[Path, list[Outcome]] = {}  # PDFs this request kept for the first time -> their documents
            check_upload_documents(saved, settings.max_batch_docs)
            with BatchIngest(state.index, profile=state.profile or settings.new_index_profile, encoders=state.encoders or {},
                             lock_timeout=settings.write_lock_timeout, max_doc_chars=settings.max_doc_chars) as batch:
                for f in saved:
                    entry = _file_entry(f)
                    try:
                        records = iter_documents([f.path], LoadOptions())
                        for rec in records:
                            if isinstance(rec, LoadProblem) and rec.rule is not None:  # a refused document
                                rec.source = f.name
                                rec.message = scrub(rec.message, [str(tmp)])
                                entry["documents"].append(rec.doc_id)
                                outcome = batch.add(rec)
                                if outcome is not None:
                                    outcome.source = upload_label(f.name)
                                continue
                            if isinstance(rec, LoadProblem):
                                rec.source = f.name
                                entry["problems"].append({"source": f.name, "message": scrub(rec.message, [str(tmp)]),
                                                          "line": rec.line, "level": rec.level})
                                batch.add(rec)
                                continue
                            kept = _place(rec, f, state.index)
                            entry["documents"].append(rec.id)
                            outcome = batch.add(rec)
                            if outcome is not None:
                                outcome.source = upload_label(f.name)  # never the kept file's path
                                if kept is not None and kept[1]:
                                    created.setdefault(kept[0], []).append(outcome)
                    except (UserError, ValueError) as exc:  # a file the loaders refuse as a whole (its content)
                        problem = LoadProblem(f.name, scrub(str(exc), [str(tmp)]))
                        batch.add(problem)
                        entry["problems"].append({"source": f.name, "message": problem.message, "line": None, "level": "error"})
                    files.append(entry)
                result = batch.finish()
            for path, outcomes in created.items():  # kept for documents that were all dropped: not needed
                if not any(o.status in SERVED_STATUSES for o in outcomes):
                    path.unlink(missing_ok=True)
            return result, files

        res, files = await _write(state, job)
    _record(state, res)
    for p in res.problems:
        p.message = scrub(p.message, [str(tmp)])
    return _response(res, t0, files)


def count_documents(f: SavedFile) -> int:
    """Documents an uploaded file holds: one per non-blank line of JSON lines (gzip too), else one."""
    import gzip

    from rag.loaders.options import LOADERS

    name = f.name.lower()
    if not name.endswith(LOADERS["jsonl"].upload_suffixes):
        return 1
    opener = gzip.open if name.endswith(".gz") else open
    try:
        with opener(f.path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except (OSError, EOFError):  # a broken gzip: its loader reports it
        return 1


def check_upload_documents(saved: list[SavedFile], limit: int) -> None:
    """413 before anything is ingested when the files hold more documents than a JSON batch may (LATTE_MAX_BATCH_DOCS)."""
    total = 0
    for f in saved:
        total += count_documents(f)
        if total > limit:
            raise HTTPException(
                413, f"the upload holds more than {limit} documents, this server's limit per request "
                "(LATTE_MAX_BATCH_DOCS); send them in several requests"
            )


def upload_label(name: str) -> str:
    """How an uploaded file is named in responses and metadata (never a server path)."""
    return f"upload:{name}"


def _place(doc: Any, f: SavedFile, index: Path) -> tuple[Path, bool] | None:
    """Set an uploaded document's source and ``metadata["path"]``; a PDF document's file is kept (content-addressed)
    and becomes its source. Returns ``(kept path, created)`` for a PDF, else None."""
    if doc.metadata.get("path") == str(f.path):  # set by the text/PDF loaders: the temporary path, not for clients
        doc.metadata["path"] = upload_label(f.name)
    if doc.pages is not None and f.sha256:  # only the PDF loader sets pages
        kept = keep_file(f.path, index, f.sha256)
        doc.source = str(kept[0].resolve())
        return kept
    doc.source = upload_label(f.name)
    return None


def _file_entry(f: SavedFile) -> dict[str, Any]:
    return {"filename": f.original, "saved_as": f.name, "size": f.size, "documents": [], "problems": []}


@router.get(
    "/v1/documents/{doc_id:path}",
    response_model=DocumentOut,
    dependencies=[ReadAuth],
    responses={404: {"model": ErrorOut, "description": "no live document with this id"}, 503: {"model": ErrorOut}},
    summary="Read one document with its passages",
)
def get_document(doc_id: str, served: ServedDep, state: StateDep) -> dict[str, Any]:
    docs = served.planner.docs
    docno = docs.id_map.get(doc_id)
    if docno is None:
        raise HTTPException(404, f"no document with id {doc_id!r} in version {served.version}; check the id (GET /v1/search)")
    doc = docs.document(docno)
    passages = docs.passages(docno, doc.text)
    return {
        "id": doc.id,
        "title": doc.title,
        "text": doc.text,
        "metadata": doc.metadata,
        "source": public_source(doc.source, state.index),
        "pages": None if doc.pages is None else [{"page": p.page, "start": p.start, "end": p.end} for p in doc.pages],
        "passages": [{"ordinal": p.ordinal, "start": p.start, "end": p.end, "page": p.page, "text": p.text} for p in passages],
        "version": served.version,
    }


@router.delete(
    "/v1/documents/{doc_id:path}",
    response_model=DeleteResponse,
    dependencies=[WriteAuth],
    responses={**WRITE_ERRORS, 404: {"model": ErrorOut, "description": "no document with this id"}},
    summary="Delete one document",
)
async def delete(doc_id: str, state: WritableDep, settings: SettingsDep) -> dict[str, Any]:
    from indexers.folder import IndexFolder

    if not IndexFolder(state.index).exists():
        raise HTTPException(404, f"no document with id {doc_id!r}: the index is empty")
    version = await _write(state, lambda: delete_document(state.index, doc_id, lock_timeout=settings.write_lock_timeout))
    if version is None:
        raise HTTPException(404, f"no document with id {doc_id!r}; nothing was deleted")
    return {"id": doc_id, "deleted": True, "version": version}
