"""Rank fusion: reciprocal rank fusion and weighted min-max score fusion.

Each input is a ranking: ``(ids, scores)`` best first. Ranks count from 1.

>>> ids, s = rrf({"a": ([7, 8], [9.0, 1.0]), "b": ([9, 8, 7], [3.0, 2.0, 1.0])}, k=60)
>>> [int(i) for i in ids]
[7, 8, 9]
>>> round(float(s[0]), 6) == round(1 / (60 + 1) + 1 / (60 + 3), 6)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Ranking = tuple[Sequence[int] | np.ndarray, Sequence[float] | np.ndarray]


def rrf(
    rankings: Mapping[str, Ranking], *, k: float = 60.0, weights: Mapping[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """score(d) = sum over retrievers r of w_r / (k + rank_r(d)); ties broken by smaller id."""
    acc: dict[int, float] = {}
    for name, (ids, _) in rankings.items():
        w = 1.0 if weights is None else float(weights.get(name, 1.0))
        for rank, i in enumerate(np.asarray(ids).tolist(), start=1):
            acc[i] = acc.get(i, 0.0) + w / (k + rank)
    return _sorted(acc)


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant ranking maps to 1.

    >>> minmax(np.array([2.0, 4.0, 3.0])).tolist()
    [0.0, 1.0, 0.5]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo <= 0:
        return np.ones_like(scores)
    return (scores - lo) / (hi - lo)


def weighted_minmax(
    rankings: Mapping[str, Ranking], *, weights: Mapping[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """score(d) = sum over retrievers of w_r * minmax(score_r)(d); a document absent from a ranking gets 0 there."""
    acc: dict[int, float] = {}
    for name, (ids, scores) in rankings.items():
        w = 1.0 if weights is None else float(weights.get(name, 1.0))
        for i, s in zip(np.asarray(ids).tolist(), minmax(np.asarray(scores)).tolist()):
            acc[i] = acc.get(i, 0.0) + w * s
    return _sorted(acc)


def _sorted(acc: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    if not acc:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    ids = np.fromiter(acc.keys(), dtype=np.int64, count=len(acc))
    scores = np.fromiter(acc.values(), dtype=np.float64, count=len(acc))
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]


FUSIONS = {"rrf": rrf, "weighted": weighted_minmax}
