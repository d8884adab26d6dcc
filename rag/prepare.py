"""The per-document work of ingestion that needs no shared state, optionally spread over worker processes: the
one preparation path that ``latte ingest`` runs (in its own process, in ``--workers N`` processes, and in the Ray
tasks of ``--ray``) and that ``benchmarks/bench_clean_dedupe.py`` measures.

Cleaning (``normalize_text``, text and title), the quality rules (``check_quality``), the dedupe fingerprints (exact
key of the text, MinHash signature of title + text) and the passage split depend on one document only
(``prepare_document``); only the dedupe *decision* (``Deduper.match``/``add``) depends on the documents before it.
``prepare_documents`` runs a chunk (what a worker process runs); ``prepare_stream`` runs chunks in this process or
in an executor's workers and yields the results in input order with a bounded number of chunks in flight
(``ordered_map``, which ``rag.ingest.Ingestor`` uses with its own checks between reading and preparing), so memory
stays bounded on a stream of any length and decisions taken in order are the ones one process takes.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import islice
from typing import Any, Protocol, TypeVar

import numpy as np

from core.records import Document, Passage, lexical_text
from indexers.analyzer import Analyzer
from indexers.analyzers import MultilingualAnalyzer, analyzer_from_dict
from rag.clean import QualityRules, check_quality, normalize_text
from rag.dedupe import MinHasher, document_fingerprint
from rag.passages import split_passages

__all__ = [
    "LANG_FIELDS",
    "PARALLEL_CHUNK",
    "PrepareSettings",
    "PreparedDoc",
    "document_language",
    "document_passages",
    "ordered_map",
    "page_passages",
    "prepare_document",
    "prepare_documents",
    "prepare_stream",
    "raw_counts",
    "unslim",
]

T = TypeVar("T")
R = TypeVar("R")

#: documents per task sent to worker processes (``ingest(..., workers=N)``, ``prepare_stream`` with an executor)
PARALLEL_CHUNK = 32
#: metadata fields that name a document's language (the first one present wins)
LANG_FIELDS = ("lang", "language")


class PrepareSettings(Protocol):
    """What preparation reads of the ingest settings (``rag.ingest.IngestSettings``)."""

    @property
    def quality(self) -> QualityRules: ...
    @property
    def passage_size(self) -> int: ...
    @property
    def passage_overlap(self) -> int: ...
    @property
    def page_passages(self) -> bool: ...
    @property
    def lang(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PreparedDoc:
    """What one document becomes without looking at any other: cleaned, checked, fingerprinted, maybe split.

    ``verdict`` is the quality rule that drops it (then nothing else is set); ``passages`` is None when the
    split was left for later (only kept documents need it)."""

    doc: Document
    verdict: tuple[str, str] | None = None
    exact_key: bytes | None = None
    signature: np.ndarray | None = None
    passages: list[Passage] | None = None
    raw_counts: dict[str, int] | None = None  # BM25's raw token counts of the lexical text (workers only)
    spans: tuple[bool, list[tuple[int, int, int | None]]] | None = None  # passages in transit (see _slim)


def page_passages(doc: Document) -> list[Passage]:
    """One passage per PDF page (the unit a page-image encoder embeds)."""
    return [
        Passage(doc.id, i, span.start, span.end, doc.text[span.start : span.end], span.page)
        for i, span in enumerate(doc.pages or [])
    ]


def document_language(doc: Document, settings: PrepareSettings) -> str | None:
    """The language a document is analyzed in: its metadata's ``lang``/``language``, else ``settings.lang``, else
    None (the analyzer detects it)."""
    for key in LANG_FIELDS:
        value = doc.metadata.get(key) if doc.metadata else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return settings.lang


def raw_counts(doc: Document, analyzer: Any, settings: PrepareSettings) -> dict[str, int]:
    """BM25's raw token counts of ``doc``'s lexical text, analyzed in the document's language."""
    return dict(Counter(analyzer.raw_tokens(lexical_text(doc), document_language(doc, settings))))


def document_passages(doc: Document, settings: PrepareSettings) -> list[Passage]:
    if settings.page_passages and doc.pages:
        return page_passages(doc)
    return split_passages(doc, settings.passage_size, settings.passage_overlap)


def prepare_document(doc: Document, settings: PrepareSettings, hasher: MinHasher, passages: bool) -> PreparedDoc:
    """Clean ``doc`` (text and title), apply the quality rules, fingerprint title + text, and split into passages
    when ``passages``. A pure function of the document."""
    text = normalize_text(doc.text)
    title = normalize_text(doc.title) if doc.title else ""
    if doc.pages is not None and text != doc.text:
        # page spans index the original text: keep the text as loaded (it is already clean per page)
        text = doc.text
    verdict = check_quality(text, settings.quality)
    if verdict is not None:
        return PreparedDoc(doc, verdict)
    clean = Document(doc.id, text, title, doc.metadata, doc.source, doc.pages)
    key, words = document_fingerprint(clean.title, clean.text)  # exact key: the text alone; MinHash: title too
    return PreparedDoc(clean, None, key, hasher.signature_of_words(words),
                       document_passages(clean, settings) if passages else None)


