"""Shared base of passage-level indexes (dense, sparse, tensors): append-only segments + deleted docnos.

A segment folder holds ``docnos.npy`` (int64 [P], the document of each passage) and ``ordinals.npy`` (int32 [P],
the passage's ordinal in its document) beside the subclass's payload arrays. A subclass fills three hooks:
``_build(batch) -> dict of arrays``, ``_payload_files`` and, for searching, whatever it needs from ``segments``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from indexers.arrays import load_npy, save_npy
from indexers.ranking import PassageHits

_P = TypeVar("_P", bound="PassageIndex")


@dataclass
class PassageSegment:
    name: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def docnos(self) -> np.ndarray:
        return self.arrays["docnos"]

    @property
    def ordinals(self) -> np.ndarray:
        return self.arrays["ordinals"]

    def __len__(self) -> int:
        return int(self.docnos.shape[0])


class PassageIndex:
    """Base class: subclasses set ``kind`` and ``payload_files`` and implement ``_build``."""

    kind: ClassVar[str] = ""
    #: the key of ``Batch.encoded`` this index reads (dense, sparse, multivector)
    representation: ClassVar[str] = ""
    payload_files: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.segments: list[PassageSegment] = []
        self._pending: list[PassageSegment] = []
        self.deleted = np.zeros(0, dtype=np.int64)
        self._alive: np.ndarray | None = None

    # hooks -----------------------------------------------------------------------------------------------------
    def _build(self, batch: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def compact(self, payload: Any) -> Any:
        """The encoder's output for some passages in the form this index stores (float16 vectors, packed sign
        bits...): an ingest compacts each encoded chunk at once, so a batch never waits for its commit in float32."""
        return payload

    def join(self, parts: Sequence[Any]) -> Any:
        """Compacted payloads of consecutive passage chunks as one payload (in passage order)."""
        if len(parts) == 1:
            return parts[0]
        if all(isinstance(p, np.ndarray) for p in parts):
            return np.concatenate(parts)
        if all(isinstance(p, list) for p in parts):
            return [x for p in parts for x in p]
        import scipy.sparse as sp

        return sp.vstack(parts, format="csr")

    def params(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_params(cls: type[_P], params: dict[str, Any]) -> _P:
        return cls(**params)

    def _segment_loaded(self, seg: PassageSegment) -> None:
        """Called after a segment is added or loaded (e.g. to build an in-memory search structure)."""

    def _on_open(self, folder: Path) -> None:
        """Called by ``load`` before any segment is loaded."""

    # interface -------------------------------------------------------------------------------------------------
    def add_batch(self, batch: Any) -> None:
        docnos = batch.passage_docnos
        if len(docnos) == 0:
            return
        ordinals = np.array([p.ordinal for it in batch.items for p in it.passages], dtype=np.int32)
        arrays = {"docnos": docnos.astype(np.int64), "ordinals": ordinals}
        arrays.update(self._build(batch))
        seg = PassageSegment(f"seg-{int(docnos[0]):010d}-{uuid.uuid4().hex[:8]}", arrays)
        self.segments.append(seg)
        self._pending.append(seg)
        self._alive = None
        self._segment_loaded(seg)

    def delete(self, docnos: np.ndarray) -> None:
        self.deleted = np.union1d(self.deleted, np.asarray(docnos, dtype=np.int64))
        self._alive = None

    def alive_docnos(self, n: int) -> np.ndarray:
        """Bool mask by docno (length ``n``) of documents not deleted."""
        if self._alive is None or len(self._alive) < n:
            alive = np.ones(n, dtype=bool)
            alive[self.deleted[self.deleted < n]] = False
            self._alive = alive
        return self._alive[:n]

    @property
    def max_docno(self) -> int:
        return max((int(s.docnos[-1]) + 1 for s in self.segments if len(s)), default=0)

    def __len__(self) -> int:
        return sum(len(s) for s in self.segments)

    def save(self, folder: Path, tag: str) -> dict:
        folder.mkdir(parents=True, exist_ok=True)
        for seg in self._pending:
            (folder / seg.name).mkdir(parents=True, exist_ok=True)
            for name, arr in seg.arrays.items():
                save_npy(folder / seg.name / f"{name}.npy", arr)
            # the written arrays now come from the page cache: memory stays bounded during long ingests
            seg.arrays = {name: load_npy(folder / seg.name / f"{name}.npy", True) for name in seg.arrays}
        self._pending = []
        deleted_file = f"deleted-{tag}.npy"
        save_npy(folder / deleted_file, self.deleted)
        return {
            "params": self.params(),
            "segments": [{"name": s.name, "passages": len(s)} for s in self.segments],
            "deleted": deleted_file,
        }

    @classmethod
    def load(cls: type[_P], folder: Path, state: dict, mmap: bool = True) -> _P:
        idx = cls.from_params(state["params"])
        idx._on_open(folder)
        for s in state["segments"]:
            names = ("docnos", "ordinals", *cls.payload_files)
            arrays = {n: load_npy(folder / s["name"] / f"{n}.npy", mmap) for n in names}
            seg = PassageSegment(s["name"], arrays)
            idx.segments.append(seg)
            idx._segment_loaded(seg)
        idx.deleted = np.array(load_npy(folder / state["deleted"], mmap=False), dtype=np.int64)
        return idx

    @staticmethod
    def files_of(state: dict) -> set[str]:
        return {s["name"] for s in state["segments"]} | {state["deleted"]}


def best_per_document(
    docnos: np.ndarray, ordinals: np.ndarray, scores: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Reduce passage hits to documents: each document's best passage score, the top ``n`` documents.

    >>> d, s, best = best_per_document(np.array([5, 5, 7]), np.array([0, 1, 0]), np.array([0.2, 0.9, 0.5]), 10)
    >>> d.tolist(), [round(float(x), 3) for x in s], best
    ([5, 7], [0.9, 0.5], {5: 1, 7: 0})
    """
    if len(docnos) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), {}
    order = np.lexsort((ordinals, -scores, docnos))  # by doc, then best score, then earlier passage
    d_sorted = docnos[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = d_sorted[1:] != d_sorted[:-1]
    pick = order[first]
    d, s, o = docnos[pick], scores[pick], ordinals[pick]
    top = np.lexsort((d, -s))[:n]
    return d[top].astype(np.int64), s[top].astype(np.float32), {int(a): int(b) for a, b in zip(d[top], o[top])}


def top_passages(docnos: np.ndarray, ordinals: np.ndarray, scores: np.ndarray, n: int) -> PassageHits:
    """The ``n`` best passage hits, best first (ties: smaller docno, then earlier passage).

    >>> d, o, s = top_passages(np.array([5, 5, 7]), np.array([0, 1, 0]), np.array([0.2, 0.9, 0.5]), 2)
    >>> d.tolist(), o.tolist(), [round(float(x), 3) for x in s]
    ([5, 7], [1, 0], [0.9, 0.5])
    """
    order = np.lexsort((ordinals, docnos, -scores))[:n]
    return PassageHits(docnos[order].astype(np.int64), ordinals[order].astype(np.int64), scores[order].astype(np.float32))
