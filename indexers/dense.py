"""Dense passage vectors searched with faiss (inner product on L2-normalised vectors = cosine).

Each segment stores its vectors as float16 (``vectors.npy``, memory-mapped). Search uses one faiss index per
segment: exact (``IndexFlatIP``) for segments below ``hnsw_min`` passages, HNSW above it (built when the segment is
added and saved beside it, loaded memory-mapped). With faiss-gpu installed and a GPU present, exact indexes move to
the GPU (same results). A document's score is its best passage's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexers.arrays import fit_mask
from indexers.passage_index import PassageIndex, PassageSegment, best_per_document, top_passages
from indexers.ranking import PassageHits, Ranking


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - faiss-cpu is a core dependency
        raise ImportError("dense retrieval needs faiss: pip install faiss-cpu (or faiss-gpu)") from e
    return faiss


class DenseIndex(PassageIndex):
    kind = "dense"
    representation = "dense"
    payload_files = ("vectors",)

    def __init__(
        self, dim: int, *, index_type: str = "auto", hnsw_min: int = 200_000, hnsw_m: int = 32,
        ef_construction: int = 200, ef_search: int = 128, device: str = "auto",
    ) -> None:
        super().__init__()
        if index_type not in ("auto", "flat", "hnsw"):
            raise ValueError("index_type must be auto, flat or hnsw")
        self.dim = int(dim)
        self.index_type = index_type
        self.hnsw_min = hnsw_min
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.device = device
        self._faiss: dict[str, Any] = {}
        self._folder: Path | None = None
        self._hnsw: set[str] = set()

    def params(self) -> dict[str, Any]:
        return {
            "dim": self.dim, "index_type": self.index_type, "hnsw_min": self.hnsw_min, "hnsw_m": self.hnsw_m,
            "ef_construction": self.ef_construction, "ef_search": self.ef_search,
        }

    def _use_hnsw(self, n: int) -> bool:
        """HNSW for a new segment once the whole collection (with it) reaches ``hnsw_min`` passages."""
        return self.index_type == "hnsw" or (self.index_type == "auto" and len(self) >= self.hnsw_min)

    def _segment_loaded(self, seg: PassageSegment) -> None:
        # decided once, when the segment is added; a loaded segment is HNSW exactly when its graph file exists
        if self._folder is None or not (self._folder / seg.name).exists():
            if self._use_hnsw(len(seg)):
                self._hnsw.add(seg.name)
        elif (self._folder / seg.name / "hnsw.faiss").exists():
            self._hnsw.add(seg.name)

    def _segments_merged(self, old_names: set[str], new_segments: list[PassageSegment]) -> None:
        """After a merge (indexers.merge): a merged segment of at least ``hnsw_min`` passages gets HNSW."""
        for name in old_names:
            self._hnsw.discard(name)
            self._faiss.pop(name, None)
        for seg in new_segments:
            if self.index_type == "hnsw" or (self.index_type == "auto" and len(seg) >= self.hnsw_min):
                self._hnsw.add(seg.name)

    def _build(self, batch: Any) -> dict[str, np.ndarray]:
        vecs = batch.encoded.get("dense")
        if vecs is None:
            raise ValueError("this index has a dense component but the batch carries no dense vectors")
        vecs = self.compact(vecs)
        if vecs.ndim != 2 or vecs.shape[1] != self.dim or vecs.shape[0] != len(batch.passage_docnos):
            raise ValueError(f"dense vectors must be [{len(batch.passage_docnos)}, {self.dim}], got {vecs.shape}")
        return {"vectors": vecs}

    def compact(self, vecs: Any) -> np.ndarray:
        """Vectors as stored: float16 (what ``vectors.npy`` holds)."""
        vecs = np.asarray(vecs)
        return vecs if vecs.dtype == np.float16 else vecs.astype(np.float16)

    def _make_faiss(self, seg: PassageSegment) -> Any:
        faiss = _faiss()
        vecs = np.ascontiguousarray(np.asarray(seg.arrays["vectors"], dtype=np.float32))
        if seg.name in self._hnsw:
            idx = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            idx.hnsw.efConstruction = self.ef_construction
            idx.add(vecs)
        else:
            idx = faiss.IndexFlatIP(self.dim)
            idx.add(vecs)
            idx = _maybe_gpu(idx, self.device)
        return idx

    def _index_for(self, seg: PassageSegment) -> Any:
        idx = self._faiss.get(seg.name)
        if idx is None:
            hnsw_file = self._folder / seg.name / "hnsw.faiss" if self._folder else None
            if hnsw_file is not None and hnsw_file.exists():
                faiss = _faiss()
                idx = faiss.read_index(str(hnsw_file), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
            else:
                idx = self._make_faiss(seg)
            self._faiss[seg.name] = idx
        if hasattr(idx, "hnsw"):
            idx.hnsw.efSearch = self.ef_search
        return idx

    def save(self, folder: Path, tag: str) -> dict:
        pending = list(self._pending)
        state = super().save(folder, tag)
        faiss = _faiss()
        for seg in pending:
            if seg.name in self._hnsw:
                faiss.write_index(self._index_for(seg), str(folder / seg.name / "hnsw.faiss"))
        self._folder = folder
        return state

    def _on_open(self, folder: Path) -> None:
        self._folder = folder

    def document_scores(self, query: np.ndarray, docnos: np.ndarray) -> np.ndarray:
        """Each document's best passage inner product with ``query`` (cosine for normalised vectors), aligned with
        ``docnos``; -inf for a document with no vectors (deleted, or added before this index existed).

        >>> idx = DenseIndex(dim=2)
        >>> idx.segments.append(PassageSegment("s", {"docnos": np.array([0, 0, 2]), "ordinals": np.array([0, 1, 0]),
        ...     "vectors": np.array([[1, 0], [0.6, 0.8], [0, 1]], np.float16)}))
        >>> [round(float(x), 2) for x in idx.document_scores(np.array([0.0, 1.0]), np.array([0, 1, 2]))]
        [0.8, -inf, 1.0]
        """
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        docnos = np.asarray(docnos, dtype=np.int64)
        out = np.full(len(docnos), -np.inf, dtype=np.float32)
        alive = self.alive_docnos(int(docnos.max()) + 1 if len(docnos) else 0)
        for seg in self.segments:
            sd = np.asarray(seg.docnos)
            if not len(sd):
                continue
            lo, hi = np.searchsorted(sd, docnos, "left"), np.searchsorted(sd, docnos, "right")
            for i in np.flatnonzero((hi > lo) & alive[docnos]).tolist():
                sims = np.asarray(seg.arrays["vectors"][lo[i] : hi[i]], dtype=np.float32) @ q
                out[i] = max(out[i], float(sims.max()))
        return out

    def _query_and_alive(
        self, query: np.ndarray, allowed: np.ndarray | None, n_docnos: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise ValueError(f"query vector has dimension {q.shape[1]}, the index {self.dim}")
        total = n_docnos or self.max_docno
        alive = self.alive_docnos(total)
        if allowed is not None:
            alive = alive & fit_mask(allowed, total)
        return q, alive

    def _live_passages(
        self, query: np.ndarray, allowed: np.ndarray | None, n_docnos: int | None, first: int,
        enough: Callable[[np.ndarray], bool],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Live passages each segment's faiss index returns (docnos, ordinals, scores), asking a segment for
        ``first`` hits, then four times more until ``enough(live docnos)`` or the segment is exhausted; None when no
        segment holds a passage."""
        q, alive = self._query_and_alive(query, allowed, n_docnos)
        ds, os_, ss = [], [], []
        for seg in self.segments:
            if not len(seg):
                continue
            idx = self._index_for(seg)
            m = min(len(seg), first)
            while True:
                scores, rows = idx.search(q, m)
                rows, scores = rows[0], scores[0]
                ok = rows >= 0
                rows, scores = rows[ok], scores[ok]
                d = np.asarray(seg.docnos)[rows]
                keep = alive[d]
                if m >= len(seg) or enough(d[keep]):
                    break
                m = min(len(seg), m * 4)
            ds.append(d[keep])
            os_.append(np.asarray(seg.ordinals)[rows[keep]])
            ss.append(scores[keep])
        if not ds:
            return None
        return np.concatenate(ds), np.concatenate(os_), np.concatenate(ss)

    def search_passages(
        self, query: np.ndarray, n: int, *, allowed: np.ndarray | None = None, n_docnos: int | None = None
    ) -> PassageHits:
        """Top ``n`` live passages by inner product, best first."""
        hits = self._live_passages(query, allowed, n_docnos, max(n, 64), lambda d: len(d) >= n)
        if hits is None:
            return PassageHits.empty()
        return top_passages(*hits, n)

    def search(
        self, query: np.ndarray, n: int, *, allowed: np.ndarray | None = None, n_docnos: int | None = None
    ) -> Ranking:
        """Top ``n`` documents by best passage inner product, with each one's best passage ordinal."""
        hits = self._live_passages(query, allowed, n_docnos, max(4 * n, 64), lambda d: len(np.unique(d)) >= n)
        if hits is None:
            return Ranking.empty(passages=True)
        return Ranking(*best_per_document(*hits, n))

def _maybe_gpu(index: Any, device: str) -> Any:
    if device == "cpu":
        return index
    faiss = _faiss()
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        res = faiss.StandardGpuResources()
        return faiss.index_cpu_to_gpu(res, 0, index)
    if device.startswith("cuda"):
        raise RuntimeError("device cuda was asked for dense search, but faiss has no GPU here: pip install faiss-gpu")
    return index
