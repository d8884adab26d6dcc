"""The index description, liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import ReadAuth, ServedDep, StateDep
from api.metrics import CONTENT_TYPE
from api.schemas import ErrorOut, IndexOut, ReadyOut

router = APIRouter(tags=["system"])


def human_size(n: float) -> str:
    """Bytes for people.

    >>> human_size(512), human_size(2048), human_size(5 * 1024**3)
    ('512 B', '2.0 KB', '5.0 GB')
    """
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def folder_size(path: Path) -> int:
    total = 0
    for f in path.rglob("*") if path.is_dir() else ():
        try:
            total += f.stat().st_size if f.is_file() else 0
        except FileNotFoundError:  # collected by a writer while we walk
            continue
    return total


@router.get("/v1/index", response_model=IndexOut, dependencies=[ReadAuth], responses={503: {"model": ErrorOut}})
def index_description(served: ServedDep, state: StateDep) -> dict[str, Any]:
    """The served version's manifest, counts, models, disk use per component, and what it can run."""
    snap = served.planner.snapshot
    m = snap.manifest
    sizes = {kind: human_size(folder_size(snap.path / kind)) for kind in m.components}
    return {
        "version": snap.version,
        "profile": m.profile,
        "committed_at": m.committed_at,
        "counts": m.counts,
        "models": m.models,
        "sizes": sizes,
        "retrievers": sorted(served.planner.retrievers),
        "rerank": snap.get("tensors") is not None and "multivector" in (state.encoders or {}),
        "generator": getattr(state.generator, "name", None),
        "manifest": m.to_dict(),
    }


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "not ready yet; `reason` says why"}},
    summary="Readiness: index opened and models loaded",
)
def readyz(state: StateDep) -> Any:
    served = state.current()
    body: dict[str, Any] = {
        "ready": False,
        "version": None if served is None else served.version,
        "profile": state.profile,
        "encoders": sorted(state.encoders or {}),
        "generator": getattr(state.generator, "name", None),
    }
    if state.loading:
        body["reason"] = "loading the index and models"
    elif state.load_error is not None:
        body["reason"] = "the index or its models failed to load; see the server log"
    elif served is None:
        body["reason"] = "no index yet: add documents with POST /v1/documents or `latte ingest`"
    elif state.generator_error is not None:
        body["reason"] = "the LLM backend failed to load; check the LATTE_LLM_* settings"
    else:
        body["ready"] = True
        return body
    return JSONResponse(body, status_code=503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
