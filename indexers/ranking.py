"""What every index search returns: one typed record of document hits (:class:`Ranking`) and one of passage hits
(:class:`PassageHits`), both plain numpy arrays best first (no per-hit objects: the BM25 path is sub-millisecond).

An index's ``search(query, n, ...)`` returns a :class:`Ranking`; a passage-level index also ranks passages with
``search_passages(query, n, ...) -> PassageHits``. Retrievers (``rag.ranking``) return these same records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass
class Ranking:
    """Documents best first: ``docnos`` (int64), ``scores`` (float32), and, where the search knows it, each
    document's best passage (``passages``: docno -> passage ordinal).

    >>> r = Ranking(np.array([7, 3]), np.array([0.9, 0.5], np.float32), {7: 2})
    >>> r.docnos.tolist(), r.passages
    ([7, 3], {7: 2})
    """

    docnos: np.ndarray
    scores: np.ndarray
    passages: dict[int, int] | None = None  # docno -> passage ordinal

    @classmethod
    def empty(cls, passages: bool = False) -> Ranking:
        """No hits (with an empty best-passage map when ``passages``)."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32), {} if passages else None)


class PassageHits(NamedTuple):
    """Passages best first: aligned ``docnos``, ``ordinals`` (within each document) and ``scores``.

    >>> docnos, ordinals, scores = PassageHits(np.array([3]), np.array([0]), np.array([1.5], np.float32))
    >>> int(docnos[0]), int(ordinals[0])
    (3, 0)
    """

    docnos: np.ndarray
    ordinals: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> PassageHits:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
