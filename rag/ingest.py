"""The ingest pipeline: load -> clean -> quality rules -> dedupe -> passages -> (encode) -> index -> commit.

Documents stream through; a batch is committed every ``batch_docs`` documents (or ``batch_chars`` characters, or
once its encoded passages take ``batch_bytes``), so memory stays bounded and a crash loses at most the batch in
flight. Passages are encoded ``encode_passages`` at a time as documents arrive, and each chunk is turned at once
into the form the indexes store (packed sign bits, float16), so no batch waits for its commit in float32. A
document longer than ``max_doc_chars`` is split into parts (or dropped, with ``long_documents="drop"``), which
bounds what one document can take. Re-running the same ingest skips documents whose content is unchanged
(resume), replaces changed ones, and never indexes an id twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator

from core.errors import UserError
from core.records import IngestOutcome, OutcomeStatus
from indexers.analyzers.table import normalize_language
from indexers.docstore import StoredDoc
from indexers.writer import DuplicateRecord, IndexWriter
from rag.clean import QualityRules
from rag.dedupe import Deduper
from rag.doc_parts import split_document
from rag.loaders import LoadOptions, iter_documents
from rag.prepare import (
    PARALLEL_CHUNK,
    PreparedDoc,
    document_language,
    document_passages,
    ordered_map,
    prepare_documents,
    unslim,
)
from rag.profiles import DEFAULT_PROFILE, UNRECORDED_PROFILE, Profile, recorded_or_requested
from rag.records import Document, Drop, LoadProblem, id_problem

log = logging.getLogger(__name__)

#: documents prepared ahead of the main process at most (about 50 KB each in flight for MLDR-length documents)
PARALLEL_IN_FLIGHT_DOCS = 1024


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
    batch_bytes: int = Field(
        32 * 1024 * 1024, ge=1, description="...or once the encoded passages held for the commit take this many bytes"
    )
    encode_passages: int = Field(128, ge=1, description="passages per encoder call (float32 outputs live this long)")
    max_doc_chars: int = Field(5_000_000, ge=1, description="longest document; a longer one is split or dropped")
    long_documents: Literal["split", "drop"] = Field(
        "split", description="what happens to a document over max_doc_chars: split into parts <id>#part-<n>, or dropped"
    )
    page_passages: bool = Field(False, description="PDF pages become the passages (one per page), as ColPali needs")
    lang: str | None = Field(
        None, description="language (ISO 639-1) of documents whose metadata names none; None: detected per document"
    )

    @field_validator("lang")
    @classmethod
    def _lang(cls, lang: str | None) -> str | None:
        if lang is None or lang.strip().lower() in ("", "auto"):
            return None
        return normalize_language(lang)


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
    split: int = 0  # documents over max_doc_chars split into parts (each part counts as a document read)
    commits: int = 0
    version: int = 0
    seconds: float = 0.0
    docs_per_second: float = 0.0
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def count(self, out: IngestOutcome) -> None:
        """Count one outcome (what is committed, ``indexed`` and ``passages``, is counted at each commit)."""
        if not out.is_document:
            if out.status == "warning":
                self.load_warnings += 1
            else:
                self.load_errors += 1
            return
        self.read += 1
        if out.status == "unchanged":
            self.unchanged += 1
        if out.replaced:
            self.replaced += 1
        if out.rule is not None:
            self.dropped[out.rule] = self.dropped.get(out.rule, 0) + 1
        if out.rule == "exact_duplicate":
            self.exact_duplicates += 1
        elif out.rule == "near_duplicate":
            self.near_duplicates += 1


def content_hash(doc: Document) -> bytes:
    """Hash of everything the user gave for a document: an unchanged hash means re-ingest can skip it."""
    h = hashlib.blake2b(digest_size=16)
    for part in (doc.id, doc.title, doc.text, json.dumps(doc.metadata, sort_keys=True, default=str)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


#: what ``Ingestor._precheck`` passes on: (content hash, (docno, hash) known in the index, duplicate record)
_Pre = tuple[bytes, 'tuple[int, bytes] | None', 'DuplicateRecord | None']
#: a record on its way through ``Ingestor.feed``: its document (None for a load problem) with its outcome when
#: decided before preparation, else what ``_precheck`` passes on
_Item = tuple['Document | None', '_Pre | IngestOutcome']


def _dropped(doc: Document, rule: str, detail: str = "") -> IngestOutcome:
    return IngestOutcome(doc.id, "dropped", rule, detail, source=doc.source)


class _Report:
    """Every drop, duplicate and load problem of a run, one JSON line each, in ``index/reports/``."""

    def __init__(self, index_path: Path) -> None:
        folder = index_path / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        # unique: two runs of one process within a second (an API server's writes) must not share a report
        self.path = folder / f"ingest-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._f = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (a line per document, closed by close())

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
        executor: Executor | None = None,
        limit_name: str = "max_doc_chars",
    ) -> None:
        """``limit_name`` is how drop messages name the ``max_doc_chars`` limit (the API: LATTE_MAX_DOC_CHARS)."""
        self.writer = writer
        self.limit_name = limit_name
        self.executor = executor
        self.settings = settings
        self.encode = encode
        self.progress = progress
        self.summary = IngestSummary()
        self.deduper = Deduper(settings.dedupe_threshold, settings.num_perm, settings.shingle_size)
        ids, keys, sigs = writer.docs.dedupe_state()
        hashing = self.deduper.hasher.describe()
        if ids and writer.manifest.dedupe_hashing != hashing:
            keys, sigs = self._refingerprint(len(ids))
        if ids:
            self.deduper.add_many(ids, keys, sigs)
        else:
            writer.record_dedupe_hashing(hashing)  # every stored signature (none) is of this hashing
        self.known = writer.docs.content_hashes()  # id -> (docno, hash)
        self.seen: set[str] = set()
        self.buffer: list[StoredDoc] = []
        self.buffer_chars = 0
        self.encoded: list[dict[str, Any]] = []  # compacted encoder outputs of the buffered passages, in order
        self.encoded_bytes = 0
        self._cursor = (0, 0)  # (document in buffer, passage) of the first passage not encoded yet
        self._unencoded = 0
        self.pending_deletes: list[int] = []
        self._on_outcome: Callable[[IngestOutcome], None] | None = None
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
        for i, (title, text) in enumerate(self.writer.docs.dedupe_documents()):
            res = self.deduper.check(text, title)
            keys.append(res.exact_key)
            sigs[i] = res.signature
        return keys, sigs

    # -- per record -------------------------------------------------------------------------------------------
    def add(self, record: Document | LoadProblem) -> list[IngestOutcome]:
        """Feed one record and return what became of it, decided before this returns (committed by the next flush
        or ``finish``): one outcome; one per part for a document split at ``max_doc_chars``."""
        got: list[IngestOutcome] = []
        self.feed([record], on_outcome=got.append)
        return got

    def feed(self, records: Iterable[Document | LoadProblem],
             on_outcome: Callable[[IngestOutcome], None] | None = None) -> None:
        """Decide every record: each document (each part of a split one) and each load problem gets one
        :class:`IngestOutcome`, in input order, whatever the executor. An outcome is counted in ``summary``, its
        drop or problem written to the report, then passed to ``on_outcome``.

        Documents are prepared (cleaned, checked, fingerprinted: ``prepare_documents``) one at a time in this
        process, or in the executor's workers in chunks of ``PARALLEL_CHUNK`` with several chunks in flight. The
        checks that need no preparation (ids, unchanged content) run as documents are read; an outcome they decide
        waits for the documents before it, and the decisions that depend on earlier documents (replace, dedupe,
        keep) are taken in input order, so every decision equals the one-process one."""
        self._on_outcome = on_outcome
        try:
            self._feed(records)
        finally:
            self._on_outcome = None

    def _feed(self, records: Iterable[Document | LoadProblem]) -> None:
        parallel = self.executor is not None
        analyzer: str | None = None
        if parallel:
            # enough chunks in flight to keep the workers busy while this process commits a batch (seconds)
            in_flight = max(2 * getattr(self.executor, "_max_workers", 2) + 1,
                            PARALLEL_IN_FLIGHT_DOCS // PARALLEL_CHUNK)
            chunk_size = PARALLEL_CHUNK
            bm25 = self.writer.components.get("bm25")
            analyzer = json.dumps(bm25.analyzer.to_dict(), sort_keys=True) if bm25 is not None else None
        else:
            in_flight, chunk_size = 1, 1
        waiting = 0  # records read whose outcome is not out yet

        def tasks() -> Iterator[tuple[list[_Item], partial]]:
            """Chunks of records (read, split and prechecked in input order, as they are needed) with the call
            that prepares the ones the prechecks left undecided."""
            nonlocal waiting
            items: list[_Item] = []
            todo = 0
            for rec in records:
                for doc, early in self._early(rec):
                    if isinstance(early, IngestOutcome) and waiting == 0:
                        self._done(early)  # nothing before it is undecided
                        continue
                    decided = isinstance(early, IngestOutcome)
                    items.append((None if decided else doc, early))  # a decided one waits without its text
                    waiting += 1
                    todo += not decided
                    if todo >= chunk_size or len(items) >= PARALLEL_IN_FLIGHT_DOCS:
                        yield items, self._prepare_call(items, analyzer, parallel)
                        items, todo = [], 0
            if items:
                yield items, self._prepare_call(items, analyzer, parallel)

        results = ordered_map(tasks(), executor=self.executor, in_flight=in_flight)
        while True:
            try:
                items, prepared = next(results)
            except StopIteration:
                return
            except BrokenProcessPool as exc:
                raise RuntimeError(
                    "an ingest worker process died (nothing of this batch was committed; earlier commits are intact). "
                    "Either it ran out of memory, or ingest(workers>1) was called from a script without the "
                    "`if __name__ == '__main__':` guard that multiprocessing needs to start workers. Fix that, or "
                    "ingest with workers=1 (--workers 1)."
                ) from exc
            ready = iter(prepared)
            for doc, early in items:
                waiting -= 1
                if isinstance(early, IngestOutcome):
                    self._done(early)
                else:
                    assert doc is not None  # only documents are prepared
                    self._done(self._apply(doc, *early, unslim(next(ready), doc)))

    def _prepare_call(self, items: list[_Item], analyzer: str | None, transfer: bool) -> partial:
        docs = [d for d, early in items if d is not None and not isinstance(early, IngestOutcome)]
        return partial(prepare_documents, docs, self.settings, self.deduper.hasher, analyzer, transfer=transfer)

    def _early(self, rec: Document | LoadProblem) -> Iterator[_Item]:
        """A record's documents, each with its outcome when the checks that need no preparation decide it, else
        what ``_apply`` needs; a load problem has its outcome at once."""
        if isinstance(rec, LoadProblem):
            yield None, self._problem(rec)
            return
        parts = self._parts(rec)
        if isinstance(parts, IngestOutcome):
            yield rec, parts
            return
        for doc in parts:
            yield doc, self._precheck(doc)

    def _done(self, out: IngestOutcome) -> None:
        """An outcome, in input order: counted, reported, passed on; then maybe a commit, and progress."""
        self.summary.count(out)
        if out.status in ("dropped", "duplicate"):
            self.report.write("drop", **asdict(Drop(out.doc_id, out.rule or "", out.detail, out.source,
                                                    out.duplicate_of)))
        elif not out.is_document:
            self.report.write("load_" + out.status, source=out.source, line=out.line, message=out.detail)
        if self._on_outcome is not None:
            self._on_outcome(out)
        self._after_document()

    def _parts(self, doc: Document) -> list[Document] | IngestOutcome:
        """``[doc]``, or its parts when it is over ``max_doc_chars`` (a ``too_long`` drop when such documents are
        dropped)."""
        limit = self.settings.max_doc_chars
        if len(doc.text) <= limit:
            return [doc]
        if self.settings.long_documents == "drop":
            return _dropped(doc, "too_long", f"{len(doc.text):,} characters; the limit is {limit:,} "
                            f"({self.limit_name}): split the document, or raise the limit")
        parts = split_document(doc, limit)
        self.summary.split += 1
        self.report.write("split", doc_id=doc.id, source=doc.source, characters=len(doc.text), parts=len(parts),
                          message=f"{len(doc.text):,} characters is over max_doc_chars={limit:,}: indexed as "
                                  f"{len(parts)} documents {parts[0].id} .. {parts[-1].id}")
        log.warning("%s has %s characters (over max_doc_chars=%s): indexed as %d parts %s..%s",
                    doc.id, f"{len(doc.text):,}", f"{limit:,}", len(parts), parts[0].id, parts[-1].id)
        return parts

    def _after_document(self) -> None:
        s = self.settings
        self._encode_ready(final=False)
        if len(self.buffer) >= s.batch_docs or self.buffer_chars >= s.batch_chars or self.encoded_bytes >= s.batch_bytes:
            self.flush()
        if self.progress is not None:
            self.progress(self.summary)

    @staticmethod
    def _problem(p: LoadProblem) -> IngestOutcome:
        if p.rule is not None:  # a document the loader refused (a binary file): a drop with its own rule
            return IngestOutcome(p.doc_id or p.source, "dropped", p.rule, p.message, source=p.source)
        status: OutcomeStatus = "warning" if getattr(p, "level", "error") == "warning" else "error"
        return IngestOutcome(p.doc_id or "", status, None, p.message, source=p.source, line=p.line)

    def _precheck(self, doc: Document) -> _Pre | IngestOutcome:
        """The checks that need no cleaning: a repeated id in this run, or content unchanged since the index
        has it (as a document or as a recorded duplicate). Returns ``(content hash, known, duplicate record)``
        for a document to prepare, or its outcome when it is done with."""
        problem = id_problem(doc.id)
        if problem is not None:
            return _dropped(doc, "invalid_id", problem)
        if doc.id in self.seen:
            return _dropped(doc, "duplicate_id", "the same id appeared earlier in this run; the first one was kept")
        self.seen.add(doc.id)
        h = content_hash(doc)
        known = self.known.get(doc.id)
        if known is not None and known[1] == h:
            return IngestOutcome(doc.id, "unchanged", source=doc.source)
        dup = self.writer.duplicates.get(doc.id)
        if dup is not None and dup.content_hash == h:
            return IngestOutcome(doc.id, "unchanged", source=doc.source)
        return h, known, dup

    def _apply(self, doc: Document, h: bytes, known: tuple[int, bytes] | None, dup: DuplicateRecord | None,
               prep: PreparedDoc) -> IngestOutcome:
        """The decisions that depend on the documents before this one (in input order): replace, dedupe, keep."""
        s = self.settings
        if prep.verdict is not None:
            return _dropped(doc, *prep.verdict)
        assert prep.exact_key is not None and prep.signature is not None
        if known is not None:  # a changed document replaces the old one in the same commit
            self.pending_deletes.append(known[0])
            self.deduper.remove(doc.id)
            del self.known[doc.id]
        if dup is not None:
            del self.writer.duplicates[doc.id]
        res = self.deduper.match(prep.exact_key, prep.signature)
        if res.kind == "exact" and s.exact_dedupe or res.kind == "near" and s.near_dedupe:
            assert res.duplicate_of is not None  # a match names the document it duplicates
            rule = f"{res.kind}_duplicate"
            sim = 1.0 if res.kind == "exact" else float(res.similarity or 0.0)
            self.writer.record_duplicate(DuplicateRecord(doc.id, res.duplicate_of, rule, sim, h, doc.source))
            return IngestOutcome(doc.id, "duplicate", rule, f"similarity {sim:.3f}", res.duplicate_of, sim,
                                 doc.source, replaced=known is not None)
        passages = prep.passages if prep.passages is not None else document_passages(prep.doc, s)
        if self.encode is None:  # nothing reads passage texts after this point: the store keeps spans only
            for p in passages:
                p.text = ""
        self.deduper.add(doc.id, prep.exact_key, prep.signature)
        # a language given by metadata or settings travels with the document to BM25 (raw counts made by workers
        # already used it) and to passage BM25, which analyzes the passages in it
        lang = document_language(prep.doc, s)
        self.buffer.append(StoredDoc(prep.doc, h, prep.exact_key, prep.signature, passages, prep.raw_counts, lang))
        self.buffer_chars += len(prep.doc.text)
        self._unencoded += len(passages)
        return IngestOutcome(doc.id, "replaced" if known is not None else "indexed", source=doc.source,
                             replaced=known is not None)

    # -- encoding, chunk by chunk -----------------------------------------------------------------------------
    def _encode_ready(self, final: bool) -> None:
        """Encode the buffered passages ``encode_passages`` at a time (all that are left when ``final``), each
        chunk compacted at once to what the indexes store; encoded passages lose their text (no longer needed)."""
        if self.encode is None:
            return
        chunk = self.settings.encode_passages
        while self._unencoded >= chunk or (final and self._unencoded > 0):
            views, taken = self._take(chunk)
            part = self.writer.compact(self.encode(views))
            for v in views:
                for p in v.passages:
                    p.text = ""
            self.encoded.append(part)
            self.encoded_bytes += _nbytes(part)
            self._unencoded -= taken

    def _take(self, n: int) -> tuple[list[StoredDoc], int]:
        """The next (at most) ``n`` unencoded passages as documents holding only those passages."""
        views: list[StoredDoc] = []
        doc, start = self._cursor
        taken = 0
        while taken < n and doc < len(self.buffer):
            it = self.buffer[doc]
            end = min(len(it.passages), start + n - taken)
            if end > start:
                views.append(dataclasses.replace(it, passages=it.passages[start:end]))
                taken += end - start
            if end >= len(it.passages):
                doc, start = doc + 1, 0
            else:
                start = end
        self._cursor = (doc, start)
        return views, taken

    # -- per batch --------------------------------------------------------------------------------------------
    def flush(self) -> None:
        if not self.buffer and not self.pending_deletes:
            return
        if self.pending_deletes:
            self.writer.delete_docnos(self.pending_deletes)
            self.pending_deletes = []
        self._encode_ready(final=True)
        parts, self.encoded, self.encoded_bytes, self._cursor = self.encoded, [], 0, (0, 0)
        encoded = self.writer.join(parts) if parts else {}  # frees the parts as it copies them
        del parts
        batch = self.writer.add(self.buffer, encoded, num_perm=self.settings.num_perm)
        del encoded
        for i, it in enumerate(self.buffer):
            self.known[it.doc.id] = (batch.start + i, it.content_hash)
        self.summary.indexed += len(self.buffer)
        self.summary.passages += sum(len(it.passages) for it in self.buffer)
        self.buffer, self.buffer_chars = [], 0
        self.summary.version = self.writer.commit()
        self.summary.commits += 1
        release_free_memory()

    def finish(self) -> IngestSummary:
        self.flush()
        if self.writer.version == 0 or self.writer.has_changes:
            self.summary.version = self.writer.commit()
        else:  # nothing to commit: the version the index is at (not 0)
            self.summary.version = self.writer.version
        self.summary.seconds = time.perf_counter() - self._t0
        self.summary.docs_per_second = self.summary.read / self.summary.seconds if self.summary.seconds else 0.0
        self.report.write("summary", **self.summary.to_dict())
        self.report.close()
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
    profile: str | None = None,
    workers: int = 1,
) -> IngestSummary:
    """Ingest files/folders into the index folder ``index`` (created when missing). See :class:`Ingestor`.

    The index is opened by :func:`open_for_ingest` (``profile`` None: the index's own; a new index without one is
    ``bm25``: this function loads no models, ``rag.service.ingest_paths`` does and defaults to ``default``).
    ``workers`` > 1 cleans, checks, fingerprints and splits documents in that many worker processes (0: one per
    CPU core); reading, dedupe decisions, indexing and encoding stay in this process. Results are the same.
    """
    for p in paths:
        if not Path(p).exists():
            raise FileNotFoundError(f"no such file or folder: {p}")
    workers = (os.cpu_count() or 1) if workers == 0 else workers
    if workers < 0:
        raise UserError(f"workers must be >= 0 (0: one per CPU core), got {workers}")
    opened = open_for_ingest(index, profile=profile, settings=settings, components=components, models=models,
                             default_profile=UNRECORDED_PROFILE)
    with opened.writer as writer, _worker_pool(workers) as pool:
        ing = Ingestor(writer, opened.settings, encode=encode, progress=progress, executor=pool)
        ing.feed(iter_documents(paths, load_options))
        return ing.finish()


@dataclass
class OpenIndex:
    """An index opened for ingest: the writer (holding the write lock: close it, or use it as a context manager),
    the ingest settings to run with, and the index's profile."""

    writer: IndexWriter
    settings: IngestSettings
    profile: Profile

    @property
    def created(self) -> bool:
        """Whether the index is new (nothing committed yet)."""
        return self.writer.version == 0


