"""The query planner: encode the query once, run each enabled retriever, fuse, (rerank), explain each hit.

Retrievers return documents (docnos) best first, with the passage that earned the score when they work on
passages. The planner fuses their rankings (RRF by default), optionally reranks the fused top candidates by
MaxSim over the tensor arrays, and builds :class:`rag.records.Hit` records carrying every retriever's rank and
score, so each hit explains itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from core.errors import UserError
from indexers.folder import Snapshot
from rag import retrievers as table
from rag.filters import allowed_mask
from rag.fusion import FUSIONS
from rag.ranking import PassageHits, Ranking, Retriever, SearchOptions, with_lang
from rag.records import Hit, Passage, RetrieverScore
from rag.snippets import best_passage_lexical
from rag.title_prior import TitleIndex, apply_title_prior
from rag.units import PassageTable, aggregate, check_unit, decode, docnos_of, page_span, unit_keys

# passages fetched per wanted page at the page unit (a page holds a few passages; several may match)
PAGE_FETCH = 4

# retrievers that need no query encoder: a mode naming only these does not rerank unless asked (default_rerank)
LEXICAL = frozenset({"bm25"})


def default_rerank(mode: str, names: list[str], has_tensors: bool) -> bool:
    """Whether MaxSim reranks when the caller did not say: where the index has tensors, except for a mode that
    names lexical retrievers only (``bm25``), which then needs no model at all (a CLI search starts in about 1 s
    instead of loading the query encoder for 5 s). ``auto`` and ``hybrid`` always rerank where they can.

    >>> default_rerank("bm25", ["bm25"], True), default_rerank("auto", ["bm25"], True)
    (False, True)
    >>> default_rerank("bm25+dense", ["bm25", "dense"], True), default_rerank("dense", ["dense"], False)
    (True, False)
    """
    if not has_tensors:
        return False
    return mode in ("auto", "hybrid") or not set(names) <= LEXICAL


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    retrievers: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)
    version: int = 0
    relevance: str | None = None  # what Hit.relevance measures (rag.relevance): dense_cosine | bm25_share

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "version": self.version,
            "retrievers": self.retrievers,
            "timings_ms": self.timings_ms,
            "relevance": self.relevance,
            "hits": [h.to_dict() for h in self.hits],
        }


@dataclass
class Ranked:
    docnos: np.ndarray
    scores: np.ndarray
    names: list[str]
    rankings: dict[str, Ranking]
    timings_ms: dict[str, float]
    rerank_scores: dict[int, float] = field(default_factory=dict)
    rerank_passages: dict[int, int] = field(default_factory=dict)
    encoded: dict[str, Any] = field(default_factory=dict)  # the query's vectors


class Planner:
    """Search one committed snapshot. ``encoders`` maps representation -> encoder for the query side."""

    def __init__(self, snapshot: Snapshot, encoders: Mapping[str, Any] | None = None) -> None:
        self.snapshot = snapshot
        self.encoders = encoders or {}
        self.retrievers: dict[str, Retriever] = table.build(snapshot, self.encoders)
        self._table: PassageTable | None = None
        self._titles: TitleIndex | None = None

    @property
    def title_index(self) -> TitleIndex:
        """Every document's title as words (built on first use at the passage or page unit)."""
        if self._titles is None:
            ids = self.docs.ids_by_docno()
            titles = [""] * len(ids)
            for s in self.docs.segments:
                titles[s.start : s.start + s.n_docs] = s.docs.column("title").to_pylist()
            self._titles = TitleIndex(titles)
        return self._titles

    @property
    def passage_table(self) -> PassageTable:
        """Pages of passages and passages of pages (built on first use at the passage or page unit)."""
        if self._table is None:
            self._table = PassageTable(self.docs)
        return self._table

    @property
    def docs(self) -> Any:
        return self.snapshot["docs"]

    def resolve_mode(self, mode: str) -> list[str]:
        if mode in table.ALL_FIRST_STAGE:
            names = [n for n in table.first_stage_names() if n in self.retrievers]
        else:
            names = [m.strip() for m in mode.split("+") if m.strip()]
        unknown = [n for n in names if n not in self.retrievers]
        if unknown or not names:
            have = ", ".join(sorted(self.retrievers)) or "none"
            raise UserError(
                f"mode {mode!r} needs retriever(s) {unknown or names} that this index does not have "
                f"(available: {have}); re-ingest with a profile that builds them or choose another --mode"
            )
        return names

    def search(
        self, query: str, options: SearchOptions | None = None, encoded: dict[str, Any] | None = None
    ) -> SearchResult:
        """Ranked hits with every retriever's rank and score, the rerank score and the best passage.
        ``encoded``: the query already encoded (:meth:`encode_query`), e.g. by a batch; None encodes it here."""
        opt = options or SearchOptions()
        r = self.rank(query, opt, encoded)
        t = time.perf_counter()
        keys = r.docnos[: opt.k]
        basis, rel = self.relevance(query, r, keys, unit=opt.unit)
        rel_of = {} if rel is None else {int(k): float(v) for k, v in zip(keys.tolist(), rel.tolist()) if np.isfinite(v)}
        make = self._hits if opt.unit == "document" else self._unit_hits
        hits = make(
            with_lang(query, opt), keys, r.scores[: opt.k], r.rankings, r.rerank_scores, r.rerank_passages, rel_of
        )
        r.timings_ms["hits"] = _ms(t)
        return SearchResult(query, hits, r.names, r.timings_ms, self.snapshot.version, basis)

    def relevance(
        self, query: str, r: Ranked, docnos: np.ndarray, unit: str = "document"
    ) -> tuple[str | None, np.ndarray | None]:
        """``(basis, values)``: each hit's relevance on a scale shared by all queries (``rag.relevance``): the dense
        cosine of its document's best passage when the query has a dense vector, else its share of the query's
        maximal BM25 score (at the passage and page units, the unit's own passage BM25 score); ``(None, None)``
        for other pipelines. ``docnos`` are the hits' keys at ``unit`` (rag.units)."""
        from rag.relevance import BM25, DENSE, bm25_share

        q, dense = r.encoded.get("dense"), self.snapshot.get("dense")
        if q is not None and dense is not None:
            return DENSE, dense.document_scores(q, docnos if unit == "document" else docnos_of(docnos))
        if "bm25" in r.rankings:
            bm25 = self.snapshot["bm25"]
            ranking = r.rankings["bm25"]
            raw = dict(zip(np.asarray(ranking.docnos).tolist(), np.asarray(ranking.scores).tolist()))
            terms = bm25.analyzer.tokens(query)
            boost = bm25.params.k1 + 1.0 if getattr(bm25.params, "idf", "lucene") == "robertson" else 1.0
            scores = np.array([raw.get(int(d), 0.0) for d in docnos], dtype=np.float64)
            return BM25, bm25_share(scores, terms, self._idf(terms), boost)
        return None, None

    def rank(self, query: str, opt: SearchOptions, encoded: dict[str, Any] | None = None) -> Ranked:
        """Fused (and reranked) docnos best first, without building hit records (what evaluation needs).
        ``encoded``: the query's encodings from :meth:`encode_query` (with the same mode and rerank), or None."""
        if not query or not query.strip():
            raise UserError("the query is empty")
        if opt.k < 1:
            raise UserError("k must be at least 1")
        if opt.fusion not in FUSIONS:
            raise UserError(f"unknown fusion {opt.fusion!r}; choose one of {sorted(FUSIONS)}")
        check_unit(opt.unit)
        timings: dict[str, float] = {}
        names = self.resolve_mode(opt.mode)
        if opt.rerank is None:
            opt = replace(opt, rerank=default_rerank(opt.mode, names, self.snapshot.get("tensors") is not None))
        t = time.perf_counter()
        encoded = dict(encoded) if encoded is not None else self.encode_query(query, names, opt)
        timings["encode"] = _ms(t)
        allowed = allowed_mask(self.docs, opt.filters) if opt.filters else None
        rankings: dict[str, Ranking] = {}
        depth = max(opt.depth, opt.k)
        for name in names:
            t = time.perf_counter()
            if opt.unit == "document":
                rankings[name] = self.retrievers[name].retrieve(query, encoded, depth, allowed, opt)
            else:
                rankings[name] = self._retrieve_unit(name, query, encoded, depth, allowed, opt)
            timings[name] = _ms(t)
        t = time.perf_counter()
        if len(rankings) == 1:
            (only,) = rankings.values()
            fused_ids, fused_scores = only.docnos, np.asarray(only.scores, dtype=np.float64)
        else:
            fuse = FUSIONS[opt.fusion]
            kw: dict[str, Any] = {"weights": opt.weights}
            if opt.fusion == "rrf":
                kw["k"] = opt.rrf_k
            fused_ids, fused_scores = fuse({n: (r.docnos, r.scores) for n, r in rankings.items()}, **kw)
        timings["fusion"] = _ms(t)
        out = Ranked(fused_ids, fused_scores, names, rankings, timings, encoded=encoded)
        if all(table.RETRIEVERS[n].rerank for n in names):
            for rerank in table.RERANKERS.values():
                t = time.perf_counter()
                res = rerank(self, query, encoded, out.docnos, out.scores, opt)
                if res is not None:
                    out.docnos, out.scores, out.rerank_scores, out.rerank_passages = res
                    timings["rerank"] = _ms(t)
        if opt.unit != "document" and opt.title_weight > 0 and len(out.docnos):
            t = time.perf_counter()
            ranks = self.title_index.ranks(query)
            out.docnos, out.scores = apply_title_prior(
                out.docnos, docnos_of(out.docnos), ranks, opt.title_weight, opt.rrf_k
            )
            timings["title"] = _ms(t)
        return out

    def _retrieve_unit(
        self, name: str, query: str, encoded: dict[str, Any], depth: int, allowed: np.ndarray | None,
        opt: SearchOptions,
    ) -> Ranking:
        """One retriever's ranking of passages or pages: its passage hits, aggregated to the unit (max)."""
        unit = opt.unit
        r = self.retrievers[name]
        fetch = getattr(r, "retrieve_passages", None)
        # a page holds several passages: fetch more passages than the pages wanted
        n = depth * (PAGE_FETCH if unit == "page" else 1)
        hits = fetch(query, encoded, n, allowed, opt) if fetch is not None else None
        if hits is None:
            if name != "bm25":
                raise UserError(f"the {name} retriever ranks documents only; use unit=document with it")
            hits = self._bm25_passages_fallback(query, n, allowed)
        docnos, ordinals, scores = hits
        pages = self.passage_table.pages(docnos, ordinals) if unit == "page" else np.zeros(len(docnos), np.int64)
        keys, agg, best = aggregate(unit_keys(unit, docnos, ordinals, pages), ordinals, scores, depth)
        return Ranking(keys, agg, best)

    def _bm25_passages_fallback(self, query: str, n: int, allowed: np.ndarray | None) -> PassageHits:
        """For an index written before passage BM25: document BM25, then each document's lexically best passage
        (one passage per document, in document order)."""
        bm25 = self.snapshot["bm25"]
        hits = bm25.search(query, n, allowed=allowed)
        docnos, scores = hits.docnos, hits.scores
        q_terms = bm25.analyzer.tokens(query)
        idf = self._idf(q_terms)
        ords = []
        for d in docnos.tolist():
            p = best_passage_lexical(q_terms, self.docs.passages(d), bm25.analyzer.tokens, idf)
            ords.append(p.ordinal if p is not None else 0)
        return PassageHits(np.asarray(docnos, np.int64), np.array(ords, dtype=np.int64), np.asarray(scores, np.float32))

    def encode_query(self, query: str, names: list[str], opt: SearchOptions | None = None) -> dict[str, Any]:
        """Encode the query once per distinct encoder serving the chosen retrievers."""
        wanted: dict[int, tuple[Any, list[str]]] = {}
        for name in names:
            rep = table.query_rep(name)
            enc = self.encoders.get(rep) if rep else None
            if rep is not None and enc is not None:
                wanted.setdefault(id(enc), (enc, []))[1].append(rep)
        rerank = self.snapshot.get("tensors") is not None and (opt is None or opt.rerank is not False)
        rerank_enc = self.encoders.get("multivector") if rerank else None  # (encoders may load on first use)
        if rerank_enc is not None:
            wanted.setdefault(id(rerank_enc), (rerank_enc, []))[1].append("multivector")
        out: dict[str, Any] = {}
        for enc, reps in wanted.values():
            e = enc.encode([query], kind="query", want=tuple(dict.fromkeys(reps)))
            for rep in reps:
                val = getattr(e, rep)
                if val is not None:
                    out[rep] = val[0]
        return out

    def _hits(
        self,
        query: str,
        docnos: np.ndarray,
        scores: np.ndarray,
        rankings: dict[str, Ranking],
        rerank_scores: dict[int, float],
        rerank_passages: dict[int, int],
        relevance: dict[int, float] | None = None,
    ) -> list[Hit]:
        ranks = ranks_of(rankings, docnos)
        bm25 = self.snapshot.get("bm25")
        q_terms: list[str] | None = None
        idf: dict[str, float] = {}
        chosen: dict[int, int] = {}
        for d in docnos.tolist():  # the rerank's passage, else the first ranking's that says which one matched
            o = rerank_passages.get(d)
            if o is None:
                o = next((r.passages[d] for r in rankings.values() if r.passages and d in r.passages), None)
            if o is not None:
                chosen[d] = o
        missing = [d for d in docnos.tolist() if d not in chosen]
        if missing:
            chosen.update(self._best_passages_bm25(query, missing))
        hits: list[Hit] = []
        for rank, (d, s) in enumerate(zip(docnos.tolist(), scores.tolist()), start=1):
            row = self.docs.fields(d, ("id", "title", "metadata"))  # not the text: a PDF's can be megabytes
            ordinal = chosen.get(d)
            passage = self.docs.passage(d, ordinal) if ordinal is not None else None
            if passage is None:  # no retriever said which passage: the lexically best one
                if q_terms is None:
                    q_terms = bm25.analyzer.tokens(query) if bm25 is not None else query.lower().split()
                    idf = self._idf(q_terms)
                passages = self.docs.passages(d)
                analyze = (getattr(bm25.analyzer, "text_terms", bm25.analyzer.tokens) if bm25 is not None
                           else (lambda x: x.lower().split()))
                passage = best_passage_lexical(q_terms, passages, analyze, idf)
            hits.append(
                Hit(
                    doc_id=row["id"],
                    score=float(s),
                    rank=rank,
                    title=row["title"],
                    passage=passage,
                    retrievers={
                        name: RetrieverScore(*ranks[name][d]) for name in rankings if d in ranks[name]
                    },
                    rerank_score=rerank_scores.get(d),
                    metadata=json.loads(row["metadata"]),
                    relevance=(relevance or {}).get(d),
                )
            )
        return hits

    def _unit_hits(
        self,
        query: str,
        keys: np.ndarray,
        scores: np.ndarray,
        rankings: dict[str, Ranking],
        rerank_scores: dict[int, float],
        rerank_passages: dict[int, int],
        relevance: dict[int, float] | None = None,
    ) -> list[Hit]:
        """Hits for passage or page keys: the passage (or the page: its span and text, with its best passage's
        ordinal), its document, and each retriever's rank of that unit."""
        ranks = ranks_of(rankings, keys)
        hits: list[Hit] = []
        for k, s in zip(keys.tolist(), scores.tolist()):
            docno, ordinal, page = decode(k)
            row = self.docs.fields(docno, ("id", "title", "metadata", "pages"))
            if ordinal is None:  # a page: its best passage names the ordinal
                assert page is not None  # a key is a passage or a page
                ordinal = rerank_passages.get(k)
                if ordinal is None:
                    ordinal = next((r.passages[k] for r in rankings.values() if r.passages and k in r.passages), None)
                span = page_span(row, page)
                if span is None:
                    continue
                if ordinal is None:
                    ords = self.passage_table.ordinals_of_page(docno, page)
                    ordinal = int(ords[0]) if len(ords) else 0
                text = self.docs.text_slice(docno, span[0], span[1])
                passage: Passage | None = Passage(row["id"], int(ordinal), span[0], span[1], text, page)
                unit = "page"
            else:
                passage = self.docs.passage(docno, ordinal)
                if passage is None:
                    continue
                unit = "passage"
            hits.append(
                Hit(
                    doc_id=row["id"],
                    score=float(s),
                    rank=len(hits) + 1,
                    title=row["title"],
                    passage=passage,
                    retrievers={name: RetrieverScore(*ranks[name][k]) for name in rankings if k in ranks[name]},
                    rerank_score=rerank_scores.get(k),
                    metadata=json.loads(row["metadata"]),
                    unit=unit,
                    relevance=(relevance or {}).get(k),
                )
            )
        return hits

    def _best_passages_bm25(self, query: str, docnos: list[int]) -> dict[int, int]:
        """Each document's best passage by passage-level BM25, for hits no retriever gave a passage for (a BM25-only
        search): one search of the passage index restricted to these documents. Empty without that index."""
        bm25 = self.retrievers.get("bm25")
        passages = getattr(bm25, "passages", None)
        if passages is None or not docnos:
            return {}
        allowed = np.zeros(max(docnos) + 1, dtype=bool)
        allowed[docnos] = True
        wanted, best = set(docnos), dict[int, int]()
        n = 16 * len(docnos)
        while True:
            d, o, _ = passages.search_passages(query, n, allowed=allowed)
            for doc, ordinal in zip(d.tolist(), o.tolist()):
                best.setdefault(doc, ordinal)
            if len(d) < n or wanted <= best.keys() or n >= 4096 * len(docnos):
                return best
            n *= 4

    def _idf(self, terms: list[str]) -> dict[str, float]:
        bm25 = self.snapshot.get("bm25")
        if bm25 is None:
            return {}
        _, n, _ = bm25.stats()
        out = {}
        for t in set(terms):
            ids = bm25.vocab.lookup([t])
            df = bm25.doc_freq(ids[0]) if ids else 0  # counted, never decoded (postings are compressed)
            out[t] = float(np.log1p((n - df + 0.5) / (df + 0.5)))
        return out


