"""Error bodies without internals: messages scrubbed of file-system paths, every error carrying the request id.

>>> scrub("no index at /srv/data/index (no manifest.json); build one", ["/srv/data/index"])
'no index at <index> (no manifest.json); build one'
>>> scrub("cannot read /tmp/x/y.pdf: denied")
'cannot read <path>: denied'
>>> bounded({"input": "\\ud800" + "x" * 300, "k": float("inf"), "n": [1, 2, 3, 4]}, max_chars=8, max_items=3)
{'input': '\\\\ud800xxxxxxx… (+293 characters)', 'k': 'inf', 'n': [1, 2, 3, '… (+1 items)']}
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException

_ABS_PATH = re.compile(r"(?<![\w:/])/(?!v1/)(?:[\w.@+-]+/)+[\w.@+-]*")  # not the API's own /v1/... routes


def scrub(message: str, roots: Sequence[str] = ()) -> str:
    """``message`` with the index folder (``roots``) written ``<index>`` and any other absolute path ``<path>``."""
    for root in sorted((r for r in roots if r), key=len, reverse=True):
        message = message.replace(root, "<index>")
    return _ABS_PATH.sub("<path>", message)


#: longest string of a client's input echoed back in an error (longer ones are cut and say by how much)
MAX_ECHO_CHARS = 200
#: most items of a list or keys of an object echoed back
MAX_ECHO_ITEMS = 20


def bounded(value: Any, *, max_chars: int = MAX_ECHO_CHARS, max_items: int = MAX_ECHO_ITEMS, depth: int = 6) -> Any:
    """``value`` made safe to send as JSON whatever the client sent: strings cut to ``max_chars`` (lone surrogates
    written as ``\\udXXX`` escapes, so the body can be encoded), non-finite floats as ``"inf"``/``"nan"``,
    lists and objects cut to ``max_items``, nesting cut at ``depth``; anything else becomes a short string.
    An error body that echoes the input (pydantic's ``input``) is then small and can never fail to encode."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[: max_chars * 4]).decode("utf-8", "replace")
    if isinstance(value, str):
        cut = value[:max_chars].encode("utf-8", "backslashreplace").decode("utf-8")
        return cut if len(value) <= max_chars else f"{cut}… (+{len(value) - max_chars} characters)"
    kw = {"max_chars": max_chars, "max_items": max_items, "depth": depth - 1}
    if isinstance(value, dict):
        if depth <= 0:
            return f"{{… {len(value)} keys}}"
        out = {str(bounded(str(k), **kw)): bounded(v, **kw) for k, v in list(value.items())[:max_items]}
        if len(value) > max_items:
            out["…"] = f"+{len(value) - max_items} keys"
        return out
    if isinstance(value, (list, tuple)):
        if depth <= 0:
            return f"[… {len(value)} items]"
        items = [bounded(v, **kw) for v in value[:max_items]]
        return items + [f"… (+{len(value) - max_items} items)"] if len(value) > max_items else items
    return bounded(str(value), **kw)


def error_body(detail: object, request_id: str | None) -> dict[str, object]:
    """The JSON body of every error; ``detail`` passes :func:`bounded` (messages may quote client input)."""
    return {"detail": bounded(detail, max_chars=2000), "request_id": request_id}


def validation_errors(errors: Sequence[dict[str, Any]]) -> list[Any]:
    """Pydantic's errors as a 422 ``detail``: no ``url``, at most ``MAX_ECHO_ITEMS`` errors, and each echoed
    ``input`` (and ``ctx``) bounded to ``MAX_ECHO_CHARS`` characters, so a 100 KB query gives a small body and a
    lone surrogate or an infinite number cannot break the encoding."""
    out: list[Any] = []
    shown = MAX_ECHO_ITEMS - 1  # and one line that counts the rest
    for e in list(errors)[:shown]:
        item = {k: v for k, v in e.items() if k not in ("url", "input", "ctx")}
        item["msg"] = bounded(str(e.get("msg", "")), max_chars=2000)
        if "loc" in e:
            item["loc"] = bounded(list(e["loc"]))
        if "input" in e:
            item["input"] = bounded(e["input"], max_items=5, depth=2)
        if e.get("ctx"):
            item["ctx"] = bounded(e["ctx"])
        out.append(item)
    if len(errors) > shown:
        out.append({"type": "more_errors", "loc": [], "msg": f"{len(errors) - shown} more errors not shown"})
    return out


class LimitError(HTTPException):
    """A request over a configured limit; ``setting`` names the variable to change."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, message)


def too_large(what: str, size: int | None, limit: int, setting: str, hint: str) -> LimitError:
    got = f"{size} bytes" if size is not None else "more bytes than allowed"
    return LimitError(413, f"{what} is {got}; this server accepts at most {limit} bytes ({setting}); {hint}")
