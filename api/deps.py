"""FastAPI dependencies as ``Annotated`` aliases: the app state, settings, auth, and the served index version."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.security import check_read, check_write
from api.settings import Settings
from api.state import AppState, Served

bearer = HTTPBearer(auto_error=False, description="an API key from LATTE_API_KEYS")


def get_state(request: Request) -> AppState:
    return request.app.state.latte


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def require_write(request: Request, settings: SettingsDep, _cred: Credentials) -> None:
    check_write(settings, request.headers.get("authorization"))


async def require_read(request: Request, settings: SettingsDep, _cred: Credentials) -> None:
    check_read(settings, request.headers.get("authorization"))


WriteAuth = Depends(require_write)
ReadAuth = Depends(require_read)


def not_ready(state: AppState) -> HTTPException:
    """503 saying why nothing can be served yet (and what to do)."""
    if state.loading:
        reason = "the server is still loading the index and models; retry in a few seconds"
    elif state.load_error is not None:
        reason = "the index or its models failed to load; see the server log and GET /readyz"
    else:
        reason = "the index has no committed version yet: add documents with POST /v1/documents or `latte ingest`"
    return HTTPException(503, reason, headers={"Retry-After": "5"})


def get_served(state: StateDep) -> Served:
    """The version to search (a sync dependency: FastAPI runs it in the threadpool, since it may stat or open)."""
    served = state.current()
    if served is None:
        raise not_ready(state)
    return served


def get_writable(state: StateDep) -> AppState:
    """The state, once its encoders are loaded (writes need them to encode new documents)."""
    if state.settings.index_url:
        raise HTTPException(
            409,
            f"this server is a read replica of {state.settings.index_url}; write with "
            f"`latte ingest PATH --index {state.settings.index_url}` (its replicas pick the new version up)",
        )
    if state.loading or state.encoders is None:
        raise not_ready(state)
    return state


ServedDep = Annotated[Served, Depends(get_served)]
WritableDep = Annotated[AppState, Depends(get_writable)]