def ranks_of(rankings: dict[str, Ranking], keys: np.ndarray) -> dict[str, dict[int, tuple[int, float]]]:
    """Each retriever's (1-based rank, score) of each of ``keys`` it ranked: looked up for the k hits only, not
    tabled for its whole ranking (1,000 candidates each at the default depth).

    >>> r = Ranking(np.array([7, 3, 9]), np.array([0.9, 0.5, 0.1]))
    >>> ranks_of({"bm25": r}, np.array([9, 4, 7]))
    {'bm25': {9: (3, 0.1), 7: (1, 0.9)}}
    """
    keys = np.asarray(keys, dtype=np.int64)
    out: dict[str, dict[int, tuple[int, float]]] = {}
    for name, r in rankings.items():
        ids = np.asarray(r.docnos, dtype=np.int64)
        if len(ids) == 0 or len(keys) == 0:
            out[name] = {}
            continue
        order = np.argsort(ids, kind="stable")
        pos = np.minimum(np.searchsorted(ids[order], keys), len(ids) - 1)
        at = order[pos]
        found = ids[at] == keys
        scores = np.asarray(r.scores)
        out[name] = {k: (i + 1, float(scores[i])) for k, i, f in zip(keys.tolist(), at.tolist(), found.tolist()) if f}
    return out


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 3)
