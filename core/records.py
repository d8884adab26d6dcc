"""Typed records that flow through latte: documents, passages, drops, hits.

Every stage passes these records, never bare tuples, so a field added later
(a page, a score from a new retriever) reaches every consumer by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(slots=True)
class PageSpan:
    """Character span ``[start, end)`` of one PDF page inside ``Document.text``; ``page`` counts from 1."""

    page: int
    start: int
    end: int


@dataclass(slots=True)
class Document:
    """One document as loaded from a source file.

    ``pages`` is set for paged sources (PDF): the text is the pages joined, and
    each span says where a page lies, so passages can cite their page.
    """

    id: str
    text: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    pages: list[PageSpan] | None = None


_PAGE_URL_TAIL = re.compile(r"/pages/[^/]*\.png$")


def id_problem(doc_id: str) -> str | None:
    """Why ``doc_id`` cannot be a document id (it could not be read back), or None.

    >>> id_problem("report.pdf"), id_problem("   ")
    (None, 'the id is blank; give every document a non-blank id')
    >>> id_problem("x.pdf/pages/1.png")
    "the id 'x.pdf/pages/1.png' ends like a page image URL (/pages/N.png): GET /v1/documents/x.pdf/pages/1.png would ask for a page image of 'x.pdf', never this document; choose another id"
    """
    if not doc_id or not doc_id.strip():
        return "the id is blank; give every document a non-blank id"
    if any(ord(c) < 32 or ord(c) == 127 for c in doc_id):
        return f"the id {doc_id[:80]!r} has control characters; use printable characters"
    tail = _PAGE_URL_TAIL.search(doc_id)
    if tail:
        head = doc_id[: tail.start()]
        return (f"the id {doc_id[:200]!r} ends like a page image URL (/pages/N.png): GET /v1/documents/{doc_id[:200]} "
                f"would ask for a page image of {head[:200]!r}, never this document; choose another id")
    return None


def lexical_text(doc: Document) -> str:
    """A document's title, a newline and its text (or the text alone): what BM25 indexes and dedupe fingerprints."""
    return f"{doc.title}\n{doc.text}" if doc.title else doc.text


@dataclass(slots=True)
class LoadProblem:
    """A record a loader could not read (bad JSON line, unreadable file...), reported, never silently skipped.

    ``level`` is ``"error"`` when the record was not loaded, ``"warning"`` when it was loaded but
    something was off (an encoding fallback, a skipped file of unknown type). ``line`` is 1-based
    (a row number for Parquet). A loader that recognises a document it must not index (a binary file named .txt)
    sets ``rule`` and ``doc_id``: the ingest reports it as a dropped document with that rule.
    """

    source: str
    message: str
    line: int | None = None
    level: str = "error"
    rule: str | None = None
    doc_id: str | None = None


@dataclass(slots=True)
class Drop:
    """A document that was not indexed, with the rule that dropped it.

    ``rule`` is a short machine name (``min_words``, ``alpha_share``, ``exact_duplicate``...);
    ``detail`` says the measured value against the threshold; ``duplicate_of`` names the kept
    document for duplicates.
    """

    doc_id: str
    rule: str
    detail: str = ""
    source: str = ""
    duplicate_of: str | None = None


#: what ingest can decide about a record: ``indexed`` (new id), ``replaced`` (a changed document under a known id),
#: ``unchanged`` (same content as indexed: skipped), ``dropped`` (a rule: quality, ``too_long``, ``invalid_id``,
#: ``duplicate_id``, or a loader's refusal), ``duplicate`` (``exact_duplicate``/``near_duplicate`` of a kept
#: document), ``error`` (a record the loader could not read) or ``warning`` (loaded, but something was off)
OutcomeStatus = Literal["indexed", "replaced", "unchanged", "dropped", "duplicate", "error", "warning"]


@dataclass(slots=True)
class IngestOutcome:
    """What ingest decided about one record it read (``rag.ingest.Ingestor`` makes one per document or part of a
    split document, and one per load problem, in input order); the summary counters, the report's drop and problem
    lines and the API's per-document results are all built from these.

    ``rule`` names the rule of a ``dropped`` or ``duplicate`` outcome; ``detail`` says why (the measured value
    against the threshold; a load problem's message); ``duplicate_of`` and ``similarity`` (1.0 for an exact
    copy) are set for duplicates; ``line`` is a load problem's 1-based line. ``replaced`` is True when an earlier
    version under this id was deleted (status ``replaced``, or a changed document that is now a duplicate).

    >>> o = IngestOutcome("a", "duplicate", "exact_duplicate", "similarity 1.000", duplicate_of="b", similarity=1.0)
    >>> o.status, o.duplicate_of, o.is_document
    ('duplicate', 'b', True)
    """

    doc_id: str
    status: OutcomeStatus
    rule: str | None = None
    detail: str = ""
    duplicate_of: str | None = None
    similarity: float | None = None
    source: str = ""
    line: int | None = None
    replaced: bool = False

    @property
    def is_document(self) -> bool:
        """False for a load problem (``error``/``warning``) that is no document."""
        return self.status not in ("error", "warning")


@dataclass(slots=True)
class Passage:
    """A window of a document: ``text == document.text[start:end]``; ``page`` is 1-based or None."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    page: int | None = None


@dataclass(slots=True)
class RetrieverScore:
    """What one retriever said about a hit: its 1-based rank and raw score."""

    rank: int
    score: float


@dataclass(slots=True)
class Hit:
    """One ranked document, passage or PDF page in a search result, with the trace that explains it.

    At the ``passage`` and ``page`` units, ``passage`` is the hit itself: its ordinal (for a page, its best
    passage's), its character span and text (a page's whole span and text) and its 1-based page."""

    doc_id: str
    score: float
    rank: int
    title: str = ""
    passage: Passage | None = None
    retrievers: dict[str, RetrieverScore] = field(default_factory=dict)
    rerank_score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    relevance: float | None = None  # on a scale shared by all queries (rag.relevance); what answer floors compare
    unit: str = "document"  # document | passage | page: what this hit ranks (``passage`` then is the hit itself)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "unit": self.unit,
            "score": self.score,
            "relevance": self.relevance,
            "rank": self.rank,
            "title": self.title,
            "passage": None
            if self.passage is None
            else {
                "ordinal": self.passage.ordinal,
                "start": self.passage.start,
                "end": self.passage.end,
                "page": self.passage.page,
                "text": self.passage.text,
            },
            "retrievers": {k: {"rank": v.rank, "score": v.score} for k, v in self.retrievers.items()},
            "rerank_score": self.rerank_score,
            "metadata": self.metadata,
        }
