"""The first-stage retrievers over latte's own indexes: BM25 over documents (and passages), dense and sparse over
passages. Each is built for a snapshot by its entry in ``rag.retrievers``; a document's score is its best passage's
for the passage indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.ranking import PassageHits, Ranking, SearchOptions, with_lang

if TYPE_CHECKING:  # the indexes load lazily, with the snapshot
    from indexers.bm25 import BM25Index
    from indexers.dense import DenseIndex
    from indexers.passage_bm25 import PassageBM25Index
    from indexers.sparse import SparseIndex


class BM25Retriever:
    """Document BM25; passages from the passage-level BM25 index (``bm25_passages``) where the index has one."""

    name = "bm25"

    def __init__(self, index: BM25Index, passages: PassageBM25Index | None = None) -> None:
        self.index = index
        self.passages = passages

    def retrieve(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> Ranking:
        return self.index.search(with_lang(query, opt), n, allowed=allowed)

    def retrieve_passages(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> PassageHits | None:
        """Top passages; None when the index predates passage BM25 (the planner then falls back)."""
        if self.passages is None:
            return None
        return self.passages.search_passages(query, n, allowed=allowed)


class PassageRetriever:
    """Dense or sparse retrieval over passages; a document's score is its best passage's."""

    def __init__(self, name: str, index: DenseIndex | SparseIndex, representation: str, n_docnos: int) -> None:
        self.name = name
        self.index = index
        self.representation = representation
        self.n_docnos = n_docnos

    def _query(self, encoded: dict[str, Any]) -> Any:
        q = encoded.get(self.representation)
        if q is None:
            raise RuntimeError(f"the {self.name} retriever needs a {self.representation} query encoder; none is loaded")
        return q

    def retrieve(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> Ranking:
        return self.index.search(self._query(encoded), n, allowed=allowed, n_docnos=self.n_docnos)

    def retrieve_passages(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> PassageHits:
        q = self._query(encoded)
        return self.index.search_passages(q, n, allowed=allowed, n_docnos=self.n_docnos)


def bm25_retriever(snapshot: Any, encoders: Mapping[str, Any]) -> BM25Retriever | None:
    """BM25 where the index has it (every profile builds it)."""
    if snapshot.get("bm25") is None:
        return None
    return BM25Retriever(snapshot["bm25"], snapshot.get("bm25_passages"))


def _passage_retriever(name: str, rep: str, snapshot: Any, encoders: Mapping[str, Any]) -> PassageRetriever | None:
    if snapshot.get(name) is None or rep not in encoders:
        return None
    return PassageRetriever(name, snapshot[name], rep, snapshot.manifest.next_docno)


def dense_retriever(snapshot: Any, encoders: Mapping[str, Any]) -> PassageRetriever | None:
    """Dense passages where the index has them and a dense query encoder is loaded."""
    return _passage_retriever("dense", "dense", snapshot, encoders)


def sparse_retriever(snapshot: Any, encoders: Mapping[str, Any]) -> PassageRetriever | None:
    """Sparse passages where the index has them and a sparse query encoder is loaded."""
    return _passage_retriever("sparse", "sparse", snapshot, encoders)