def open_for_ingest(
    index: str | Path,
    *,
    profile: str | None = None,
    settings: IngestSettings | None = None,
    components: dict[str, Any] | None = None,
    models: dict[str, Any] | None = None,
    default_profile: str = DEFAULT_PROFILE,
    lock_timeout: float = 30.0,
) -> OpenIndex:
    """Open ``index`` for ingest (``latte ingest``, the API's writes, the Ray pipeline all open it here).

    A new index is created with ``components`` (None: documents and BM25) and records ``profile`` (None:
    ``default_profile``), ``settings`` (None: the defaults; a ``page_images`` profile makes PDF pages the passages)
    and ``models`` (the encoder records, ``rag.service.models_record``). An existing index keeps its recorded profile
    (``profile``, when given, must be it: :class:`rag.profiles.ProfileMismatch`) and runs with its recorded settings
    unless ``settings`` are given. The write lock is waited for ``lock_timeout`` seconds
    (:class:`indexers.folder.IndexLocked`)."""
    writer = IndexWriter(index, settings=None, components=components, lock_timeout=lock_timeout)
    try:
        manifest = writer.manifest if writer.version > 0 else None
        prof = recorded_or_requested(index, manifest, profile, default_profile)
        if manifest is None:
            settings = settings or IngestSettings()
            if prof.page_images and not settings.page_passages:
                settings = settings.model_copy(update={"page_passages": True})
            writer.record_settings(ingest=settings.model_dump(), profile=prof.name)
            if models:
                writer.set_models(models)
        elif settings is None:
            recorded = manifest.ingest_settings
            settings = IngestSettings(**recorded) if recorded else IngestSettings()
    except BaseException:
        writer.close()
        raise
    return OpenIndex(writer, settings, prof)


def release_free_memory() -> None:
    """Give memory freed by a commit back to the system (glibc keeps freed blocks in its arenas, so a long ingest's
    resident size would creep up with fragmentation); does nothing where ``malloc_trim`` does not exist."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def _nbytes(encoded: dict[str, Any]) -> int:
    """Bytes held by compacted encoder outputs (arrays, packed tokens, sparse matrices, lists of arrays)."""
    total = 0
    for v in encoded.values():
        if isinstance(v, list):
            total += sum(int(getattr(x, "nbytes", 0)) for x in v)
        elif hasattr(v, "nbytes"):
            total += int(v.nbytes)
        elif hasattr(v, "data") and hasattr(v, "indices"):  # scipy sparse
            total += int(v.data.nbytes + v.indices.nbytes + v.indptr.nbytes)
    return total


@contextmanager
def _worker_pool(workers: int) -> Iterator[Executor | None]:
    """A process pool for ``workers`` > 1 (started by a fork server: safe after torch or numba threads exist)."""
    if workers <= 1:
        yield None
        return
    import multiprocessing

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
