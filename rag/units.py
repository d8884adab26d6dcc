"""Result units: what one search hit is — a ``document``, a ``passage``, or a ``page`` of a PDF.

Below the document unit, a hit is named by one int64 **key**, so fusion (RRF, weighted) and the MaxSim rerank
work on keys exactly as they work on docnos:

- passage key: ``docno << 24 | ordinal``;
- page key: ``docno << 24 | PAGE_BIT | page`` (1-based PDF page); a passage of a document without pages (text,
  JSONL...) stands for its own page, so at the page unit it keeps its passage key.

Every retriever ranks passages; :func:`aggregate` turns passage hits into unit hits. A page scores as its best
passage (``max``), in each retriever before fusion, and in the MaxSim rerank: it keeps each retriever's score
scale, and a page's length (how many passages it holds) does not buy it score. Other rules (a sum, max plus a
share of the runner-up) were not measured.

>>> k = page_key(3, 12)
>>> decode(k)
(3, None, 12)
>>> decode(passage_key(3, 5))
(3, 5, None)
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from core.errors import UserError

UNITS = ("document", "passage", "page")
SHIFT = 24
LOW = (1 << SHIFT) - 1
PAGE_BIT = 1 << (SHIFT - 1)


def check_unit(unit: str) -> str:
    if unit not in UNITS:
        raise UserError(f"unit must be one of {', '.join(UNITS)} (got {unit!r})")
    return unit


def passage_key(docno: int, ordinal: int) -> int:
    return (int(docno) << SHIFT) | int(ordinal)


def page_key(docno: int, page: int) -> int:
    return (int(docno) << SHIFT) | PAGE_BIT | int(page)


def decode(key: int) -> tuple[int, int | None, int | None]:
    """(docno, passage ordinal or None, page or None) of a unit key."""
    key = int(key)
    low = key & LOW
    if low & PAGE_BIT:
        return key >> SHIFT, None, low ^ PAGE_BIT
    return key >> SHIFT, low, None


def docnos_of(keys: np.ndarray) -> np.ndarray:
    return np.asarray(keys, dtype=np.int64) >> SHIFT


def unit_keys(unit: str, docnos: np.ndarray, ordinals: np.ndarray, pages: np.ndarray) -> np.ndarray:
    """Keys of passage hits at ``unit`` (``pages``: 1-based page per hit, 0 when the document has none).

    >>> unit_keys("page", np.array([1, 1]), np.array([0, 4]), np.array([2, 0])).tolist() == [page_key(1, 2), passage_key(1, 4)]
    True
    """
    d = np.asarray(docnos, dtype=np.int64) << SHIFT
    o = np.asarray(ordinals, dtype=np.int64)
    if unit == "passage":
        return d | o
    if unit == "page":
        p = np.asarray(pages, dtype=np.int64)
        return np.where(p > 0, d | PAGE_BIT | p, d | o)
    raise ValueError(f"passage hits become passage or page keys, not {unit!r}")


def aggregate(
    keys: np.ndarray, ordinals: np.ndarray, scores: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Passage hits -> unit hits: each key scores as its best passage (max); top ``n`` keys best first, with the
    best passage's ordinal per key.

    >>> k, s, best = aggregate(np.array([7, 9, 7]), np.array([0, 3, 1]), np.array([0.5, 0.9, 0.8]), 10)
    >>> k.tolist(), [round(float(x), 2) for x in s], best
    ([9, 7], [0.9, 0.8], {9: 3, 7: 1})
    """
    keys = np.asarray(keys, dtype=np.int64)
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64), {}
    scores = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((keys, -scores))
    ks, ss, os_ = keys[order], scores[order], np.asarray(ordinals, dtype=np.int64)[order]
    _, first = np.unique(ks, return_index=True)
    first = np.sort(first)[:n]
    return ks[first], ss[first], {int(k): int(o) for k, o in zip(ks[first], os_[first])}


class PassageTable:
    """Page of each passage and passages of each page, read from the document store (cached per segment)."""

    def __init__(self, docs: Any) -> None:
        self.docs = docs
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._starts = np.array([s.start for s in docs.segments], dtype=np.int64)

    def _segment(self, i: int) -> tuple[Any, np.ndarray, np.ndarray]:
        s = self.docs.segments[i]
        got = self._cache.get(s.name)
        if got is None:
            col = s.passages.column("page")
            pages = np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            got = self._cache[s.name] = (pages, np.asarray(s.passage_offsets, dtype=np.int64))
        return s, *got

    def pages(self, docnos: np.ndarray, ordinals: np.ndarray) -> np.ndarray:
        """1-based page of each (docno, ordinal) passage; 0 where the document has no pages."""
        docnos = np.asarray(docnos, dtype=np.int64)
        ordinals = np.asarray(ordinals, dtype=np.int64)
        out = np.zeros(len(docnos), dtype=np.int64)
        if not len(docnos) or not len(self._starts):
            return out
        seg_of = np.searchsorted(self._starts, docnos, side="right") - 1
        for i in np.unique(seg_of).tolist():
            if i < 0:
                continue
            s, pages, offsets = self._segment(i)
            m = seg_of == i
            r = docnos[m] - s.start
            ok = (r >= 0) & (r < s.n_docs)
            rows = offsets[np.minimum(r, s.n_docs - 1)] + ordinals[m]
            ok &= rows < offsets[np.minimum(r + 1, s.n_docs)]
            vals = np.where(ok, pages[np.minimum(rows, max(len(pages) - 1, 0))] if len(pages) else 0, 0)
            out[m] = vals
        return out

    def ordinals_of_page(self, docno: int, page: int) -> np.ndarray:
        """Ordinals of the passages of ``page`` (1-based) of document ``docno``."""
        i = int(np.searchsorted(self._starts, docno, side="right") - 1)
        s, pages, offsets = self._segment(i)
        r = int(docno) - s.start
        lo, hi = int(offsets[r]), int(offsets[r + 1])
        return np.flatnonzero(pages[lo:hi] == int(page)).astype(np.int64)

    def groups(self, keys: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(docno per key, passage ordinals per key): one passage for a passage key, a page's passages for a page."""
        docnos, groups = [], []
        for k in np.asarray(keys, dtype=np.int64).tolist():
            d, o, p = decode(k)
            docnos.append(d)
            if o is not None:
                groups.append(np.array([o], np.int64))
            else:
                assert p is not None  # a key is a passage (ordinal) or a page (page number)
                groups.append(self.ordinals_of_page(d, p))
        return np.array(docnos, dtype=np.int64), groups


def page_span(row: dict[str, Any], page: int) -> tuple[int, int] | None:
    """Character span of ``page`` (1-based) in a stored document row, from its page spans."""
    if not row.get("pages"):
        return None
    for p, start, end in json.loads(row["pages"]):
        if p == page:
            return int(start), int(end)
    return None
