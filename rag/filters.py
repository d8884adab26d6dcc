"""Metadata filters, turned into one boolean mask over docnos that every retriever applies the same way.

A filter maps a metadata field to a value (equality), a list (any of), or an operator dict with
``eq``, ``ne``, ``in``, ``gt``, ``gte``, ``lt``, ``lte``. ``id``, ``title`` and ``source`` are filterable too.

>>> match_value(2021, {"gte": 2020, "lt": 2022}), match_value("a", ["a", "b"]), match_value(None, 3)
(True, True, False)
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from core.errors import UserError

OPS = {"eq", "ne", "in", "gt", "gte", "lt", "lte"}


class FilterError(UserError, ValueError):
    """A filter the index cannot apply (a ValueError too, for callers that caught that before UserError)."""


def validate_filters(filters: dict[str, Any]) -> None:
    if not isinstance(filters, dict):
        raise FilterError('filters must be an object such as {"year": {"gte": 2020}, "lang": "en"}')
    for field, cond in filters.items():
        if isinstance(cond, dict):
            bad = set(cond) - OPS
            if bad or not cond:
                raise FilterError(f"filter on {field!r}: unknown operator(s) {sorted(bad)}; use {sorted(OPS)}")


def match_value(value: Any, cond: Any) -> bool:
    if isinstance(cond, dict):
        for op, arg in cond.items():
            if op == "eq" and value != arg:
                return False
            if op == "ne" and value == arg:
                return False
            if op == "in" and value not in arg:
                return False
            if op in ("gt", "gte", "lt", "lte"):
                if value is None:
                    return False
                try:
                    ok = {"gt": value > arg, "gte": value >= arg, "lt": value < arg, "lte": value <= arg}[op]
                except TypeError:
                    return False
                if not ok:
                    return False
        return True
    if isinstance(cond, list):
        return value in cond
    return value is not None and value == cond


def _column(docs: Any, field: str) -> list[Any]:
    """Values of ``field`` for every docno (None where absent); cached on the store object."""
    cache = docs.__dict__.setdefault("_filter_columns", {})
    if field not in cache:
        values: list[Any] = [None] * docs.next_docno
        for seg in docs.segments:
            if field in ("id", "title", "source"):
                col = seg.docs.column(field).to_pylist()
            else:
                col = [json.loads(m).get(field) for m in seg.docs.column("metadata").to_pylist()]
            values[seg.start : seg.start + seg.n_docs] = col
        cache[field] = values
    return cache[field]


def allowed_mask(docs: Any, filters: dict[str, Any] | None) -> np.ndarray | None:
    """Bool mask by docno of live documents that satisfy every filter (None when there is no filter)."""
    if not filters:
        return None
    validate_filters(filters)
    mask = np.ones(docs.next_docno, dtype=bool)
    if len(docs.deleted):
        mask[docs.deleted[docs.deleted < len(mask)]] = False
    for field, cond in filters.items():
        col = _column(docs, field)
        mask &= np.fromiter((match_value(v, cond) for v in col), dtype=bool, count=len(col))
    return mask
