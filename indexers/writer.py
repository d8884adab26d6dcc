"""The single writer of an index folder: adds batches, deletes documents, commits versions atomically.

It holds the folder's write lock for its whole life, so writes are serialised across processes, and it keeps
the committed version untouched until :meth:`IndexWriter.commit` switches the manifest.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from indexers.arrays import read_arrow, write_arrow
from indexers.component import Batch, StoredDoc
from indexers.docstore import DocStore
from indexers.folder import IndexFolder, component_class, create_component, tag_for
from indexers.manifest import Manifest


@dataclass
class DuplicateRecord:
    doc_id: str
    duplicate_of: str
    rule: str  # exact_duplicate | near_duplicate
    similarity: float
    content_hash: bytes
    source: str = ""


class IndexWriter:
    """Open (or create) an index folder for writing.

    ``settings`` are recorded in the manifest at creation; ``components`` maps kind -> a fresh component object for a
    new index (default: a document store and BM25).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        settings: dict[str, Any] | None = None,
        components: dict[str, Any] | None = None,
        lock_timeout: float = 30.0,
        auto_merge: bool = True,
    ) -> None:
        self.folder = IndexFolder(path)
        self.auto_merge = auto_merge  # after each commit, merge by the tiered policy (indexers.merge)
        self._merging = False
        lock = self.folder.write_lock(lock_timeout)
        lock.__enter__()
        self._lock_cm: AbstractContextManager[None] | None = lock
        try:
            self._open(settings, components)
        except BaseException:
            self._lock_cm.__exit__(None, None, None)
            raise

    def _open(self, settings: dict[str, Any] | None, components: dict[str, Any] | None) -> None:
        if self.folder.exists():
            self.manifest = self.folder.read_manifest()
            self.components: dict[str, Any] = {
                kind: component_class(kind).load(self.folder.path / kind, state, mmap=True)
                for kind, state in self.manifest.components.items()
            }
            prev = self.folder.read_previous()
            # a crashed writer may have left files no manifest names: remove them now that we hold the lock
            self.folder.collect_garbage([m for m in (self.manifest, prev) if m is not None])
            self.duplicates = self._load_duplicates()
        else:
            from indexers.analyzers import MultilingualAnalyzer

            self.manifest = Manifest.new(created_at=time.time(), settings=settings)
            self.components = components or {
                "docs": create_component("docs"),
                "bm25": create_component("bm25", analyzer=MultilingualAnalyzer()),
            }
            if "docs" not in self.components:
                raise ValueError("an index needs a 'docs' component")
            self.duplicates = {}
        self.next_docno = self.manifest.next_docno
        self._dirty = False

    def _load_duplicates(self) -> dict[str, DuplicateRecord]:
        name = self.manifest.duplicates_file
        if not name:
            return {}
        t = read_arrow(self.folder.path / "dedupe" / name, mmap=False).to_pylist()
        return {r["doc_id"]: DuplicateRecord(**r) for r in t}

    # -- reading the state being written -------------------------------------------------------------------------
    @property
    def docs(self) -> DocStore:
        return self.components["docs"]

    @property
    def settings(self) -> dict[str, Any]:
        return self.manifest.settings

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def has_changes(self) -> bool:
        """Whether anything was added, deleted or recorded since the last commit (or the open)."""
        return self._dirty

    def record_settings(self, *, ingest: dict[str, Any], profile: str) -> None:
        """Record what a new index is built with (the ingest settings and the profile); written by the first
        commit, which a new index always makes."""
        self.manifest.settings = {"ingest": ingest, "profile": profile}

    def record_dedupe_hashing(self, hashing: dict[str, Any]) -> None:
        """Record the MinHash hashing every stored signature is made with (written by the next commit)."""
        self.manifest.settings["dedupe"] = hashing

    def set_models(self, models: dict[str, Any]) -> None:
        self.manifest.models = models
        self._dirty = True

    # -- writing -----------------------------------------------------------------------------------------------
    def add(self, items: Sequence[StoredDoc], encoded: dict[str, Any] | None = None, *, num_perm: int = 128) -> Batch:
        """Add kept documents (docnos assigned contiguously) to every component; visible after :meth:`commit`."""
        batch = Batch(self.next_docno, list(items), encoded or {}, num_perm)
        if not batch.items:
            return batch
        for comp in self.components.values():
            comp.add_batch(batch)
        self.next_docno += len(batch.items)
        self._dirty = True
        return batch

    def compact(self, encoded: dict[str, Any]) -> dict[str, Any]:
        """Encoder outputs for some passages in the form the components store (see ``PassageIndex.compact``)."""
        out = dict(encoded)
        for comp in self.components.values():
            rep = getattr(comp, "representation", "")
            if rep and rep in out and out[rep] is not None:
                out[rep] = comp.compact(out[rep])
        return out

    def join(self, parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Compacted outputs of consecutive passage chunks as one ``encoded`` dict for :meth:`add` (the parts'
        dicts are emptied: their payloads move into the result)."""
        if len(parts) == 1:
            return parts[0]
        by_rep = {getattr(c, "representation", ""): c for c in self.components.values()}
        out: dict[str, Any] = {}
        for rep in list(parts[0]) if parts else ():
            values = [p.pop(rep) for p in parts]  # the parts let go of it: a component may free them as it copies
            comp = by_rep.get(rep)
            if comp is not None:
                out[rep] = comp.join(values)
            elif all(isinstance(v, list) for v in values):
                out[rep] = [x for v in values for x in v]
            else:
                out[rep] = np.concatenate(values)
        return out

    def delete_docnos(self, docnos: Sequence[int]) -> None:
        if len(docnos) == 0:
            return
        for comp in self.components.values():
            comp.delete(np.asarray(docnos, dtype=np.int64))
        self._dirty = True

    def delete_ids(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """Delete documents (and duplicate records) by id; returns (deleted ids, unknown ids)."""
        id_map = self.docs.id_map
        found, missing, docnos = [], [], []
        for doc_id in ids:
            if doc_id in id_map:
                docnos.append(id_map[doc_id])
                found.append(doc_id)
            elif doc_id in self.duplicates:
                del self.duplicates[doc_id]
                found.append(doc_id)
                self._dirty = True
            else:
                missing.append(doc_id)
        self.delete_docnos(docnos)
        return found, missing

    def record_duplicate(self, rec: DuplicateRecord) -> None:
        self.duplicates[rec.doc_id] = rec
        self._dirty = True

    def commit(self, extra_counts: dict[str, Any] | None = None) -> int:
        """Write new files, then switch the manifest atomically. Returns the committed version."""
        if not self._dirty and self.manifest.version > 0:
            return self.version
        previous = self.manifest if self.manifest.version > 0 else None
        version = self.version + 1
        tag = tag_for(version)
        states = {}
        for kind, comp in self.components.items():
            states[kind] = comp.save(self.folder.path / kind, tag)
        dedupe_dir = self.folder.path / "dedupe"
        dedupe_dir.mkdir(parents=True, exist_ok=True)
        dup_name = f"duplicates-{tag}.arrow"
        write_arrow(dedupe_dir / dup_name, _duplicates_table(self.duplicates.values()))
        manifest = dataclasses.replace(
            self.manifest,
            version=version,
            committed_at=time.time(),
            next_docno=self.next_docno,
            components=states,
            extra_files={"dedupe": [dup_name]},
            counts=self.counts(extra_counts),
        )
        self.folder.commit(manifest, previous)
        self.manifest = manifest
        self._dirty = False
        if self.auto_merge and not self._merging:
            version = self.merge() or version
        return version

    def merge(self, *, max_segments: int | None = None, policy: Any = None) -> int:
        """Merge adjacent segments of every component and commit the result atomically (a new version).

        ``max_segments``: merge until each component has at most this many segments (``latte optimize``);
        otherwise the tiered ``policy`` (default :class:`indexers.merge.MergePolicy`) picks what to merge.
        Returns the committed version, or 0 when there was nothing to merge."""
        from indexers.merge import (
            MergePolicy,
            component_sizes,
            merge_component,
            plan_tiered,
            plan_to_count,
            with_legacy_rewrites,
        )

        self._merging = True
        try:
            if self._dirty:
                self.commit()
            merged = 0
            for comp in self.components.values():
                if not hasattr(comp, "segments"):
                    continue
                sizes = component_sizes(comp)
                ranges = plan_to_count(sizes, max_segments) if max_segments else plan_tiered(sizes, policy or MergePolicy())
                if max_segments:  # optimize also rewrites old uncompressed BM25 segments
                    ranges = with_legacy_rewrites(comp, ranges)
                merged += merge_component(comp, ranges)
            if not merged:
                return 0
            self._dirty = True
            return self.commit()
        finally:
            self._merging = False

    def counts(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        c = {
            "documents": len(self.docs),
            "passages": self.docs.n_passages,
            "duplicates": len(self.duplicates),
            "deleted": int(len(self.docs.deleted)),
            "segments": len(self.docs.segments),
        }
        c.update(extra or {})
        return c

    def close(self) -> None:
        if self._lock_cm is not None:
            self._lock_cm.__exit__(None, None, None)
            self._lock_cm = None

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _duplicates_table(records: Any) -> pa.Table:
    recs = list(records)
    return pa.table(
        {
            "doc_id": pa.array([r.doc_id for r in recs], pa.string()),
            "duplicate_of": pa.array([r.duplicate_of for r in recs], pa.string()),
            "rule": pa.array([r.rule for r in recs], pa.string()),
            "similarity": pa.array([r.similarity for r in recs], pa.float64()),
            "content_hash": pa.array([r.content_hash for r in recs], pa.binary(16)),
            "source": pa.array([r.source for r in recs], pa.string()),
        }
    )
