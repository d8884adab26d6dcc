"""Writes through the API: the CLI's pipeline (:class:`rag.ingest.Ingestor` on an :class:`IndexWriter`), with
what happened to each document.

Documents are fed one at a time (``Ingestor.add``) and each one's typed outcome (``core.records.IngestOutcome``)
becomes its result: ``indexed``, ``replaced`` (a changed document under a known id), ``unchanged``, ``dropped``
(with the rule and its detail) or ``duplicate`` (with ``duplicate_of``). Nothing is acknowledged before
:meth:`Ingestor.finish` has committed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.records import Document, IngestOutcome, LoadProblem
from indexers.writer import IndexWriter
from rag.ingest import Ingestor, IngestSummary, open_for_ingest
from rag.profiles import ProfileMismatch
from rag.service import make_encode, models_record, new_components


@dataclass
class Outcome:
    """What one submitted document became."""

    id: str
    status: str  # indexed | replaced | unchanged | dropped | duplicate
    rule: str | None = None
    detail: str | None = None
    duplicate_of: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, o: IngestOutcome) -> Outcome:
        return cls(o.doc_id, o.status, o.rule, o.detail or None, o.duplicate_of, o.source or None)


@dataclass
class IngestResult:
    version: int
    outcomes: list[Outcome]
    problems: list[LoadProblem] = field(default_factory=list)
    summary: IngestSummary | None = None

    def counts(self) -> dict[str, int]:
        c = {s: 0 for s in ("indexed", "replaced", "unchanged", "dropped", "duplicate")}
        for o in self.outcomes:
            c[o.status] += 1
        return c


class BatchIngest:
    """Open the index for writing (creating it with ``profile`` when missing), feed records, commit.

    Use as a context manager; the writer's cross-process lock is held from ``__enter__`` to ``__exit__``.
    """

    def __init__(self, index: Path, *, profile: str, encoders: dict[str, Any], lock_timeout: float = 30.0,
                 max_doc_chars: int | None = None) -> None:
        """``max_doc_chars`` (LATTE_MAX_DOC_CHARS): a longer document is dropped (rule ``too_long``), whatever the
        index recorded, so uploads have the limit JSON batches have."""
        self.max_doc_chars = max_doc_chars
        self.index = Path(index)
        self.profile = profile
        self.encoders = encoders
        self.lock_timeout = lock_timeout
        self.outcomes: list[Outcome] = []
        self.problems: list[LoadProblem] = []

    def __enter__(self) -> BatchIngest:
        from indexers.folder import IndexFolder

        new = not IndexFolder(self.index).exists()
        components = new_components(self.profile, self.encoders) if new else None
        try:  # as `latte ingest` opens it (a page-image profile makes each PDF page one passage)
            opened = open_for_ingest(self.index, profile=self.profile, components=components,
                                     models=models_record(self.encoders), lock_timeout=self.lock_timeout)
        except ProfileMismatch as exc:  # the server's state is stale, not the request: a 500 that says what to do
            raise RuntimeError(
                f"the index on disk now has profile {exc.recorded!r} but this server loaded "
                f"{self.profile!r}; restart the server"
            ) from None
        self.writer = opened.writer
        settings = opened.settings
        try:
            if self.max_doc_chars is not None:
                settings = settings.model_copy(update={"max_doc_chars": self.max_doc_chars, "long_documents": "drop"})
            self.ingestor = Ingestor(self.writer, settings, encode=make_encode(self.encoders),
                                     limit_name="LATTE_MAX_DOC_CHARS")
        except BaseException:
            self.writer.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.writer.close()

    def add(self, record: Document | LoadProblem) -> Outcome | None:
        """Feed one record; returns the document's outcome (None for a load problem, kept in ``problems``).

        A document the loader refused (``LoadProblem.rule``) is a ``dropped`` outcome. The API drops documents
        over its ``max_doc_chars`` (``too_long``), so a document has one outcome; were it split into parts, each
        part's outcome is kept and the first returned."""
        outcomes = self.ingestor.add(record)
        if isinstance(record, LoadProblem) and record.rule is None:
            self.problems.append(record)
            return None
        got = [Outcome.of(o) for o in outcomes]
        self.outcomes.extend(got)
        return got[0]

    def finish(self) -> IngestResult:
        """Commit what is buffered and return every outcome (acknowledge the client only after this)."""
        summary = self.ingestor.finish()
        version = summary.version or self.writer.version  # nothing new to commit: the version already committed
        return IngestResult(version, self.outcomes, self.problems, summary)


def delete_document(index: Path, doc_id: str, *, lock_timeout: float = 30.0) -> int | None:
    """Delete one document (or its duplicate record) and commit; the new version, or None for an unknown id."""
    with IndexWriter(index, lock_timeout=lock_timeout) as writer:
        deleted, _missing = writer.delete_ids([doc_id])
        if not deleted:
            return None
        return writer.commit()
