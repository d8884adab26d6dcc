"""Error bodies without internals: messages scrubbed of file-system paths, every error carrying the request id.

>>> scrub("no index at /srv/data/index (no manifest.json); build one", ["/srv/data/index"])
'no index at <index> (no manifest.json); build one'
>>> scrub("cannot read /tmp/x/y.pdf: denied")
'cannot read <path>: denied'
"""

from __future__ import annotations

import re
from typing import Sequence

from fastapi import HTTPException

_ABS_PATH = re.compile(r"(?<![\w:/])/(?!v1/)(?:[\w.@+-]+/)+[\w.@+-]*")  # not the API's own /v1/... routes


def scrub(message: str, roots: Sequence[str] = ()) -> str:
    """``message`` with the index folder (``roots``) written ``<index>`` and any other absolute path ``<path>``."""
    for root in sorted((r for r in roots if r), key=len, reverse=True):
        message = message.replace(root, "<index>")
    return _ABS_PATH.sub("<path>", message)


def error_body(detail: object, request_id: str | None) -> dict[str, object]:
    return {"detail": detail, "request_id": request_id}


class LimitError(HTTPException):
    """A request over a configured limit; ``setting`` names the variable to change."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, message)


def too_large(what: str, size: int | None, limit: int, setting: str, hint: str) -> LimitError:
    got = f"{size} bytes" if size is not None else "more bytes than allowed"
    return LimitError(413, f"{what} is {got}; this server accepts at most {limit} bytes ({setting}); {hint}")
