"""Encoders shared by concurrent searches and an ingest: calls serialised per model, documents in small chunks.

Hugging Face fast tokenizers must not be called from several threads at once ("Already borrowed"), so every
``encode`` of one model holds that model's lock. A large ingest encodes its passages chunk by chunk, taking the
lock per chunk, so a query waits for at most one chunk instead of a whole commit batch.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from rag.encoders.base import Encoded

DOCUMENT_CHUNK = 64


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
        out.multivector = [m for p in parts for m in p.multivector]
    return out


class SharedEncoder:
    """Wraps one encoder: same ``info`` and ``encode`` signature, thread-safe, documents chunked."""

    def __init__(self, encoder: Any, chunk: int = DOCUMENT_CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1 text, got {chunk}")
        self.inner = encoder
        self.chunk = chunk
        self._lock = threading.Lock()

    @property
    def info(self) -> Any:
        return self.inner.info

    def encode(self, texts: Sequence[str], *, kind: str, want: Sequence[str] = ("dense", "sparse", "multivector"), batch_size: int = 32) -> Encoded:
        texts = list(texts)
        if kind != "document" or len(texts) <= self.chunk:
            with self._lock:
                return self.inner.encode(texts, kind=kind, want=want, batch_size=batch_size)
        parts = []
        for i in range(0, len(texts), self.chunk):
            with self._lock:
                parts.append(self.inner.encode(texts[i : i + self.chunk], kind=kind, want=want, batch_size=batch_size))
        return concat_encoded(parts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def share_encoders(encoders: dict[str, Any], chunk: int = DOCUMENT_CHUNK) -> dict[str, Any]:
    """Wrap each distinct encoder once; representations served by one model keep sharing one wrapper."""
    wrapped: dict[int, SharedEncoder] = {}
    out: dict[str, Any] = {}
    for rep, enc in encoders.items():
        if id(enc) not in wrapped:
            wrapped[id(enc)] = enc if isinstance(enc, SharedEncoder) else SharedEncoder(enc, chunk)
        out[rep] = wrapped[id(enc)]
    return out