@lru_cache(maxsize=4)
def _analyzer(spec: str) -> Analyzer | MultilingualAnalyzer:
    """One analyzer per settings in a worker process (its word cache then lives across chunks)."""
    return analyzer_from_dict(json.loads(spec))


def prepare_documents(
    docs: Sequence[Document], settings: PrepareSettings, hasher: MinHasher, analyzer: str | None = None, *,
    transfer: bool = True,
) -> list[PreparedDoc]:
    """``prepare_document`` over a chunk (a picklable top-level function): what ingest runs, in worker processes
    (``transfer``) or in its own. With ``analyzer`` (the index's BM25 ``Analyzer.to_dict()`` as JSON) it also counts
    the raw tokens BM25 needs for each kept document.

    With ``transfer`` the passages are split here (a worker's work) and the results, which travel back between
    processes, are slimmed (``unslim`` rebuilds them): a text that cleaning left unchanged is not sent back, and
    passages travel as spans, not as copies of their text. Without it passages are left for later (only kept
    documents need them) and nothing is slimmed.
    """
    out = [prepare_document(d, settings, hasher, transfer) for d in docs]
    if analyzer is not None:
        an = _analyzer(analyzer)
        out = [p if p.verdict is not None else dataclasses.replace(p, raw_counts=raw_counts(p.doc, an, settings))
               for p in out]
    return [_slim(p, d) for p, d in zip(out, docs)] if transfer else out


def _slim(p: PreparedDoc, original: Document) -> PreparedDoc:
    if p.verdict is not None or p.passages is None:
        return p
    spans = [(q.start, q.end, q.page) for q in p.passages]
    same = p.doc.text == original.text and p.doc.title == original.title
    doc = Document(p.doc.id, "", "", {}, "", None) if same else p.doc
    return dataclasses.replace(p, doc=doc, passages=None, spans=(same, spans))


def unslim(p: PreparedDoc, original: Document) -> PreparedDoc:
    """The ``PreparedDoc`` that ``prepare_documents(transfer=True)`` made smaller, rebuilt from the ``original``
    document in the main process (a result that was not slimmed is returned as it is)."""
    if p.spans is None:
        return p
    same, spans = p.spans
    doc = original if same else p.doc
    passages = [Passage(doc.id, i, start, end, doc.text[start:end], page) for i, (start, end, page) in enumerate(spans)]
    return dataclasses.replace(p, doc=doc, passages=passages, spans=None)


def prepare_stream(
    docs: Iterable[Document],
    settings: PrepareSettings,
    hasher: MinHasher,
    *,
    executor: Executor | None = None,
    chunk_size: int = PARALLEL_CHUNK,
    in_flight: int = 4,
    analyzer: str | None = None,
) -> Iterator[PreparedDoc]:
    """``prepare_documents`` over a stream, in order, as ingest runs it: in this process (passages left for later)
    or, with an ``executor``, ``in_flight`` chunks at once in its workers (passages split there, results slimmed
    for the trip and rebuilt here).

    >>> from rag.ingest import IngestSettings
    >>> docs = [Document("a", "Hello  World"), Document("b", " "), Document("c", "hello world")]
    >>> [p.verdict or p.exact_key.hex()[:8] for p in prepare_stream(docs, IngestSettings(), MinHasher())]
    ['1305d9c1', ('empty', 'no text after cleaning'), '1305d9c1']
    """
    if chunk_size < 1 or in_flight < 1:
        raise ValueError(f"chunk_size and in_flight must be >= 1 (got {chunk_size}, {in_flight})")
    transfer = executor is not None
    it = iter(docs)
    chunks = iter(lambda: list(islice(it, chunk_size)), [])
    tasks = ((chunk, partial(prepare_documents, chunk, settings, hasher, analyzer, transfer=transfer))
             for chunk in chunks)
    for chunk, prepared in ordered_map(tasks, executor=executor, in_flight=in_flight):
        yield from (unslim(p, d) for p, d in zip(prepared, chunk))


def ordered_map(
    tasks: Iterable[tuple[T, Callable[[], R]]], *, executor: Executor | None = None, in_flight: int = 4
) -> Iterator[tuple[T, R]]:
    """Run each task's call (a picklable ``functools.partial`` for a process pool) and yield ``(tag, result)`` in
    task order. With an ``executor`` at most ``in_flight`` calls are submitted ahead of the one being yielded;
    ``tasks`` is read lazily, so work done while producing a task (e.g. checks in input order) stays in order.

    >>> [r for _, r in ordered_map((i, partial(pow, i, 2)) for i in range(4))]
    [0, 1, 4, 9]
    """
    if in_flight < 1:
        raise ValueError(f"in_flight must be >= 1 (got {in_flight})")
    if executor is None:
        for tag, call in tasks:
            yield tag, call()
        return
    pending: deque[tuple[T, Future[R]]] = deque()
    for tag, call in tasks:
        pending.append((tag, executor.submit(call)))
        if len(pending) >= in_flight:
            done_tag, future = pending.popleft()
            yield done_tag, future.result()
    while pending:
        done_tag, future = pending.popleft()
        yield done_tag, future.result()
