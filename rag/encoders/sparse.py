"""Token weights to a learned-sparse vocabulary vector (SPLADE / BGE-M3 lexical weights)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import sparse as sp


def max_weight_per_token(
    weights: np.ndarray,
    ids: np.ndarray,
    vocab_size: int,
    *,
    drop_ids: Iterable[int] = (),
    mask: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Keep, per text and vocabulary id, the largest positive weight among that id's occurrences.

    ``weights``: float ``[b, t]``; ``ids``: int ``[b, t]`` token ids; ``mask``: optional ``[b, t]``
    (0 = padding, dropped). Ids in ``drop_ids`` (special tokens) and weights ``<= 0`` are left out.
    Returns a float32 CSR matrix ``[b, vocab_size]`` with sorted column indices.

    >>> m = max_weight_per_token(np.array([[0.5, 0.25, 0.75, 0.0]]), np.array([[0, 7, 7, 3]]), 10, drop_ids=[0])
    >>> m.indices.tolist(), m.data.tolist()
    ([7], [0.75])
    """
    weights = np.asarray(weights, dtype=np.float32)
    ids = np.asarray(ids)
    if weights.shape != ids.shape or weights.ndim != 2:
        raise ValueError(f"weights {weights.shape} and ids {ids.shape} must both be [batch, tokens].")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"token ids must lie in [0, {vocab_size}); got {ids.min()}..{ids.max()}.")
    keep = weights > 0
    if mask is not None:
        keep &= np.asarray(mask).astype(bool)
    drop = np.fromiter(drop_ids, dtype=np.int64)
    if drop.size:
        keep &= ~np.isin(ids, drop)
    rows = np.broadcast_to(np.arange(weights.shape[0])[:, None], weights.shape)[keep]
    cols = ids[keep].astype(np.int64)
    vals = weights[keep]
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    if vals.size:
        starts = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])])
        vals = np.maximum.reduceat(vals, starts)
        rows, cols = rows[starts], cols[starts]
    indptr = np.zeros(weights.shape[0] + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    indptr = np.cumsum(indptr)
    return sp.csr_matrix((vals.astype(np.float32), cols, indptr), shape=(weights.shape[0], vocab_size))
