"""BM25 over passages (kind ``bm25_passages``): what ranks passages and PDF pages lexically.

A BM25 index (:class:`indexers.bm25.BM25Index`, unchanged) whose "documents" are passage rows: row ``r`` is the
``r``-th passage ever added, numbered contiguously across batches. Each segment folder also holds ``docnos.npy``
(int64, the document of each row) and ``ordinals.npy`` (int32, the passage's ordinal in its document), so a hit
maps back to ``(docno, ordinal)``. Deleting a document deletes its rows, so N, the average length and every
term's document frequency are those of the live passages: this is passage-level BM25, not document BM25 spread
over passages. A passage is indexed with its document's title in front, as the encoders see it.

The component is optional: an index written before it existed has none, and the planner then falls back to
document BM25 plus each document's best passage.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from indexers.analyzer import Analyzer
from indexers.analyzers import MultilingualAnalyzer
from indexers.arrays import fit_mask, load_npy, save_npy
from indexers.bm25 import BM25Index, BM25Params
from indexers.ranking import PassageHits

_LANG_SAMPLE = 2000  # characters of a document its language is detected on (as document BM25 does)


class PassageBM25Index:
    kind: ClassVar[str] = "bm25_passages"

    def __init__(self, params: BM25Params | None = None, analyzer: Analyzer | None = None) -> None:
        self.inner = BM25Index(params, analyzer)
        self._maps: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # segment name -> (docnos, ordinals) per row
        self._pending: list[str] = []
        self._flat: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def analyzer(self) -> Analyzer | MultilingualAnalyzer:
        return self.inner.analyzer

    # -- writing -----------------------------------------------------------------------------------------------
    def add_batch(self, batch: Any) -> None:
        docnos = np.asarray(batch.passage_docnos, dtype=np.int64)
        if len(docnos) == 0:
            return
        # sliced from the document's text by span: ingest drops a passage's own text once it is encoded. Each
        # passage is analyzed in its document's language, as document BM25 analyzes it (they share the analyzer,
        # which records the languages an index holds): detected one passage at a time, the Spanish, French and
        # Indonesian notices in a 3M 10-K's exhibits made FinanceBench an index of four languages, and every English
        # query was then analyzed as those too (where English stopwords are terms)
        an = self.inner.analyzer
        texts: list[str] = []
        counts: list[dict[str, int] | None] = []
        for it in batch.items:
            lang = it.lang
            if lang is None and hasattr(an, "language_of"):
                head = it.doc.text[:_LANG_SAMPLE]
                lang = an.language_of(f"{it.doc.title}\n{head}" if it.doc.title else head)
            for p in it.passages:
                body = it.doc.text[p.start : p.end]
                text = f"{it.doc.title}\n{body}" if it.doc.title else body
                texts.append(text)
                counts.append(Counter(an.raw_tokens(text, lang)) if lang is not None else None)
        ordinals = np.array([p.ordinal for it in batch.items for p in it.passages], dtype=np.int32)
        start = self.inner.next_docno
        self.inner.add(np.arange(start, start + len(texts), dtype=np.int64), texts, raw_counts=counts)
        name = self.inner.segments[-1].name
        self._maps[name] = (docnos, ordinals)
        self._pending.append(name)
        self._flat = None

    # -- merging (``latte optimize`` and the tiered policy) ------------------------------------------------------
    @property
    def segments(self) -> list[Any]:
        return self.inner.segments

    def merge_ranges(self, ranges: Any) -> int:
        """Merge each range of adjacent segments into one (:func:`indexers.merge.merge_component` on the inner BM25
        index: deleted passages' postings dropped, rows unchanged), with the row-to-passage maps concatenated."""
        from indexers.merge import merge_component

        before = list(self.inner.segments)
        done = merge_component(self.inner, ranges)
        old = {s.name for s in before}
        for seg in self.inner.segments:
            if seg.name in old:
                continue
            group = [s for s in before if seg.start <= s.start < seg.start + seg.n_docs]
            self._maps[seg.name] = (
                np.concatenate([np.asarray(self._maps[s.name][0]) for s in group]),
                np.concatenate([np.asarray(self._maps[s.name][1]) for s in group]),
            )
            self._pending.append(seg.name)
        live = {s.name for s in self.inner.segments}
        self._maps = {k: v for k, v in self._maps.items() if k in live}
        self._pending = [n for n in self._pending if n in live]
        self._flat = None
        return done

    def delete(self, docnos: np.ndarray) -> None:
        docnos = np.asarray(docnos, dtype=np.int64)
        rows = [s.start + np.flatnonzero(np.isin(self._maps[s.name][0], docnos)) for s in self.inner.segments]
        if rows:
            self.inner.delete(np.concatenate(rows))

    # -- reading -----------------------------------------------------------------------------------------------
    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(docnos, ordinals) of every row, in row order."""
        if self._flat is None:
            segs = self.inner.segments
            self._flat = (
                np.concatenate([np.asarray(self._maps[s.name][0]) for s in segs]) if segs else np.zeros(0, np.int64),
                np.concatenate([np.asarray(self._maps[s.name][1]) for s in segs]) if segs else np.zeros(0, np.int32),
            )
        return self._flat

    def search_passages(
        self, query: str, n: int, *, allowed: np.ndarray | None = None
    ) -> PassageHits:
        """Top ``n`` live passages best first; ``allowed`` is a bool mask by docno."""
        docnos, ordinals = self._rows()
        row_mask = None
        if allowed is not None:
            row_mask = fit_mask(allowed, int(docnos.max()) + 1 if len(docnos) else 0)[docnos]
        hits = self.inner.search(query, n, allowed=row_mask)
        return PassageHits(docnos[hits.docnos], ordinals[hits.docnos].astype(np.int64), hits.scores)

    def __len__(self) -> int:
        return self.inner.next_docno

    # -- persistence -------------------------------------------------------------------------------------------
    def save(self, folder: Path, tag: str) -> dict:
        pending, self._pending = self._pending, []
        state = self.inner.save(folder, tag)
        for name in pending:
            d, o = self._maps[name]
            save_npy(folder / name / "docnos.npy", d)
            save_npy(folder / name / "ordinals.npy", o)
            self._maps[name] = (load_npy(folder / name / "docnos.npy", True), load_npy(folder / name / "ordinals.npy", True))
        return state

    @classmethod
    def load(cls, folder: Path, state: dict, mmap: bool = True) -> PassageBM25Index:
        idx = cls()
        idx.inner = BM25Index.load(folder, state, mmap)
        for s in idx.inner.segments:
            idx._maps[s.name] = (load_npy(folder / s.name / "docnos.npy", mmap), load_npy(folder / s.name / "ordinals.npy", mmap))
        return idx

    @staticmethod
    def files_of(state: dict) -> set[str]:
        return BM25Index.files_of(state)
