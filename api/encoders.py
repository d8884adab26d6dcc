"""Encoders shared by concurrent searches and an ingest: calls serialised per model, queries first.

Hugging Face fast tokenizers must not be called from several threads at once ("Already borrowed"), so every
``encode`` of one model holds that model's lock. A large ingest encodes its passages in small chunks
(``DOCUMENT_CHUNK`` texts), taking the lock per chunk, and the lock serves queries first: a query that arrives
while a document chunk is encoding runs as soon as that chunk ends, before the next one (up to ``QUERY_BURST``
queries in a row, so a stream of searches cannot starve the ingest), so searches wait for at most one small chunk
and a few queries, never behind an ingest (``benchmarks/bench_query_during_ingest.py`` measures it). One model
instance serves both, so this costs no memory, and encodes never run at once, so they do not fight over cores.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.encoders.base import Encoded

DOCUMENT_CHUNK = 16
#: False: waiting queries and document chunks take the model in no particular order (the behaviour before)
QUERIES_FIRST = True
#: queries that may go ahead of a waiting document chunk in a row (then the chunk runs: no starved ingest)
QUERY_BURST = 4


def concat_encoded(parts: Sequence[Encoded]) -> Encoded:
    """One ``Encoded`` for the texts of ``parts`` in order: dense rows stacked ``[sum n_i, d]``, sparse rows
    stacked (CSR), multivector lists joined.

    >>> a = Encoded(dense=np.ones((1, 2), np.float32), multivector=[np.zeros((3, 2), np.float32)])
    >>> b = Encoded(dense=np.zeros((2, 2), np.float32), multivector=[np.ones((1, 2), np.float32)] * 2)
    >>> c = concat_encoded([a, b])
    >>> c.dense.shape, len(c.multivector), c.sparse
    ((3, 2), 3, None)
    """
    if len(parts) == 1:
        return parts[0]
    out = Encoded()
    if parts and all(p.dense is not None for p in parts):
        out.dense = np.concatenate([p.dense for p in parts], axis=0)
    if parts and all(p.sparse is not None for p in parts):
        import scipy.sparse as sp

        out.sparse = sp.vstack([p.sparse for p in parts], format="csr")
    if parts and all(p.multivector is not None for p in parts):
        out.multivector = [m for p in parts for m in p.multivector or ()]
    return out


class QueryFirstLock:
    """A lock whose waiting queries go before waiting documents (``acquire(query=True)``), at most ``burst`` in a
    row while a document waits, so searches in a closed loop cannot starve an ingest either."""

    def __init__(self, queries_first: bool = True, burst: int = QUERY_BURST) -> None:
        self.queries_first = queries_first
        self.burst = burst
        self._cond = threading.Condition()
        self._busy = False
        self._queries_waiting = 0
        self._documents_waiting = 0
        self._queries_in_row = 0  # queries served since a document last held the lock

    @property
    def queries_waiting(self) -> int:
        return self._queries_waiting

    def _query_may_go(self) -> bool:
        return not self._busy and (self._documents_waiting == 0 or self._queries_in_row < self.burst)

    def _document_may_go(self) -> bool:
        return not self._busy and (
            not self.queries_first or self._queries_waiting == 0 or self._queries_in_row >= self.burst
        )

    def acquire(self, *, query: bool) -> None:
        with self._cond:
            if query:
                self._queries_waiting += 1
                try:
                    self._cond.wait_for(self._query_may_go if self.queries_first else lambda: not self._busy)
                finally:
                    self._queries_waiting -= 1
                self._queries_in_row += 1
            else:
                self._documents_waiting += 1
                try:
                    self._cond.wait_for(self._document_may_go)
                finally:
                    self._documents_waiting -= 1
                self._queries_in_row = 0
            self._busy = True

    def release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()


class SharedEncoder:
    """Wraps one encoder: same ``info`` and ``encode`` signature, thread-safe, documents chunked, queries first."""

    def __init__(self, encoder: Any, chunk: int = DOCUMENT_CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1 text, got {chunk}")
        self.inner = encoder
        self.chunk = chunk
        self.lock = QueryFirstLock(QUERIES_FIRST, QUERY_BURST)

    @property
    def info(self) -> Any:
        return self.inner.info

    def _encode(self, texts: list[str], kind: str, want: Sequence[str], batch_size: int) -> Encoded:
        self.lock.acquire(query=kind == "query")
        try:
            return self.inner.encode(texts, kind=kind, want=want, batch_size=batch_size)
        finally:
            self.lock.release()

    def encode(self, texts: Sequence[str], *, kind: str, want: Sequence[str] = ("dense", "sparse", "multivector"), batch_size: int = 32) -> Encoded:
        texts = list(texts)
        if kind != "document" or len(texts) <= self.chunk:
            return self._encode(texts, kind, want, batch_size)
        parts = [self._encode(texts[i : i + self.chunk], kind, want, batch_size) for i in range(0, len(texts), self.chunk)]
        return concat_encoded(parts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def share_encoders(encoders: dict[str, Any], chunk: int | None = None) -> dict[str, Any]:
    """Wrap each distinct encoder once; representations served by one model keep sharing one wrapper."""
    wrapped: dict[int, SharedEncoder] = {}
    out: dict[str, Any] = {}
    for rep, enc in encoders.items():
        if id(enc) not in wrapped:
            wrapped[id(enc)] = enc if isinstance(enc, SharedEncoder) else SharedEncoder(enc, chunk or DOCUMENT_CHUNK)
        out[rep] = wrapped[id(enc)]
    return out
