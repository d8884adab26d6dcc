"""The one table of retrievers and rerankers. The planner, the API schema, the CLI ``--mode`` help and the eval
pipeline parser all read it; nothing registers itself by being imported.

A new retriever is one file (a class with ``name`` and ``retrieve(query, encoded, n, allowed, opt) -> Ranking``, see
``rag.ranking.Retriever``, plus a factory ``make(snapshot, encoders) -> retriever | None``) and one entry below.
``query_rep`` names the query vector it needs (the planner encodes the query once per encoder); ``first_stage``
retrievers join ``auto``/``hybrid`` and may be fused with ``+`` (``bm25+dense``); the others are whole rankers,
used alone (``--mode colbert``).

>>> [e.name for e in RETRIEVERS.values() if e.first_stage]
['bm25', 'dense', 'sparse']
>>> mode_pattern(from_ingest=True)  # the REST API's mode field
'^(auto|hybrid|colbert|(bm25|dense|sparse)(\\\\+(bm25|dense|sparse))*)$'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.first_stage import bm25_retriever, dense_retriever, sparse_retriever
from rag.plaid import plaid_retriever
from rag.ranking import Retriever, SearchOptions
from rag.rerank_stage import colbert_ranker, maxsim_rerank

#: ``make(snapshot, encoders)``: the retriever for this snapshot, or None when the index (or the loaded encoders)
#: lacks what it needs
Factory = Callable[[Any, Mapping[str, Any]], "Retriever | None"]
#: ``rerank(planner, query, encoded, ids, scores, opt)``: (ids, scores, score by id, best passage by id), or None
Reranker = Callable[
    [Any, str, dict[str, Any], np.ndarray, np.ndarray, SearchOptions],
    "tuple[np.ndarray, np.ndarray, dict[int, float], dict[int, int]] | None",
]


@dataclass(frozen=True)
class RetrieverEntry:
    name: str
    make: Factory
    help: str
    query_rep: str | None = None  # dense | sparse | multivector: the query vector it reads (None: the text)
    first_stage: bool = True  # joins auto/hybrid and fuses with others; False: a whole ranker, used alone
    rerank: bool = True  # its ranking goes through RERANKERS (False for exact MaxSim: reranking it changes nothing)
    # its index is built by `latte ingest` (so the REST API and `latte eval` offer it); PLAID is built apart
    # (`latte plaid`, with the optional colbert-ai)
    from_ingest: bool = True


RETRIEVERS: dict[str, RetrieverEntry] = {
    e.name: e
    for e in (
        RetrieverEntry("bm25", bm25_retriever, "BM25 over documents (and passages)"),
        RetrieverEntry("dense", dense_retriever, "dense vectors of passages", query_rep="dense"),
        RetrieverEntry("sparse", sparse_retriever, "sparse (learned) vectors of passages", query_rep="sparse"),
        RetrieverEntry("colbert", colbert_ranker, "exact MaxSim over every passage's token vectors",
                       query_rep="multivector", first_stage=False, rerank=False),
        RetrieverEntry("plaid", plaid_retriever, "PLAID search through colbert-ai (latte plaid builds it)",
                       first_stage=False, from_ingest=False),
    )
}

#: rerankers of the fused candidates, applied in this order where they return a result
RERANKERS: dict[str, Reranker] = {"maxsim": maxsim_rerank}

#: modes that are not a retriever's name: every first-stage retriever the index has, fused
ALL_FIRST_STAGE = ("auto", "hybrid")


def first_stage_names() -> list[str]:
    return [e.name for e in RETRIEVERS.values() if e.first_stage]


def ranker_names(*, from_ingest: bool = False) -> list[str]:
    """The whole rankers (used alone); with ``from_ingest``, only those whose index ``latte ingest`` builds."""
    return [e.name for e in RETRIEVERS.values() if not e.first_stage and (e.from_ingest or not from_ingest)]


def modes_help() -> str:
    """The ``--mode`` help: every mode the table allows.

    >>> modes_help()
    "auto|hybrid|bm25|dense|sparse|colbert|plaid, or a '+' list of bm25|dense|sparse such as bm25+dense"
    """
    first = first_stage_names()
    named = "|".join([*ALL_FIRST_STAGE, *first, *ranker_names()])
    return f"{named}, or a '+' list of {'|'.join(first)} such as {'+'.join(first[:2])}"


def mode_pattern(*, from_ingest: bool = False) -> str:
    """A regular expression of the modes: a whole ranker alone, or ``+``-joined first-stage retrievers."""
    first = "|".join(re.escape(n) for n in first_stage_names())
    alone = "|".join(re.escape(n) for n in [*ALL_FIRST_STAGE, *ranker_names(from_ingest=from_ingest)])
    return rf"^({alone}|({first})(\+({first}))*)$"


def query_rep(name: str) -> str | None:
    entry = RETRIEVERS.get(name)
    return entry.query_rep if entry is not None else None


def build(snapshot: Any, encoders: Mapping[str, Any]) -> dict[str, Retriever]:
    """Every retriever this snapshot (and these encoders) can serve, in table order."""
    out: dict[str, Retriever] = {}
    for name, entry in RETRIEVERS.items():
        r = entry.make(snapshot, encoders)
        if r is not None:
            out[name] = r
    return out
