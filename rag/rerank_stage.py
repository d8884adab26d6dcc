"""The late-interaction stage: MaxSim rerank of fused candidates, and the exact MaxSim ranker (``colbert`` mode).

Reranking scores each of the fused top ``rerank_depth`` documents by its best passage's MaxSim over the binary
tensor arrays. ``rerank_combine`` says how that evidence meets the first stage's:

- ``replace``: order by MaxSim alone;
- ``rrf``: RRF over the first-stage rank and the MaxSim rank, weights ``1 - w`` and ``w``;
- ``weighted``: ``(1 - w) * minmax(first stage) + w * minmax(MaxSim)``.

At the passage and page units the candidates are unit keys (``rag.units``): a passage scores as its own MaxSim,
a page as its best passage's. Documents below the rerank depth keep their first-stage order after the reranked ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import UserError
from rag.fusion import minmax, rrf
from rag.ranking import PassageHits, Ranking, SearchOptions

if TYPE_CHECKING:  # the index loads lazily, with the snapshot
    from indexers.tensors import TensorIndex


def combine(first_ids: np.ndarray, first_scores: np.ndarray, maxsim: np.ndarray, how: str, w: float) -> tuple[np.ndarray, np.ndarray]:
    """Order candidates (aligned arrays) by the combined evidence; returns (ids, scores) best first.

    >>> ids, s = combine(np.array([1, 2, 3]), np.array([3.0, 2.0, 1.0]), np.array([0.1, 0.9, 0.5]), "replace", 0.5)
    >>> ids.tolist()
    [2, 3, 1]
    """
    if how == "replace":
        order = np.lexsort((np.arange(len(maxsim)), -maxsim))
        return first_ids[order], maxsim[order].astype(np.float64)
    if how == "rrf":
        by_ms = first_ids[np.lexsort((np.arange(len(maxsim)), -maxsim))]
        ids, scores = rrf({"first": (first_ids, first_scores), "maxsim": (by_ms, maxsim)}, weights={"first": 1 - w, "maxsim": w})
        return ids, scores
    if how == "weighted":
        s = (1 - w) * minmax(first_scores) + w * minmax(maxsim)
        order = np.lexsort((np.arange(len(s)), -s))
        return first_ids[order], s[order]
    raise UserError(f"rerank_combine must be replace, rrf or weighted (got {how!r})")


def maxsim_rerank(
    planner: Any, query: str, encoded: dict[str, Any], ids: np.ndarray, scores: np.ndarray, opt: SearchOptions
) -> tuple[np.ndarray, np.ndarray, dict[int, float], dict[int, int]] | None:
    """MaxSim over the fused top ``opt.rerank_depth`` candidates: (ids, scores, MaxSim by candidate, best passage
    by candidate), or None when there is nothing to rerank with (no tensors, no multi-vector query, rerank off)."""
    tensors = planner.snapshot.get("tensors")
    q = encoded.get("multivector")
    if tensors is None or q is None or opt.rerank is False or len(ids) == 0:
        if opt.rerank and tensors is None:
            raise UserError("rerank was asked for, but this index has no tensor arrays; ingest with a profile that builds them")
        return None
    depth = max(1, min(opt.rerank_depth, len(ids)))
    cand, cand_scores = np.asarray(ids[:depth]), np.asarray(scores[:depth], dtype=np.float64)
    if getattr(opt, "unit", "document") == "document":
        ms, best = tensors.score(q, cand, quantization=opt.quantization, mode=opt.maxsim_mode, backend=opt.backend)
    else:  # passage or page keys: each scores as its best passage's MaxSim
        docnos, groups = planner.passage_table.groups(cand)
        ms, ords = tensors.score_groups(q, docnos, groups, quantization=opt.quantization, backend=opt.backend)
        best = {int(k): int(o) for k, o in zip(cand.tolist(), ords.tolist()) if o >= 0}
    ms = np.where(np.isfinite(ms), ms, np.float32(-1e9))
    new_ids, new_scores = combine(cand, cand_scores, ms.astype(np.float64), opt.rerank_combine, opt.rerank_weight)
    rest_ids = np.asarray(ids[depth:])
    rest_scores = np.asarray(scores[depth:], dtype=np.float64)
    if len(rest_ids):  # keep them below every reranked document
        rest_scores = np.minimum(rest_scores, (new_scores.min() if len(new_scores) else 0) - 1 - np.arange(len(rest_ids)))
    ms_by_doc = {int(d): float(m) for d, m in zip(cand.tolist(), ms.tolist())}
    return np.concatenate([new_ids, rest_ids]), np.concatenate([new_scores, rest_scores]), ms_by_doc, best


class ColbertRanker:
    """Exact MaxSim over all documents (brute force over the tensor arrays)."""

    name = "colbert"

    def __init__(self, tensors: TensorIndex, n_docnos: int) -> None:
        self.tensors = tensors
        self.n_docnos = n_docnos

    @staticmethod
    def _query(encoded: dict[str, Any]) -> Any:
        q = encoded.get("multivector")
        if q is None:
            raise RuntimeError("colbert mode needs the multi-vector query encoder; none is loaded")
        return q

    def retrieve(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> Ranking:
        return self.tensors.search(
            self._query(encoded), n, allowed=allowed, n_docnos=self.n_docnos,
            quantization=opt.quantization, backend=opt.backend,
        )

    def retrieve_passages(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> PassageHits:
        return self.tensors.search_passages(
            self._query(encoded), n, allowed=allowed, n_docnos=self.n_docnos,
            quantization=opt.quantization, backend=opt.backend,
        )


def colbert_ranker(snapshot: Any, encoders: Mapping[str, Any]) -> ColbertRanker | None:
    """Exact MaxSim where the index has tensor arrays and the multi-vector query encoder is loaded."""
    if snapshot.get("tensors") is None or "multivector" not in encoders:
        return None
    return ColbertRanker(snapshot["tensors"], snapshot.manifest.next_docno)
