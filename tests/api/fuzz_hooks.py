"""Schemathesis hooks (loaded through ``SCHEMATHESIS_HOOKS=fuzz_hooks``): inputs that a JSON schema cannot describe.

Schemathesis generates valid JSON from the OpenAPI schema, so two kinds of input that broke the server never
appeared: non-finite numbers (``1e400``, ``NaN``, ``Infinity``: Python's JSON reader accepts them) and strings
holding a lone surrogate (``"\\ud800"``, valid JSON but not valid Unicode). Every generated JSON body is also sent
in variants where one number becomes non-finite or one string (or object key) gets a lone surrogate, written as
raw bytes so the client's own JSON encoder (which refuses both) is not in the way; numeric query parameters get
``1e400``, ``NaN`` and ``-Infinity``.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st

NON_FINITE = ("1e400", "-1e400", "NaN", "Infinity", "-Infinity")
SURROGATES = ("\ud800", "\udfff", "\udc00x", "a\udbff")


def _leaves(value: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, value) of every number and string inside ``value`` (object keys count as strings too)."""
    out: list[tuple[tuple, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((path + (("key", k),), k))
            out.extend(_leaves(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_leaves(v, path + (i,)))
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        out.append((path, value))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(head, tuple):  # ("key", k): rename the key
        return {(new if k == head[1] else k): v for k, v in value.items()}
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replace(value[head], rest, new)
    return copy


MARK = "__latte_non_finite__"


def _mutations(body: dict) -> list[bytes]:
    """JSON bytes of ``body`` with one leaf made hostile, for each leaf (numbers: non-finite; strings: surrogates)."""
    out = []
    for i, (path, leaf) in enumerate(_leaves(body)):
        if isinstance(leaf, str):
            bad: Any = SURROGATES[i % len(SURROGATES)] + leaf[:20]
        else:
            bad = MARK
        text = json.dumps(_replace(body, path, bad))  # ensure_ascii: a surrogate is written as its \\u escape
        out.append(text.replace(f'"{MARK}"', NON_FINITE[i % len(NON_FINITE)]).encode("ascii"))
    # a non-finite number and a surrogate where the schema expects neither
    out.append(json.dumps({**body, "k": MARK}).replace(f'"{MARK}"', "1e400").encode("ascii"))
    return out


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> Any:
    if not isinstance(body, dict) or not body:
        return st.just(body)
    return st.one_of(st.just(body), st.sampled_from(_mutations(body)))


@schemathesis.hook
def flatmap_query(context: Any, query: Any) -> Any:
    if not isinstance(query, dict) or not query:
        return st.just(query)
    numeric = [k for k, v in query.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numeric:
        return st.just(query)
    return st.one_of(
        st.just(query),
        st.builds(lambda k, bad: {**query, k: bad}, st.sampled_from(numeric), st.sampled_from(NON_FINITE)),
    )
