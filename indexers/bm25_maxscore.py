"""Exact top-k BM25 with block-max MaxScore over compressed posting blocks (compiled with numba).

One compiled call answers a query over every segment: it looks the query terms up in each segment, counts their
live document frequencies, weighs them (idf x query count), then runs document-at-a-time MaxScore (Turtle & Flood)
with block-max bounds (Ding & Suel; Chakrabarti et al.) segment after segment:

- a term's upper bound in a segment is the best bound of its blocks, ``w * maxtf / (maxtf + k1 (1 - b + b mindl /
  avgdl))`` (``indexers.postings`` keeps each block's largest tf and shortest document, so the bound holds for any
  collection statistics);
- terms are sorted by bound; the longest prefix whose bounds sum to at most the current k-th best score ``theta``
  is *non-essential*: a document containing only those terms cannot enter the top k, so candidates come from the
  essential lists only;
- a candidate's non-essential terms are probed from the largest bound down; before decoding a block the probe
  checks that block's own bound, and stops as soon as the candidate cannot beat ``theta``.

Nothing is approximated: a document is skipped only when a valid bound proves it cannot beat the k-th best, so
the top k equal exhaustive scoring's (ties go to the smaller docno: segments are visited in docno order and a
later document must beat ``theta`` strictly). The heap is carried across segments, so later segments start
with the threshold earlier ones reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

#: bounds are inflated by this factor so float rounding can never make a bound smaller than a real score
_SLACK = 1.0 + 1e-9
#: documents per window: essential terms are scored term at a time into this many accumulators (Lucene's
#: MaxScoreBulkScorer does the same), which beats document-at-a-time cursors on long, similar lists
WINDOW = 4096
IDF_KINDS = {"lucene": 0, "robertson": 1}
_COUNTERS = np.zeros(4, np.int64)  # scratch when the caller does not ask for counters


@dataclass
class SegmentTable:
    """Every segment's arrays as numba typed lists (built once per set of segments, reused by each query)."""

    segments: Any  # numba typed List of one tuple of arrays per segment (FIELDS + norms); one cheap argument
    starts: np.ndarray  # int64 [S]
    n_docs: np.ndarray  # int64 [S]

    FIELDS = ("term_ids", "term_ptr", "term_blk", "data", "blk_off", "blk_last", "blk_bits", "blk_tfbits",
              "blk_maxtf", "blk_mindl")

    @classmethod
    def build(cls, segments: Sequence[Any], k1: float, b: float, avgdl: float) -> SegmentTable:
        """``segments``: objects with ``blocks`` (PostingBlocks), ``doc_len`` and ``start``, in docno order.

        Each document's length norm ``k1 (1 - b + b dl / avgdl)`` and ``1 / (1 + norm)`` (the weight of tf = 1, most
        postings: no division at query time) are computed here, once per collection state."""
        from indexers.bm25_maxscore_jit import list_append, list_of

        lst = None
        for s in segments:
            arrays = [_readonly(getattr(s.blocks, name)) for name in cls.FIELDS]
            norm = k1 * (1.0 - b) + (k1 * b / avgdl if avgdl > 0 else 0.0) * np.asarray(s.doc_len, dtype=np.float64)
            arrays.append(_readonly(norm))
            arrays.append(_readonly(1.0 / (1.0 + norm)))
            if lst is None:
                lst = list_of(tuple(arrays))
            else:
                list_append(lst, tuple(arrays))
        return cls(lst, np.array([s.start for s in segments], np.int64),
                   np.array([s.n_docs for s in segments], np.int64))


def _readonly(a: np.ndarray) -> np.ndarray:
    """A plain read-only C-contiguous view (memory maps are read-only; numba wants one array type per list)."""
    v = np.asarray(a)
    if v.flags.writeable or not v.flags.c_contiguous:
        v = np.ascontiguousarray(v).view()
        v.flags.writeable = False
    return v


def top_k_bm25(table: SegmentTable, terms: np.ndarray, qcount: np.ndarray, alive: np.ndarray,
               dirty: np.ndarray, allowed: np.ndarray | None, n_live: int, avgdl: float, k1: float, b: float,
               idf: str, k: int, counters: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` (docnos int64, scores float32) best first, ties by smaller docno; only scores > 0.

    ``terms`` int64: distinct query term ids (sorted); ``qcount``: how often each occurs in the query;
    ``alive`` bool by docno; ``dirty`` bool per segment: it holds postings of deleted documents (their rows are
    then checked against ``alive`` and left out of document frequencies); ``allowed``: an optional bool mask
    by docno (as long as ``alive``). ``counters`` (int64 [4], optional) accumulates what the search did:
    candidates looked at, blocks decoded, heap insertions, blocks in the query terms' lists.
    """
    if k <= 0 or len(terms) == 0 or n_live == 0 or len(table.starts) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    use_allowed = allowed is not None
    d, s = _kernel()(table.segments, table.starts, table.n_docs, np.ascontiguousarray(terms, dtype=np.int64),
                     np.ascontiguousarray(qcount, dtype=np.float64), alive, dirty,
                     allowed if use_allowed else alive, use_allowed, float(n_live), float(avgdl), float(k1), float(b),
                     IDF_KINDS[idf], int(k), _COUNTERS if counters is None else counters)
    return d, s.astype(np.float32)


@lru_cache(maxsize=1)
def _kernel() -> Any:
    from indexers.bm25_maxscore_jit import search

    return search
