"""What every retriever takes and returns: the search options, the typed ranking records and the protocol.

``Ranking`` (documents) and ``PassageHits`` (passages) are the index searches' own records (``indexers.ranking``): a
retriever returns what its index's search returns, with no conversion.

The bottom of the query pipeline: the planner, the retriever table (``rag.retrievers``) and each retriever import
this module, and it imports none of them, so adding a retriever never makes an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from indexers.ranking import PassageHits, Ranking  # noqa: F401 (re-exported: the index searches' records)


@dataclass
class SearchOptions:
    k: int = 10
    mode: str = "auto"  # auto | bm25 | dense | sparse | hybrid | colbert  (or "bm25+dense+...")
    depth: int = 1000  # first-stage candidates per retriever
    fusion: str = "rrf"  # rrf | weighted
    rrf_k: float = 60.0
    weights: dict[str, float] | None = None
    rerank: bool | None = None  # None: see rag.planner.default_rerank (on where tensors exist, unless the mode is lexical only)
    rerank_depth: int = 100
    # how MaxSim meets the first stage: replace | rrf (of the two ranks) | weighted (min-max sum). The default was
    # tuned on SciFact *train* (809 queries): weighted with a 0.65 MaxSim share beat replace by 1.1 nDCG@10 points
    rerank_combine: str = "weighted"
    rerank_weight: float = 0.65  # share of the MaxSim evidence in rrf/weighted combination
    quantization: str = "binary"  # binary | float16 tensors for MaxSim
    maxsim_mode: str = "best_passage"  # best_passage | cross_passage (MaxSim over all of a document's tokens)
    backend: str = "auto"  # MaxSim backend: auto | cpu | cuda | triton | reference
    filters: dict[str, Any] | None = None
    lang: str | None = None  # the query's language (ISO 639-1) for BM25; None: the index's language, or detected
    # what one hit is: document (its best passage decides), passage, or page (a PDF page scores as its best
    # passage; other documents' passages stand for themselves). See rag/units.py
    unit: str = "document"
    # passage and page units: weight of the document-title ranking fused with the final one (rag/title_prior.py;
    # tuned on FinanceBench dev); 0 turns it off. The document unit never uses it
    title_weight: float = 8.0


class Retriever(Protocol):
    """A first-stage retriever or ranker, built for one snapshot by its table entry (``rag.retrievers``).

    ``encoded`` holds the query's vectors by representation (``dense``, ``sparse``, ``multivector``); ``opt`` is the
    search's options, passed explicitly. A retriever that can rank passages (the passage and page units) also has
    ``retrieve_passages(query, encoded, n, allowed, opt) -> PassageHits | None`` (None: it cannot, for this index).
    """

    name: str

    def retrieve(
        self, query: str, encoded: dict[str, Any], n: int, allowed: np.ndarray | None, opt: SearchOptions
    ) -> Ranking: ...


def with_lang(query: str, opt: SearchOptions | None) -> str:
    """The query, carrying ``opt.lang`` for the multilingual analyzer when one was given (``LangText``)."""
    if opt is None or not opt.lang:
        return query
    from indexers.analyzers import LangText

    return LangText(query, opt.lang)
