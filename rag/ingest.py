"""The ingest pipeline: load -> clean -> quality rules -> dedupe -> passages -> (encode) -> index -> commit.

Documents stream through; a batch is committed every ``batch_docs`` documents (or ``batch_chars`` characters),
so memory stays bounded and a crash loses at most the batch in flight. Re-running the same ingest skips
documents whose content is unchanged (resume), replaces changed ones, and never indexes an id twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from indexers.docstore import StoredDoc
from indexers.writer import DuplicateRecord, IndexWriter
from rag.clean import QualityRules, check_quality, normalize_text
from rag.dedupe import Deduper, exact_key
from rag.loaders import LoadOptions, iter_documents
from rag.passages import split_passages
from rag.records import Document, Drop, LoadProblem, Passage

log = logging.getLogger(__name__)


class IngestSettings(BaseModel):
    """Everything that decides what gets indexed; recorded in the index manifest at creation."""

    passage_size: int = Field(200, ge=8, description="words per passage window")
    passage_overlap: int = Field(40, ge=0, description="words shared by consecutive windows")
    quality: QualityRules = Field(default_factory=QualityRules)
    exact_dedupe: bool = True
    near_dedupe: bool = True
    dedupe_threshold: float = Field(0.8, gt=0, le=1)
    num_perm: int = Field(128, ge=16)
    shingle_size: int = Field(5, ge=1)
    batch_docs: int = Field(2000, ge=1, description="commit after this many kept documents")
    batch_chars: int = Field(64_000_000, ge=1, description="...or after this many characters")
    page_passages: bool = Field(False, description="PDF pages become the passages (one per page), as ColPali needs")


@dataclass
class IngestSummary:
    read: int = 0
    indexed: int = 0
    replaced: int = 0
    unchanged: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    exact_duplicates: int = 0
    near_duplicates: int = 0
    load_errors: int = 0
    load_warnings: int = 0
    passages: int = 0
    commits: int = 0
    version: int = 0
    seconds: float = 0.0
    docs_per_second: float = 0.0
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_hash(doc: Document) -> bytes:
    """Hash of everything the user gave for a document: an unchanged hash means re-ingest can skip it."""
    h = hashlib.blake2b(digest_size=16)
    for part in (doc.id, doc.title, doc.text, json.dumps(doc.metadata, sort_keys=True, default=str)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


def page_passages(doc: Document) -> list[Passage]:
    """One passage per PDF page (the unit a page-image encoder embeds)."""
    return [
        Passage(doc.id, i, span.start, span.end, doc.text[span.start : span.end], span.page)
        for i, span in enumerate(doc.pages or [])
    ]


class _Report:
    """Every drop, duplicate and load problem of a run, one JSON line each, in ``index/reports/``."""

    def __init__(self, index_path: Path) -> None:
        folder = index_path / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = folder / f"ingest-{stamp}-{os.getpid()}.jsonl"
        self._f = open(self.path, "w", encoding="utf-8")

    def write(self, kind: str, **data: Any) -> None:
        self._f.write(json.dumps({"kind": kind, **data}, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        self._f.close()


Encode = Callable[[list[StoredDoc]], dict[str, Any]]


class Ingestor:
    """Streams documents into an open :class:`IndexWriter`; ``encode`` (optional) turns passage texts into the
    payloads of the passage-level indexes (dense, sparse, tensors)."""

    def __init__(
        self,
        writer: IndexWriter,
        settings: IngestSettings,
        *,
        encode: Encode | None = None,
        progress: Callable[[IngestSummary], None] | None = None,
    ) -> None:
        self.writer = writer
        self.settings = settings
        self.encode = encode
        self.progress = progress
        self.summary = IngestSummary()
        self.deduper = Deduper(settings.dedupe_threshold, settings.num_perm, settings.shingle_size)
        ids, keys, sigs = writer.docs.dedupe_state()
        hashing = self.deduper.hasher.describe()
        if ids and writer.settings.get("dedupe") != hashing:
            keys, sigs = self._refingerprint(len(ids))
        if ids:
            self.deduper.add_many(ids, keys, sigs)
        else:
            writer.settings["dedupe"] = hashing  # every stored signature (none) is of this hashing
        self.known = writer.docs.content_hashes()  # id -> (docno, hash)
        self.seen: set[str] = set()
        self.buffer: list[StoredDoc] = []
        self.buffer_chars = 0
        self.pending_deletes: list[int] = []
        self.report = _Report(writer.folder.path)
        self.summary.report = str(self.report.path)
        self._t0 = time.perf_counter()

    def _refingerprint(self, n: int) -> tuple[list[bytes], np.ndarray]:
        """Exact keys and signatures of the stored documents under the current hashing, recomputed from their texts.

        Indexes whose documents were fingerprinted by another hashing (an older latte, other MinHash settings)
        keep their stored signatures; comparing those with new ones would miss duplicates, so every run on such
        an index recomputes them in memory (about 0.3 ms per document; rebuild the index once to skip this).
        """
        log.warning("index %s: its %d documents were fingerprinted by another dedupe hashing; recomputing their "
                    "signatures from the stored texts for this run (rebuild the index once to skip this step)",
                    self.writer.folder.path, n)
        keys: list[bytes] = []
        sigs = np.zeros((n, self.deduper.hasher.num_perm), dtype=np.uint32)
        for i, text in enumerate(self.writer.docs.dedupe_texts()):
            res = self.deduper.check(text)
            keys.append(res.exact_key)
            sigs[i] = res.signature
        return keys, sigs

    # -- per record -------------------------------------------------------------------------------------------
    def feed(self, records: Iterable[Document | LoadProblem]) -> None:
        for rec in records:
            if isinstance(rec, LoadProblem):
                self._problem(rec)
                continue
            self.summary.read += 1
            self._document(rec)
            if len(self.buffer) >= self.settings.batch_docs or self.buffer_chars >= self.settings.batch_chars:
                self.flush()
            if self.progress is not None:
                self.progress(self.summary)

    def _problem(self, p: LoadProblem) -> None:
        level = getattr(p, "level", "error")
        if level == "warning":
            self.summary.load_warnings += 1
        else:
            self.summary.load_errors += 1
        self.report.write("load_" + level, source=p.source, line=p.line, message=p.message)

    def _drop(self, doc: Document, rule: str, detail: str = "", duplicate_of: str | None = None) -> None:
        d = Drop(doc.id, rule, detail, doc.source, duplicate_of)
        self.summary.dropped[rule] = self.summary.dropped.get(rule, 0) + 1
        self.report.write("drop", **asdict(d))

    def _document(self, doc: Document) -> None:
        s = self.settings
        if doc.id in self.seen:
            self._drop(doc, "duplicate_id", "the same id appeared earlier in this run; the first one was kept")
            return
        self.seen.add(doc.id)
        h = content_hash(doc)
        known = self.known.get(doc.id)
        if known is not None and known[1] == h:
            self.summary.unchanged += 1
            return
        dup = self.writer.duplicates.get(doc.id)
        if dup is not None and dup.content_hash == h:
            self.summary.unchanged += 1
            return
        text = normalize_text(doc.text)
        title = normalize_text(doc.title) if doc.title else ""
        if doc.pages is not None and text != doc.text:
            # page spans index the original text: keep the text as loaded (it is already clean per page)
            text = doc.text
        verdict = check_quality(text, s.quality)
        if verdict is not None:
            self._drop(doc, *verdict)
            return
        if known is not None:  # a changed document replaces the old one in the same commit
            self.pending_deletes.append(known[0])
            self.deduper.remove(doc.id)
            del self.known[doc.id]
            self.summary.replaced += 1
        if dup is not None:
            del self.writer.duplicates[doc.id]
        full = f"{title}\n{text}" if title else text
        res = self.deduper.check(full)
        if res.kind == "exact" and s.exact_dedupe or res.kind == "near" and s.near_dedupe:
            rule = f"{res.kind}_duplicate"
            sim = 1.0 if res.kind == "exact" else float(res.similarity or 0.0)
            self.writer.record_duplicate(DuplicateRecord(doc.id, res.duplicate_of, rule, sim, h, doc.source))
            if res.kind == "exact":
                self.summary.exact_duplicates += 1
            else:
                self.summary.near_duplicates += 1
            self._drop(doc, rule, f"similarity {sim:.3f}", res.duplicate_of)
            return
        clean = Document(doc.id, text, title, doc.metadata, doc.source, doc.pages)
        if s.page_passages and clean.pages:
            passages = page_passages(clean)
        else:
            passages = split_passages(clean, s.passage_size, s.passage_overlap)
        self.deduper.add(doc.id, res.exact_key, res.signature)
        self.buffer.append(StoredDoc(clean, h, res.exact_key, res.signature, passages))
        self.buffer_chars += len(text)

    # -- per batch --------------------------------------------------------------------------------------------
    def flush(self) -> None:
        if not self.buffer and not self.pending_deletes:
            return
        if self.pending_deletes:
            self.writer.delete_docnos(self.pending_deletes)
            self.pending_deletes = []
        encoded: dict[str, Any] = {}
        if self.encode is not None and self.buffer:
            encoded = self.encode(self.buffer)
        batch = self.writer.add(self.buffer, encoded, num_perm=self.settings.num_perm)
        for i, it in enumerate(self.buffer):
            self.known[it.doc.id] = (batch.start + i, it.content_hash)
        self.summary.indexed += len(self.buffer)
        self.summary.passages += sum(len(it.passages) for it in self.buffer)
        self.buffer, self.buffer_chars = [], 0
        self.summary.version = self.writer.commit()
        self.summary.commits += 1

    def finish(self) -> IngestSummary:
        self.flush()
        if self.writer.version == 0 or self.writer._dirty:
            self.summary.version = self.writer.commit()
        self.report.write("summary", **self.summary.to_dict())
        self.report.close()
        self.summary.seconds = time.perf_counter() - self._t0
        self.summary.docs_per_second = self.summary.read / self.summary.seconds if self.summary.seconds else 0.0
        return self.summary


def ingest(
    paths: Sequence[str | Path],
    index: str | Path,
    *,
    settings: IngestSettings | None = None,
    load_options: LoadOptions | None = None,
    encode: Encode | None = None,
    components: dict[str, Any] | None = None,
    models: dict[str, Any] | None = None,
    progress: Callable[[IngestSummary], None] | None = None,
    profile: str = "bm25",
) -> IngestSummary:
    """Ingest files/folders into the index folder ``index`` (created when missing). See :class:`Ingestor`."""
    for p in paths:
        if not Path(p).exists():
            raise FileNotFoundError(f"no such file or folder: {p}")
    with IndexWriter(index, settings=None, components=components) as writer:
        if writer.version == 0:
            settings = settings or IngestSettings()
            writer.manifest["settings"] = {"ingest": settings.model_dump(), "profile": profile}
            if models:
                writer.set_models(models)
        else:
            recorded = writer.settings.get("ingest")
            settings = IngestSettings(**recorded) if recorded and settings is None else (settings or IngestSettings())
        ing = Ingestor(writer, settings, encode=encode, progress=progress)
        ing.feed(iter_documents(paths, load_options))
        return ing.finish()
