"""A hit's relevance on a scale that means the same for every query, so a no-answer floor can be one number.

Fused and reranked scores cannot serve: RRF scores depend on ranks only, and min-max combination puts every
query's top hit at 1.0, so a floor on them refuses everything or nothing. ``relevance`` is instead, per pipeline:

- ``dense_cosine`` (the query was encoded by the index's dense model): the cosine of the query with the
  document's best passage, in [-1, 1], for every hit, whichever retriever found it. all-MiniLM-L6-v2 on SciFact
  (benchmarks/calibrate_floor.py): see README "No answer below a floor".
- ``bm25_share`` (BM25 alone): the document's BM25 score over the most the query's terms could score,
  ``sum over distinct query terms t of qtf(t) * idf(t)`` (Lucene's per-term BM25 is below ``idf(t)``; a term the
  index has never seen counts with ``df = 0``), in [0, 1): 0 when nothing matches, about 0.5 when every query term
  occurs once in a document of average length. A query of words the collection does not use scores near 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

DENSE = "dense_cosine"
BM25 = "bm25_share"


def bm25_share(bm25_scores: np.ndarray, query_terms: Sequence[str], idf: Mapping[str, float], boost: float = 1.0) -> np.ndarray:
    """BM25 scores as a share of the query's maximal score.

    >>> bm25_share(np.array([1.0, 0.0]), ["a", "b", "a"], {"a": 1.0, "b": 2.0}).tolist()  # max 2*1 + 1*2 = 4
    [0.25, 0.0]
    """
    top = boost * sum(n * idf.get(t, 0.0) for t, n in Counter(query_terms).items())
    scores = np.asarray(bm25_scores, dtype=np.float64)
    return np.zeros_like(scores) if top <= 0 else np.clip(scores / top, 0.0, 1.0)
