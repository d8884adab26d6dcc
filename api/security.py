"""API keys: Bearer tokens compared in constant time; writes refused unless a key is configured or writes are open.

>>> keys = [SecretStr("k-1234567")]
>>> key_matches("k-1234567", keys), key_matches("k-1234568", keys), key_matches("", keys)
(True, False, False)
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import HTTPException, status
from pydantic import SecretStr

from api.settings import Settings

WRITES_CLOSED = (
    "writes are disabled because no API key is configured: set LATTE_API_KEYS=<key>[,<key>...] and send "
    "'Authorization: Bearer <key>', or set LATTE_ALLOW_OPEN_WRITES=true on a trusted network"
)
KEY_MISSING = "this endpoint needs an API key: send 'Authorization: Bearer <key>' with a key from LATTE_API_KEYS"
KEY_WRONG = "the API key is not valid: send 'Authorization: Bearer <key>' with a key from LATTE_API_KEYS"


def key_matches(given: str, keys: Sequence[SecretStr]) -> bool:
    """True when ``given`` equals one of ``keys``; every key is compared (no early exit), each in constant time."""
    given_b = given.encode("utf-8")
    found = False
    for key in keys:
        found |= hmac.compare_digest(given_b, key.get_secret_value().encode("utf-8"))
    return found and bool(given)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None.

    >>> bearer_token("Bearer abc"), bearer_token("bearer  abc "), bearer_token("Basic abc"), bearer_token(None)
    ('abc', 'abc', None, None)
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def check_write(settings: Settings, authorization: str | None) -> None:
    """Raise 401/403 unless this request may write (see the module docstring)."""
    if not settings.api_keys:
        if settings.allow_open_writes:
            return
        raise HTTPException(status.HTTP_403_FORBIDDEN, WRITES_CLOSED)
    token = bearer_token(authorization)
    if token is None:
        raise _unauthorized(KEY_MISSING)
    if not key_matches(token, settings.api_keys):
        raise _unauthorized(KEY_WRONG)


def check_read(settings: Settings, authorization: str | None) -> None:
    """Raise 401 when reads need a key (``require_key_for_reads``) and the request has no valid one."""
    if not settings.require_key_for_reads:
        return
    if not settings.api_keys:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "reads require a key (LATTE_REQUIRE_KEY_FOR_READS=true) but no key is configured: set LATTE_API_KEYS",
        )
    token = bearer_token(authorization)
    if token is None:
        raise _unauthorized(KEY_MISSING)
    if not key_matches(token, settings.api_keys):
        raise _unauthorized(KEY_WRONG)
