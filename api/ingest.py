"""Writes through the API: the CLI's pipeline (:class:`rag.ingest.Ingestor` on an :class:`IndexWriter`), with
what happened to each document.

Documents are fed one at a time and the ingestor's public summary counters are compared before and after,
so every input gets an outcome: ``indexed``, ``replaced`` (a changed document under a known id), ``unchanged``,
``dropped`` (with the quality rule) or ``duplicate`` (with ``duplicate_of``). Drop details come from the run's
ingest report. Nothing is acknowledged before :meth:`Ingestor.finish` has committed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from indexers.writer import IndexWriter
from rag.ingest import Ingestor, IngestSummary, open_for_ingest
from rag.profiles import ProfileMismatch
from rag.records import Document, LoadProblem
from rag.service import make_encode, models_record, new_components

DUPLICATE_RULES = ("exact_duplicate", "near_duplicate")


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


def _snapshot_counters(s: IngestSummary) -> tuple[int, int, dict[str, int]]:
    return s.unchanged, s.replaced, dict(s.dropped)


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
        """Feed one record; returns the document's outcome (None for a load problem, kept in ``problems``)."""
        if isinstance(record, LoadProblem):
            self.ingestor.feed([record])
            if record.rule is not None:  # a document the loader refused (a binary file): dropped, with its rule
                out = Outcome(record.doc_id or record.source, "dropped", record.rule, record.message,
                              source=record.source or None)
                self.outcomes.append(out)
                return out
            self.problems.append(record)
            return None
        s = self.ingestor.summary
        unchanged, replaced, dropped = _snapshot_counters(s)
        self.ingestor.feed([record])
        out = Outcome(record.id, "indexed", source=record.source or None)
        if s.unchanged > unchanged:
            out.status = "unchanged"
        elif s.dropped != dropped:
            rule = next(r for r, n in s.dropped.items() if n > dropped.get(r, 0))
            out.rule = rule
            if rule in DUPLICATE_RULES:
                out.status = "duplicate"
                dup = self.writer.duplicates.get(record.id)
                out.duplicate_of = dup.duplicate_of if dup is not None else None
            else:
                out.status = "dropped"
        elif s.replaced > replaced:
            out.status = "replaced"
        self.outcomes.append(out)
        return out

    def finish(self) -> IngestResult:
        """Commit what is buffered and return every outcome (acknowledge the client only after this)."""
        summary = self.ingestor.finish()
        self._attach_details(summary.report)
        version = summary.version or self.writer.version  # nothing new to commit: the version already committed
        return IngestResult(version, self.outcomes, self.problems, summary)

    def _attach_details(self, report: str | None) -> None:
        """Fill ``detail`` of dropped/duplicate outcomes from the report (drops are written in feed order)."""
        if not report or not Path(report).is_file():
            return
        drops = []
        with open(report, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("kind") == "drop":
                    drops.append(rec)
        dropped = [o for o in self.outcomes if o.status in ("dropped", "duplicate")]
        for o, rec in zip(dropped, drops, strict=False):  # equal lengths unless the report was cut short
            if rec.get("doc_id") == o.id:
                o.detail = rec.get("detail") or None
                o.duplicate_of = o.duplicate_of or rec.get("duplicate_of")


def delete_document(index: Path, doc_id: str, *, lock_timeout: float = 30.0) -> int | None:
    """Delete one document (or its duplicate record) and commit; the new version, or None for an unknown id."""
    with IndexWriter(index, lock_timeout=lock_timeout) as writer:
        deleted, _missing = writer.delete_ids([doc_id])
        if not deleted:
            return None
        return writer.commit()
