"""BM25 over append-only segments of postings, with exact global statistics.

Each segment is a folder of arrays for a contiguous range of document numbers (docnos):
term-sorted postings (``term_ids``, ``indptr``, ``rows``, ``tf``) and ``doc_len``; the vocabulary
(term -> global id) is shared and append-only. Deletion keeps a set of deleted docnos; at query time a
term's document frequency, ``N`` and the average length are computed over live documents only, so scores
equal a from-scratch rebuild on the live corpus (incremental add and delete never rebuild).

Scoring functions are the textbook ones:

>>> round(float(idf_lucene(np.array([1.0]), 3)[0]), 4)  # log(1 + (3 - 1 + 0.5) / (1 + 0.5))
0.9808
>>> round(float(tf_saturation(np.array([2.0]), np.array([10.0]), 10.0, k1=0.9, b=0.4)[0]), 4)  # 2 / (2 + 0.9)
0.6897
"""

from __future__ import annotations

import uuid
from collections import Counter, abc
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from core.records import lexical_text
from indexers.analyzer import Analyzer
from indexers.analyzers import MultilingualAnalyzer, analyzer_from_dict
from indexers.arrays import fit_mask, load_npy, read_arrow, save_npy, write_arrow
from indexers.component import Batch, StoredDoc
from indexers.postings import PostingBlocks, compress
from indexers.ranking import Ranking


def idf_lucene(df: np.ndarray, n: int) -> np.ndarray:
    """Lucene/Anserini: log(1 + (N - df + 0.5) / (df + 0.5)), always positive."""
    return np.log1p((n - df + 0.5) / (df + 0.5))


def idf_robertson(df: np.ndarray, n: int) -> np.ndarray:
    """Robertson-Sparck Jones: log((N - df + 0.5) / (df + 0.5)), floored at 0 (rank-bm25 BM25Okapi, epsilon=0)."""
    return np.maximum(np.log((n - df + 0.5) / (df + 0.5)), 0.0)


def tf_saturation(tf: np.ndarray, dl: np.ndarray, avgdl: float, *, k1: float, b: float) -> np.ndarray:
    """tf / (tf + k1 (1 - b + b dl / avgdl))."""
    return tf / (tf + k1 * (1.0 - b + b * dl / avgdl))


IDF = {"lucene": idf_lucene, "robertson": idf_robertson}


@dataclass(frozen=True)
class BM25Params:
    k1: float = 0.9
    b: float = 0.4
    idf: str = "lucene"  # "lucene" | "robertson"; robertson also multiplies by (k1 + 1) as Okapi does

    def __post_init__(self) -> None:
        if self.idf not in IDF:
            raise ValueError(f"unknown idf {self.idf!r}; choose one of {sorted(IDF)}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={self.k1}, b={self.b})")


