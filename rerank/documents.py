"""From per-passage, per-query-token maxima to passage and document scores (pure numpy).

``token_max`` is float32 ``[m, n_q]``: for candidate passage ``p`` and query token ``i``, the best dot product
``max_j q_i . x_j`` over the passage's tokens, ``-inf`` for an empty passage. The passage score is the row sum,
0 for an empty passage. Documents group consecutive candidates through ``doc_offsets`` ``[n_docs + 1]``:

- ``"best_passage"`` (Vespa's form): a document scores as its best passage;
- ``"cross_passage"``: MaxSim over the union of the document's passage tokens, i.e. per query token the max over
  its passages, then the sum.

A document with no candidate passages, or only empty ones, scores 0.
"""

from __future__ import annotations

import numpy as np

DOCUMENT_MODES = ("best_passage", "cross_passage")


def passage_scores(token_max: np.ndarray) -> np.ndarray:
    """Row sums of ``token_max [m, n_q]`` as float32 ``[m]``; a row of ``-inf`` (empty passage) scores 0.

    >>> passage_scores(np.array([[1.0, 2.0], [-np.inf, -np.inf]], dtype=np.float32)).tolist()
    [3.0, 0.0]
    """
    if token_max.shape[1] == 0:
        return np.zeros(token_max.shape[0], dtype=np.float32)
    empty = np.isneginf(token_max[:, 0])
    totals = token_max.sum(axis=1, dtype=np.float32)
    totals[empty] = 0.0
    return totals


def document_scores(
    token_max: np.ndarray, doc_offsets: np.ndarray, mode: str = "best_passage"
) -> tuple[np.ndarray, np.ndarray]:
    """Score documents from their candidates' per-query-token maxima.

    ``token_max`` float32 ``[m, n_q]`` (rows ordered by document), ``doc_offsets`` int64 ``[n_docs + 1]``
    (document ``k`` owns rows ``doc_offsets[k]:doc_offsets[k + 1]``). Returns ``(scores float32 [n_docs],
    best int64 [n_docs])``: ``best`` is the row of the document's best-scoring passage (first one on ties) in
    both modes, ``-1`` for a document without candidates.

    Worked example, query tokens a and b; passage 0 matches a best (3) and b weakly (1), passage 1 the other way
    round (1 and 2): best passage = max(3 + 1, 1 + 2) = 4; cross passage = max(3, 1) + max(1, 2) = 5.

    >>> tm = np.array([[3.0, 1.0], [1.0, 2.0]], dtype=np.float32)
    >>> document_scores(tm, np.array([0, 2, 2]), "best_passage")
    (array([4., 0.], dtype=float32), array([ 0, -1]))
    >>> document_scores(tm, np.array([0, 2, 2]), "cross_passage")[0].tolist()
    [5.0, 0.0]
    """
    if mode not in DOCUMENT_MODES:
        raise ValueError(f"mode must be one of {DOCUMENT_MODES}, got {mode!r}")
    n_docs = len(doc_offsets) - 1
    scores = np.zeros(n_docs, dtype=np.float32)
    best = np.full(n_docs, -1, dtype=np.int64)
    counts = np.diff(doc_offsets)
    has = np.flatnonzero(counts > 0)
    if len(has) == 0:
        return scores, best
    starts = doc_offsets[:-1][has]
    per_passage = passage_scores(token_max)
    doc_of_row = np.repeat(np.arange(n_docs), counts)
    order = np.lexsort((np.arange(len(per_passage)), -per_passage, doc_of_row))  # by doc, score desc, row
    best[has] = order[starts]
    if mode == "best_passage":
        scores[has] = per_passage[best[has]]
    else:
        union_max = np.maximum.reduceat(token_max, starts, axis=0)  # [len(has), n_q]
        scores[has] = passage_scores(union_max)
    return scores, best
