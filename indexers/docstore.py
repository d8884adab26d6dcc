"""Document store: documents and their passages as append-only Arrow IPC segments, read memory-mapped.

A segment holds a contiguous range of docnos. Per document: id, title, text, metadata (JSON), source,
content hash (to skip unchanged documents on re-ingest), exact-duplicate key and MinHash signature (the
persisted dedupe state), page spans. Per passage: docno, ordinal, character span, page; a passage's text is
``text[start:end]`` of its document, so it is never stored twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from core.records import Document, PageSpan, Passage, lexical_text
from indexers.arrays import load_npy, read_arrow, save_npy, write_arrow
from indexers.component import Batch, StoredDoc

DOC_SCHEMA = pa.schema(
    [
        ("docno", pa.int64()),
        ("id", pa.string()),
        ("title", pa.string()),
        ("text", pa.large_string()),
        ("metadata", pa.string()),
        ("source", pa.string()),
        ("content_hash", pa.binary(16)),
        ("exact_key", pa.binary(16)),
        ("pages", pa.string()),
    ]
)
PASSAGE_SCHEMA = pa.schema(
    [
        ("docno", pa.int64()),
        ("ordinal", pa.int32()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("page", pa.int32()),
    ]
)


@dataclass
class DocSegment:
    name: str
    start: int
    docs: pa.Table
    passages: pa.Table
    passage_offsets: np.ndarray  # int64 [n_docs + 1]: rows of ``passages`` per document
    signatures: np.ndarray  # [n_docs, num_perm]

    @property
    def n_docs(self) -> int:
        return self.docs.num_rows

    @property
    def n_passages(self) -> int:
        return self.passages.num_rows

    @cached_property
    def spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The passages' ``(ordinal, start, end, page)`` columns as numpy arrays (page -1 where none), read once
        per segment: a hit's passage is then four array reads instead of an Arrow row conversion."""
        t = self.passages
        page = t.column("page")
        pages = page.fill_null(-1) if page.null_count else page
        return (
            t.column("ordinal").to_numpy(),
            t.column("start").to_numpy(),
            t.column("end").to_numpy(),
            pages.to_numpy(),
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_arrow(folder / "docs.arrow", self.docs)
        write_arrow(folder / "passages.arrow", self.passages)
        save_npy(folder / "passage_offsets.npy", self.passage_offsets)
        save_npy(folder / "minhash.npy", self.signatures)

    @classmethod
    def load(cls, folder: Path, name: str, start: int, mmap: bool = True) -> DocSegment:
        return cls(
            name=name,
            start=start,
            docs=read_arrow(folder / "docs.arrow", mmap),
            passages=read_arrow(folder / "passages.arrow", mmap),
            passage_offsets=load_npy(folder / "passage_offsets.npy", mmap),
            signatures=load_npy(folder / "minhash.npy", mmap),
        )


def build_doc_segment(start: int, items: Sequence[StoredDoc], num_perm: int) -> DocSegment:
    n = len(items)
    docnos = np.arange(start, start + n, dtype=np.int64)
    docs = pa.table(
        {
            "docno": docnos,
            "id": [it.doc.id for it in items],
            "title": [it.doc.title or "" for it in items],
            "text": pa.array([it.doc.text for it in items], pa.large_string()),
            "metadata": [json.dumps(it.doc.metadata, ensure_ascii=False, default=str) for it in items],
            "source": [it.doc.source or "" for it in items],
            "content_hash": pa.array([it.content_hash for it in items], pa.binary(16)),
            "exact_key": pa.array([it.exact_key for it in items], pa.binary(16)),
            "pages": [
                None if it.doc.pages is None else json.dumps([[p.page, p.start, p.end] for p in it.doc.pages])
                for it in items
            ],
        },
        schema=DOC_SCHEMA,
    )
    counts = np.array([len(it.passages) for it in items], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    flat = [(docnos[i], p) for i, it in enumerate(items) for p in it.passages]
    passages = pa.table(
        {
            "docno": pa.array([d for d, _ in flat], pa.int64()),
            "ordinal": pa.array([p.ordinal for _, p in flat], pa.int32()),
            "start": pa.array([p.start for _, p in flat], pa.int64()),
            "end": pa.array([p.end for _, p in flat], pa.int64()),
            "page": pa.array([p.page for _, p in flat], pa.int32()),
        },
        schema=PASSAGE_SCHEMA,
    )
    sigs = (
        np.stack([np.asarray(it.signature) for it in items])
        if items
        else np.zeros((0, num_perm), dtype=np.uint32)
    )
    name = f"seg-{start:010d}-{uuid.uuid4().hex[:8]}"
    return DocSegment(name, start, docs, passages, offsets, sigs)


class DocStore:
    kind: ClassVar[str] = "docs"

    def __init__(self) -> None:
        self.segments: list[DocSegment] = []
        self._pending: list[DocSegment] = []
        self.deleted = np.zeros(0, dtype=np.int64)
        self._id_map: dict[str, int] | None = None
        self._deleted_set: set[int] | None = None

    # -- writing -----------------------------------------------------------------------------------------------
    def add_batch(self, batch: Batch) -> None:
        """The batch's documents as one new segment (the component contract, ``indexers.component``)."""
        self.add(batch.start, batch.items, batch.num_perm)

    def add(self, start: int, items: Sequence[StoredDoc], num_perm: int) -> DocSegment:
        if start < self.next_docno:
            raise ValueError(f"docno {start} already used (next free is {self.next_docno})")
        seg = build_doc_segment(start, items, num_perm)
        self.segments.append(seg)
        self._pending.append(seg)
        if self._id_map is not None:
            for i, it in enumerate(items):
                self._id_map[it.doc.id] = start + i
        return seg

    def delete(self, docnos: Sequence[int] | np.ndarray) -> None:
        docnos = np.asarray(docnos, dtype=np.int64)
        self.deleted = np.union1d(self.deleted, docnos)
        self._deleted_set = None
        if self._id_map is not None:
            dead = set(docnos.tolist())
            for k in [k for k, v in self._id_map.items() if v in dead]:
                del self._id_map[k]

    @property
    def next_docno(self) -> int:
        return max((s.start + s.n_docs for s in self.segments), default=0)

    # -- reading -----------------------------------------------------------------------------------------------
    @property
    def deleted_set(self) -> set[int]:
        if self._deleted_set is None:
            self._deleted_set = set(self.deleted.tolist())
        return self._deleted_set

    def is_live(self, docno: int) -> bool:
        return 0 <= docno < self.next_docno and docno not in self.deleted_set

    @property
    def id_map(self) -> dict[str, int]:
        """Live document id -> docno (built on first use)."""
        if self._id_map is None:
            m: dict[str, int] = {}
            dead = self.deleted_set
            for s in self.segments:
                for i, doc_id in enumerate(s.docs.column("id").to_pylist()):
                    if s.start + i not in dead:
                        m[doc_id] = s.start + i
            self._id_map = m
        return self._id_map

    def __len__(self) -> int:
        return sum(s.n_docs for s in self.segments) - len(self.deleted)

    @property
    def n_passages(self) -> int:
        dead = self.deleted_set
        total = 0
        for s in self.segments:
            counts = np.diff(np.asarray(s.passage_offsets))
            alive = [i for i in range(s.n_docs) if s.start + i not in dead] if dead else slice(None)
            total += int(counts[alive].sum())
        return total

    def _locate(self, docno: int) -> tuple[DocSegment, int]:
        for s in self.segments:
            if s.start <= docno < s.start + s.n_docs:
                return s, docno - s.start
        raise KeyError(docno)

    def row(self, docno: int) -> dict[str, Any]:
        s, r = self._locate(docno)
        return s.docs.slice(r, 1).to_pylist()[0]

    def document(self, docno: int) -> Document:
        d = self.row(docno)
        pages = None if d["pages"] is None else [PageSpan(*p) for p in json.loads(d["pages"])]
        return Document(
            id=d["id"],
            text=d["text"],
            title=d["title"],
            metadata=json.loads(d["metadata"]),
            source=d["source"],
            pages=pages,
        )

    def passages(self, docno: int, text: str | None = None) -> list[Passage]:
        s, r = self._locate(docno)
        lo, hi = int(s.passage_offsets[r]), int(s.passage_offsets[r + 1])
        rows = s.passages.slice(lo, hi - lo).to_pylist()
        if text is None:
            text = s.docs.column("text")[r].as_py()
        doc_id = s.docs.column("id")[r].as_py()
        return [Passage(doc_id, p["ordinal"], p["start"], p["end"], text[p["start"] : p["end"]], p["page"]) for p in rows]

    def fields(self, docno: int, names: Sequence[str]) -> dict[str, Any]:
        """Some columns of one document's row, without reading the others (a PDF's text can be megabytes)."""
        s, r = self._locate(docno)
        return {n: s.docs.column(n)[r].as_py() for n in names}

    def text_slice(self, docno: int, start: int, end: int) -> str:
        """``text[start:end]`` of one document (character offsets), sliced in Arrow without copying the text."""
        import pyarrow.compute as pc

        s, r = self._locate(docno)
        return pc.utf8_slice_codeunits(s.docs.column("text")[r], int(start), int(end)).as_py()

    def passage(self, docno: int, ordinal: int) -> Passage | None:
        """One passage of a document with its text, or None when the document has no such passage."""
        s, r = self._locate(docno)
        lo, hi = int(s.passage_offsets[r]), int(s.passage_offsets[r + 1])
        if not 0 <= ordinal < hi - lo:
            return None
        ordinals, starts, ends, pages = s.spans
        row = lo + ordinal
        if int(ordinals[row]) != ordinal:  # ordinals are 0..n-1 in order; anything else: look it up
            found = np.flatnonzero(ordinals[lo:hi] == ordinal)
            if not len(found):
                return None
            row = lo + int(found[0])
        start, end, page = int(starts[row]), int(ends[row]), int(pages[row])
        doc_id = s.docs.column("id")[r].as_py()
        return Passage(doc_id, ordinal, start, end, self.text_slice(docno, start, end), None if page < 0 else page)

    def ids_by_docno(self) -> list[str]:
        """Document id of every docno (deleted ones included), for turning docno rankings into ids in bulk."""
        ids: list[str] = [""] * self.next_docno
        for s in self.segments:
            ids[s.start : s.start + s.n_docs] = s.docs.column("id").to_pylist()
        return ids

    def iter_live(self) -> Iterator[tuple[int, DocSegment, int]]:
        dead = self.deleted_set
        for s in self.segments:
            for r in range(s.n_docs):
                if s.start + r not in dead:
                    yield s.start + r, s, r

    def content_hashes(self) -> dict[str, tuple[int, bytes]]:
        """Live id -> (docno, content hash); used to skip unchanged documents on re-ingest."""
        out: dict[str, tuple[int, bytes]] = {}
        dead = self.deleted_set
        for s in self.segments:
            ids = s.docs.column("id").to_pylist()
            hashes = s.docs.column("content_hash").to_pylist()
            for i, (doc_id, h) in enumerate(zip(ids, hashes)):
                if s.start + i not in dead:
                    out[doc_id] = (s.start + i, h)
        return out

    def dedupe_state(self) -> tuple[list[str], list[bytes], np.ndarray]:
        """(ids, exact keys, MinHash signatures) of live documents, to rebuild the deduper."""
        ids: list[str] = []
        keys: list[bytes] = []
        sigs: list[np.ndarray] = []
        dead = self.deleted_set
        for s in self.segments:
            alive = np.array([s.start + i not in dead for i in range(s.n_docs)], dtype=bool)
            ids.extend(x for x, a in zip(s.docs.column("id").to_pylist(), alive) if a)
            keys.extend(x for x, a in zip(s.docs.column("exact_key").to_pylist(), alive) if a)
            sigs.append(np.asarray(s.signatures)[alive])
        sig = np.concatenate(sigs) if sigs else np.zeros((0, 0), dtype=np.uint32)
        return ids, keys, sig

    def dedupe_texts(self) -> Iterator[str]:
        """The lexical text of each live document (title, newline, text; or the text alone), in the order of
        ``dedupe_state``'s ids, one segment at a time."""
        for title, text in self.dedupe_documents():
            yield lexical_text(Document("", text, title))

    def dedupe_documents(self) -> Iterator[tuple[str, str]]:
        """``(title, text)`` of each live document, in the order of ``dedupe_state``'s ids, one segment at a time
        (what dedupe fingerprints: see ``rag.dedupe.document_fingerprint``)."""
        dead = self.deleted_set
        for s in self.segments:
            titles = s.docs.column("title").to_pylist()
            texts = s.docs.column("text")
            for i in range(s.n_docs):
                if s.start + i in dead:
                    continue
                yield titles[i] or "", texts[i].as_py()

    # -- persistence -------------------------------------------------------------------------------------------
    def save(self, folder: Path, tag: str) -> dict:
        folder.mkdir(parents=True, exist_ok=True)
        for seg in self._pending:
            seg.save(folder / seg.name)
        # swap the written segments for memory-mapped ones: memory stays bounded however much is ingested
        written = {seg.name for seg in self._pending}
        self.segments = [
            DocSegment.load(folder / s.name, s.name, s.start, mmap=True) if s.name in written else s
            for s in self.segments
        ]
        self._pending = []
        deleted_file = f"deleted-{tag}.npy"
        save_npy(folder / deleted_file, self.deleted)
        return {
            "segments": [
                {"name": s.name, "start": s.start, "n_docs": s.n_docs, "n_passages": s.n_passages}
                for s in self.segments
            ],
            "deleted": deleted_file,
        }

    @classmethod
    def load(cls, folder: Path, state: dict, mmap: bool = True) -> DocStore:
        store = cls()
        store.segments = [DocSegment.load(folder / s["name"], s["name"], s["start"], mmap) for s in state["segments"]]
        store.deleted = np.array(load_npy(folder / state["deleted"], mmap=False), dtype=np.int64)
        return store

    @staticmethod
    def files_of(state: dict) -> set[str]:
        return {s["name"] for s in state["segments"]} | {state["deleted"]}