class Vocabulary:
    """Append-only term -> id mapping shared by all segments."""

    def __init__(self, terms: Sequence[str] = ()) -> None:
        self.terms: list[str] = list(terms)
        self._ids: dict[str, int] | None = None

    @property
    def ids(self) -> dict[str, int]:
        if self._ids is None:
            self._ids = {t: i for i, t in enumerate(self.terms)}
        return self._ids

    def __len__(self) -> int:
        return len(self.terms)

    def add(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of ``tokens``, adding the new ones."""
        ids = self.ids
        out = [ids.get(t, -1) for t in tokens]
        if -1 in out:
            terms = self.terms
            for i, t in enumerate(tokens):
                if out[i] == -1:
                    j = ids.get(t)
                    if j is None:
                        j = ids[t] = len(terms)
                        terms.append(t)
                    out[i] = j
        return np.fromiter(out, dtype=np.int64, count=len(out))

    def lookup(self, tokens: Sequence[str]) -> list[int]:
        ids = self.ids
        return [ids[t] for t in tokens if t in ids]

    def save(self, path: Path) -> None:
        write_arrow(path, pa.table({"term": pa.array(self.terms, pa.string())}))

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        return cls(read_arrow(path, mmap=False).column("term").to_pylist())


@dataclass
class Segment:
    """Postings for docnos ``start .. start + len(doc_len) - 1``; arrays may be memory-mapped.

    ``blocks`` holds the compressed postings (:mod:`indexers.postings`). Segments written before compression
    (``term_ids``/``indptr``/``rows``/``tf`` arrays, no ``postings`` key in the manifest entry) are compressed in
    memory when loaded and rewritten compressed by the next merge (``latte optimize``).
    """

    name: str
    start: int
    blocks: PostingBlocks
    doc_len: np.ndarray  # float32 [n_docs]
    legacy: bool = False  # loaded from the uncompressed layout

    LEGACY_FILES = ("term_ids", "indptr", "rows", "tf", "doc_len")
    LAYOUT = "blocks128"

    @property
    def n_docs(self) -> int:
        return int(self.doc_len.shape[0])

    @property
    def term_ids(self) -> np.ndarray:
        return self.blocks.term_ids

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Decoded (local rows, term frequencies) of global term id ``term``."""
        return self.blocks.postings(term)

    def df(self, term: int) -> int:
        """Postings of ``term`` here, deleted documents included."""
        return self.blocks.df(term)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.blocks.save(folder)
        save_npy(folder / "doc_len.npy", self.doc_len)

    @classmethod
    def load(cls, folder: Path, name: str, start: int, mmap: bool = True, layout: str | None = None) -> Segment:
        doc_len = load_npy(folder / "doc_len.npy", mmap)
        if layout == cls.LAYOUT:
            return cls(name, start, PostingBlocks.load(folder, mmap), doc_len)
        if layout is not None:
            raise ValueError(f"unknown BM25 postings layout {layout!r} in {folder}; upgrade latte")
        legacy = {n: load_npy(folder / f"{n}.npy", mmap=False) for n in ("term_ids", "indptr", "rows", "tf")}
        blocks = compress(legacy["term_ids"], legacy["indptr"], legacy["rows"], legacy["tf"], doc_len)
        return cls(name, start, blocks, doc_len, legacy=True)


_EMPTY_I = np.zeros(0, dtype=np.int32)
_EMPTY_F = np.zeros(0, dtype=np.float32)


def build_segment(name: str, start: int, docs: Sequence[tuple[np.ndarray, np.ndarray]]) -> Segment:
    """Term-sorted, compressed postings from each document's (term ids, term frequencies); repeated ids are summed."""
    n = len(docs)
    doc_len = np.array([float(np.sum(tf)) for _, tf in docs], dtype=np.float32)
    lens = np.array([len(ids) for ids, _ in docs], dtype=np.int64)
    if lens.sum():
        terms = np.concatenate([np.asarray(ids, dtype=np.int64) for ids, _ in docs])
        tfs = np.concatenate([np.asarray(tf, dtype=np.float32) for _, tf in docs])
        rws_wide = np.repeat(np.arange(n, dtype=np.int64), lens)
        # sort by (term, row) and merge duplicates (two raw words with one stem)
        key = terms * (n + 1) + rws_wide
        order = np.argsort(key, kind="stable")
        key, tfs = key[order], tfs[order]
        uniq, first = np.unique(key, return_index=True)
        tfs = np.add.reduceat(tfs, first).astype(np.float32)
        terms, rws = uniq // (n + 1), (uniq % (n + 1)).astype(np.int32)
        term_ids, tfirst = np.unique(terms, return_index=True)
        indptr = np.append(tfirst, len(terms)).astype(np.int64)
    else:
        term_ids, indptr = np.zeros(0, np.int64), np.zeros(1, np.int64)
        tfs, rws = _EMPTY_F, _EMPTY_I
    return Segment(name, start, compress(term_ids.astype(np.int64), indptr, rws, tfs, doc_len), doc_len)


class BM25Index:
    """Lucene-style BM25 with incremental add/delete; search returns a :class:`~indexers.ranking.Ranking`."""

    kind: ClassVar[str] = "bm25"

    def __init__(self, params: BM25Params | None = None, analyzer: Analyzer | MultilingualAnalyzer | None = None) -> None:
        self.params = params or BM25Params()
        self.analyzer = analyzer or Analyzer()
        self.vocab = Vocabulary()
        self.segments: list[Segment] = []
        self._pending: list[Segment] = []
        self.deleted = np.zeros(0, dtype=np.int64)
        self._stats: tuple[np.ndarray, int, float] | None = None
        self._df_cache: dict[int, int] = {}
        self._search_table: tuple | None = None
        self._raw2id: dict[str, int] = {}

    # -- writing -----------------------------------------------------------------------------------------------
    def add_batch(self, batch: Batch) -> None:
        """The batch's documents (their lexical text: title and body) as one new segment; a document's raw token
        counts come from the worker that made them, or its given language, or the analyzer (see ``_RawCounts``)."""
        texts = [lexical_text(it.doc) for it in batch.items]
        self.add(batch.docnos, texts, raw_counts=_RawCounts(self.analyzer, texts, batch.items))

    def add(
        self, docnos: np.ndarray, texts: Sequence[str], raw_counts: Sequence[Mapping[str, int] | None] | None = None
    ) -> None:
        """Index ``texts`` under the contiguous docnos ``docnos`` (a new segment).

        ``raw_counts`` (optional, per text): ``Counter(self.analyzer.raw_tokens(text))`` already computed, e.g. by
        ingest's worker processes; the text is then not tokenized again.
        """
        docnos = np.asarray(docnos, dtype=np.int64)
        if len(docnos) != len(texts):
            raise ValueError(f"{len(docnos)} docnos for {len(texts)} texts")
        if len(docnos) == 0:
            return
        if np.any(np.diff(docnos) != 1):
            raise ValueError("docnos of one add() must be contiguous and ascending")
        if docnos[0] < self.next_docno:
            raise ValueError(f"docno {docnos[0]} already used (next free is {self.next_docno})")
        counts = raw_counts if raw_counts is not None else [None] * len(texts)
        if len(counts) != len(texts):
            raise ValueError(f"{len(counts)} raw counts for {len(texts)} texts")
        terms = [self.doc_terms(t) if c is None else self.doc_terms_from_counts(c) for t, c in zip(texts, counts)]
        seg = build_segment(f"seg-{int(docnos[0]):010d}-{uuid.uuid4().hex[:8]}", int(docnos[0]), terms)
        self.segments.append(seg)
        self._pending.append(seg)
        self._stats = None

    def doc_terms(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(term ids, term frequencies) of one document, adding new terms to the vocabulary.

        Counting raw words first (C-level ``Counter``) and mapping each distinct word once makes this several
        times faster than analysing every token: long documents repeat their words.
        """
        return self.doc_terms_from_counts(Counter(self.analyzer.raw_tokens(text)))

    def doc_terms_from_counts(self, counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """``doc_terms`` from the raw token counts of a document (``Counter(analyzer.raw_tokens(text))``)."""
        raw2id = self._raw2id
        if len(raw2id) > 4_000_000:
            raw2id.clear()
        ids: list[int] = []
        tfs: list[int] = []
        for tok, n in counts.items():
            j = raw2id.get(tok)
            if j is None:
                term = self.analyzer.term(tok)
                j = raw2id[tok] = -1 if term is None else int(self.vocab.add([term])[0])
            if j >= 0:
                ids.append(j)
                tfs.append(n)
        return np.array(ids, dtype=np.int64), np.array(tfs, dtype=np.float32)

    def delete(self, docnos: Sequence[int] | np.ndarray) -> None:
        docnos = np.asarray(docnos, dtype=np.int64)
        self.deleted = np.union1d(self.deleted, docnos)
        self._stats = None

    @property
    def next_docno(self) -> int:
        return max((s.start + s.n_docs for s in self.segments), default=0)

    # -- reading -----------------------------------------------------------------------------------------------
    def _alive(self) -> np.ndarray:
        alive = np.ones(self.next_docno, dtype=bool)
        d = self.deleted[self.deleted < len(alive)]
        alive[d] = False
        return alive

    def stats(self) -> tuple[np.ndarray, int, float]:
        """(alive mask, live document count, average live document length)."""
        if self._stats is None:
            alive = self._alive()
            total, n = 0.0, 0
            for s in self.segments:
                a = alive[s.start : s.start + s.n_docs]
                total += float(np.asarray(s.doc_len)[a].sum())
                n += int(a.sum())
            self._stats = (alive, n, total / n if n else 0.0)
            self._df_cache = {}
        return self._stats

    def _dirty(self) -> np.ndarray:
        """Per segment (in ``self.segments`` order): does it hold postings of deleted documents?

        A deleted document's postings stay in its segment until a merge drops them (the merge also zeroes its
        length), so a segment is dirty when a deleted docno in its range still has a length."""
        out = np.zeros(len(self.segments), dtype=bool)
        d = self.deleted
        if len(d):
            for i, s in enumerate(self.segments):
                lo, hi = np.searchsorted(d, [s.start, s.start + s.n_docs])
                if hi > lo:
                    out[i] = bool(np.any(np.asarray(s.doc_len)[d[lo:hi] - s.start] > 0))
        return out

    def _all_live(self, s: Segment) -> bool:
        d = self.deleted
        if not len(d):
            return True
        lo, hi = np.searchsorted(d, [s.start, s.start + s.n_docs])
        return bool(hi == lo) or not bool(np.any(np.asarray(s.doc_len)[d[lo:hi] - s.start] > 0))

    def doc_freq(self, term: int) -> int:
        """Live documents containing global term id ``term`` (postings of deleted documents not counted)."""
        alive, _, _ = self.stats()
        hit = self._df_cache.get(term)
        if hit is not None:
            return hit
        df = 0
        for s in self.segments:
            if self._all_live(s):
                df += s.df(term)
            else:
                rows, _ = s.postings(term)
                df += int(np.count_nonzero(alive[s.start + rows.astype(np.int64)])) if len(rows) else 0
        if len(self._df_cache) < 100_000:
            self._df_cache[term] = df
        return df

    def term_ids(self, query: str) -> list[int]:
        return self.vocab.lookup(self.analyzer.tokens(query))

    def _query_weights(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(distinct query term ids, their weights: idf x query count x Okapi's k1 + 1 when idf is robertson)."""
        _, n, _ = self.stats()
        p = self.params
        terms, qtf = np.unique(np.asarray(self.term_ids(query), dtype=np.int64), return_counts=True)
        if not len(terms):
            return terms, np.zeros(0, np.float64)
        df = np.array([self.doc_freq(int(t)) for t in terms], dtype=np.float64)
        keep = df > 0
        boost = (p.k1 + 1.0) if p.idf == "robertson" else 1.0
        w = IDF[p.idf](df[keep], n) * boost * qtf[keep]
        return terms[keep], np.asarray(w, dtype=np.float64)

    def score_all(self, query: str) -> np.ndarray:
        """Scores of every docno (0 for documents that match no term; deleted documents get 0).

        The exhaustive reference scorer (every posting of every query term); :meth:`search` returns the same top k
        with block-max MaxScore."""
        alive, n, avgdl = self.stats()
        scores = np.zeros(len(alive), dtype=np.float32)
        if n == 0:
            return scores
        p = self.params
        terms, weights = self._query_weights(query)
        for t, w in zip(terms.tolist(), weights.tolist()):
            for s in self.segments:
                rows, tf = s.postings(t)
                if not len(rows):
                    continue
                d = rows.astype(np.int64) + s.start
                keep = alive[d]
                dl = np.asarray(s.doc_len)[rows[keep]].astype(np.float64)
                contrib = w * tf_saturation(tf[keep].astype(np.float64), dl, avgdl, k1=p.k1, b=p.b)
                scores += np.bincount(d[keep], weights=contrib, minlength=len(scores)).astype(np.float32)
        return scores

    def search(self, query: str, k: int = 10, *, allowed: np.ndarray | None = None) -> Ranking:
        """Top ``k`` live documents matching at least one query term (score > 0), best first, ties by smaller docno;
        ``allowed`` is an optional bool mask by docno. Exact: block-max MaxScore over the compressed postings
        (:mod:`indexers.bm25_maxscore`), one compiled call for all segments."""
        from indexers.bm25_maxscore import top_k_bm25

        alive, n, avgdl = self.stats()
        ids = self.vocab.ids
        counts: dict[int, int] = {}
        for t in self.analyzer.tokens(query):
            j = ids.get(t)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts or n == 0 or k <= 0:
            return Ranking.empty()
        terms = np.array(sorted(counts), dtype=np.int64)
        qcount = np.array([counts[t] for t in terms.tolist()], dtype=np.float64)
        table, dirty = self._table()
        mask = None if allowed is None else alive & fit_mask(allowed, len(alive))
        p = self.params
        docnos, scores = top_k_bm25(table, terms, qcount, alive, dirty, mask, n, avgdl, p.k1, p.b, p.idf, k)
        return Ranking(docnos, scores)

    def _table(self) -> tuple[Any, np.ndarray]:
        """The segments (in docno order) as the compiled search reads them, and their dirty flags; cached until
        the segments or deletions change."""
        key = (tuple(s.name for s in self.segments), len(self.deleted))
        if self._search_table is None or self._search_table[0] != key:
            from indexers.bm25_maxscore import SegmentTable

            if not all(a.start < b.start for a, b in zip(self.segments, self.segments[1:])):
                self.segments.sort(key=lambda x: x.start)
            _, _, avgdl = self.stats()
            table = SegmentTable.build(self.segments, self.params.k1, self.params.b, avgdl)
            self._search_table = (key, table, self._dirty())
        return self._search_table[1], self._search_table[2]

    # -- persistence -------------------------------------------------------------------------------------------
    def save(self, folder: Path, tag: str) -> dict:
        """Write pending segments and this version's vocabulary/deletions; return the state the manifest records."""
        folder.mkdir(parents=True, exist_ok=True)
        for seg in self._pending:
            seg.save(folder / seg.name)
        written = {seg.name for seg in self._pending}
        self.segments = [
            Segment.load(folder / s.name, s.name, s.start, True, Segment.LAYOUT) if s.name in written else s
            for s in self.segments
        ]
        self._pending = []
        vocab_file = f"vocab-{tag}.arrow"
        self.vocab.save(folder / vocab_file)
        deleted_file = f"deleted-{tag}.npy"
        save_npy(folder / deleted_file, self.deleted)
        return {
            "params": asdict(self.params),
            "analyzer": self.analyzer.to_dict(),
            "segments": [self._segment_entry(s) for s in self.segments],
            "vocab": vocab_file,
            "deleted": deleted_file,
        }

    @staticmethod
    def _segment_entry(s: Segment) -> dict:
        e = {"name": s.name, "start": s.start, "n_docs": s.n_docs}
        if not s.legacy:
            e["postings"] = Segment.LAYOUT
        return e

    @classmethod
    def load(cls, folder: Path, state: dict, mmap: bool = True) -> BM25Index:
        idx = cls(BM25Params(**state["params"]), analyzer_from_dict(state.get("analyzer") or {}))
        idx.vocab = Vocabulary.load(folder / state["vocab"])
        idx.segments = [
            Segment.load(folder / s["name"], s["name"], s["start"], mmap, s.get("postings")) for s in state["segments"]
        ]
        idx.deleted = np.array(load_npy(folder / state["deleted"], mmap=False), dtype=np.int64)
        return idx

    @staticmethod
    def files_of(state: dict) -> set[str]:
        """Names (relative to the index's folder) that ``state`` needs; everything else is garbage."""
        return {s["name"] for s in state["segments"]} | {state["vocab"], state["deleted"]}


class _RawCounts(abc.Sequence):
    """BM25's raw token counts per document, made when BM25 reads them: a worker's counts, or the counts in the
    language the document was given (metadata or ``--lang``), or None (BM25 analyzes the text, detecting its
    language). Made one at a time, so a batch never holds every document's counts at once."""

    def __init__(self, analyzer: Any, texts: list[str], items: list[StoredDoc]) -> None:
        self.analyzer, self.texts, self.items = analyzer, texts, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, int] | None:  # type: ignore[override]
        item = self.items[i]
        if item.raw_counts is not None or item.lang is None:
            return item.raw_counts
        return Counter(self.analyzer.raw_tokens(self.texts[i], item.lang))


def top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (id, score) pairs, best first; ties broken by smaller id for determinism."""
    if k <= 0 or len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if len(ids) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        ids, scores = ids[part], scores[part]
    order = np.lexsort((ids, -scores))
    return ids[order].astype(np.int64), scores[order].astype(np.float32)
