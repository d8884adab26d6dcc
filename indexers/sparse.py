"""Learned-sparse passage vectors (BGE-M3 style term weights) in an inverted index with exact dot products.

Each segment stores its passages' weights column-wise (CSC, term -> passages): ``indptr`` [V + 1], ``rows``
int32 [nnz], ``weights`` float32 [nnz], all memory-mapped. A query's score for a passage is the exact dot product
of the two weight vectors; a document's score is its best passage's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from indexers.arrays import fit_mask
from indexers.passage_index import PassageIndex, best_per_document, top_passages
from indexers.ranking import PassageHits, Ranking


def _csr(x: Any) -> Any:
    import scipy.sparse as sp

    return sp.csr_matrix(x, dtype=np.float32)


class SparseIndex(PassageIndex):
    kind = "sparse"
    representation = "sparse"
    payload_files = ("indptr", "rows", "weights", "term_ids")

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = int(vocab_size)

    def params(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size}

    def compact(self, m: Any) -> Any:
        """Term weights as a float32 CSR matrix (a dense array from an encoder would be vocabulary-wide)."""
        return _csr(m)

    def _build(self, batch: Any) -> dict[str, np.ndarray]:
        m = batch.encoded.get("sparse")
        if m is None:
            raise ValueError("this index has a sparse component but the batch carries no sparse vectors")
        m = _csr(m)
        if m.shape != (len(batch.passage_docnos), self.vocab_size):
            raise ValueError(f"sparse matrix must be [{len(batch.passage_docnos)}, {self.vocab_size}], got {m.shape}")
        m.eliminate_zeros()
        csc = m.tocsc()
        csc.sort_indices()
        # keep only terms present in this segment: term_ids [U], indptr [U + 1]
        counts = np.diff(csc.indptr)
        present = np.flatnonzero(counts)
        indptr = np.concatenate([[0], np.cumsum(counts[present])]).astype(np.int64)
        return {
            "term_ids": present.astype(np.int64),
            "indptr": indptr,
            "rows": csc.indices.astype(np.int32),
            "weights": csc.data.astype(np.float32),
        }

    def search(
        self, query: Any, n: int, *, allowed: np.ndarray | None = None, n_docnos: int | None = None
    ) -> Ranking:
        """``query``: a 1 x V sparse row (or dict term id -> weight). Top ``n`` documents, with best passages."""
        hits = self._passage_hits(query, allowed, n_docnos)
        if hits is None:
            return Ranking.empty(passages=True)
        return Ranking(*best_per_document(*hits, n))

    def search_passages(
        self, query: Any, n: int, *, allowed: np.ndarray | None = None, n_docnos: int | None = None
    ) -> PassageHits:
        """Top ``n`` live passages by dot product, best first."""
        hits = self._passage_hits(query, allowed, n_docnos)
        if hits is None:
            return PassageHits.empty()
        return top_passages(*hits, n)

    def _passage_hits(
        self, query: Any, allowed: np.ndarray | None, n_docnos: int | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Every live passage with a positive score: (docnos, ordinals, scores), or None when there is none."""
        if isinstance(query, dict):
            terms = np.fromiter(query.keys(), dtype=np.int64)
            qw = np.fromiter(query.values(), dtype=np.float32)
        else:
            q = _csr(query)
            terms, qw = q.indices.astype(np.int64), q.data.astype(np.float32)
        total = n_docnos or self.max_docno
        alive = self.alive_docnos(total)
        if allowed is not None:
            alive = alive & fit_mask(allowed, total)
        ds, os_, ss = [], [], []
        for seg in self.segments:
            if not len(seg):
                continue
            tids = np.asarray(seg.arrays["term_ids"])
            pos = np.searchsorted(tids, terms)
            hit = (pos < len(tids)) & (tids[np.minimum(pos, len(tids) - 1)] == terms) if len(tids) else np.zeros(len(terms), bool)
            if not hit.any():
                continue
            indptr, rows, w = seg.arrays["indptr"], seg.arrays["rows"], seg.arrays["weights"]
            acc = np.zeros(len(seg), dtype=np.float32)
            for p, qv in zip(pos[hit].tolist(), qw[hit].tolist()):
                lo, hi = int(indptr[p]), int(indptr[p + 1])
                np.add.at(acc, np.asarray(rows[lo:hi]), qv * np.asarray(w[lo:hi]))
            touched = np.flatnonzero(acc > 0)
            d = np.asarray(seg.docnos)[touched]
            keep = alive[d]
            ds.append(d[keep])
            os_.append(np.asarray(seg.ordinals)[touched[keep]])
            ss.append(acc[touched[keep]])
        if not ds:
            return None
        return np.concatenate(ds), np.concatenate(os_), np.concatenate(ss)
