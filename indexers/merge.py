"""Segment merging: a tiered policy picks runs of adjacent segments; each component merges its own runs.

Every ingest commit adds one segment per component, so a long ingest leaves many small segments and each
query pays for each of them. Merging rewrites runs of adjacent segments (adjacent in docno order, so a BM25 or
document segment still covers one contiguous docno range) into one, dropping what deleted documents left:

- BM25: postings of deleted documents are dropped and their lengths zeroed (the docno stays reserved); the
  merged postings are written compressed, so merging also migrates segments of the old uncompressed layout;
- dense / sparse / tensors: rows of deleted documents' passages are dropped; a merged dense segment of at least
  ``hnsw_min`` passages gets an HNSW graph (``index_type="auto"``);
- documents: deleted documents keep their row (docnos address rows) with empty text, title and metadata, and
  lose their passages.

Docnos never change, so the components stay aligned whatever each one merged. The merged segments are new
folders; the writer's ordinary commit switches the manifest to them atomically, so a reader sees the version
before the merge or the one after it, never half of it, and a ``kill -9`` mid-merge leaves only unnamed folders
that the next writer removes.

>>> plan_tiered([100] * 12, MergePolicy(merge_factor=10, floor_docs=1000))
[(0, 10)]
>>> plan_tiered([50_000, 100, 100, 100], MergePolicy(merge_factor=3, floor_docs=1000))
[(1, 4)]
>>> plan_to_count([5, 1, 1, 5, 1], 3)
[(1, 3), (3, 5)]
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MergePolicy:
    """Log-size tiers (Lucene's LogMergePolicy): ``merge_factor`` adjacent segments of one tier merge into one of
    the next tier, so each document is rewritten about log_factor(N / floor_docs) times over an ingest."""

    merge_factor: int = 10
    floor_docs: int = 1000  # smaller segments count as this size (they share the lowest tier)

    def __post_init__(self) -> None:
        if self.merge_factor < 2 or self.floor_docs < 1:
            raise ValueError("a merge policy needs merge_factor >= 2 and floor_docs >= 1")

    def tier(self, size: int) -> int:
        return int(math.floor(math.log(max(size, self.floor_docs) / self.floor_docs, self.merge_factor) + 1e-9))


def plan_tiered(sizes: Sequence[int], policy: MergePolicy) -> list[tuple[int, int]]:
    """Half-open ranges of adjacent segments to merge: each run of ``merge_factor`` segments in one tier."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(sizes):
        t = policy.tier(sizes[i])
        j = i
        while j < len(sizes) and policy.tier(sizes[j]) == t:
            j += 1
        for lo in range(i, j - policy.merge_factor + 1, policy.merge_factor):
            out.append((lo, lo + policy.merge_factor))
        i = j
    return out


def plan_to_count(sizes: Sequence[int], max_segments: int) -> list[tuple[int, int]]:
    """Half-open ranges of adjacent segments to merge so that at most ``max_segments`` remain, merging the
    smallest adjacent neighbours first (least rewriting)."""
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    groups = [[i, i + 1, int(s)] for i, s in enumerate(sizes)]
    while len(groups) > max_segments:
        j = min(range(len(groups) - 1), key=lambda i: groups[i][2] + groups[i + 1][2])
        a, b = groups[j], groups.pop(j + 1)
        a[1], a[2] = b[1], a[2] + b[2]
    return [(lo, hi) for lo, hi, _ in groups if hi - lo > 1]


def _check_contiguous(segments: Sequence[Any]) -> None:
    for a, b in zip(segments, segments[1:]):
        if a.start + a.n_docs != b.start:
            raise ValueError(f"segments {a.name} and {b.name} are not adjacent in docno order; they cannot merge")


def _name(start: int) -> str:
    return f"seg-{int(start):010d}-{uuid.uuid4().hex[:8]}"


# -- BM25 --------------------------------------------------------------------------------------------------------
def merge_bm25(segments: Sequence[Any], deleted: np.ndarray) -> Any:
    """One compressed :class:`indexers.bm25.Segment` for adjacent segments; deleted documents' postings dropped."""
    from numba.typed import List

    from indexers.bm25 import Segment
    from indexers.postings import compress

    _check_contiguous(segments)
    start = int(segments[0].start)
    end = int(segments[-1].start + segments[-1].n_docs)
    doc_len = np.zeros(end - start, np.float32)
    for s in segments:
        doc_len[s.start - start : s.start - start + s.n_docs] = np.asarray(s.doc_len)
    d = np.asarray(deleted, dtype=np.int64)
    d = d[(d >= start) & (d < end)] - start
    keep = np.ones(end - start, dtype=np.bool_)
    keep[d] = False
    doc_len[d] = 0.0
    ids, ptrs, rows, tfs = List(), List(), List(), List()
    for s in segments:
        indptr, r, f = s.blocks.decode_all()
        ids.append(np.asarray(s.blocks.term_ids, dtype=np.int64))
        ptrs.append(indptr)
        rows.append(r)
        tfs.append(f)
    offsets = np.array([s.start - start for s in segments], np.int64)
    union = np.unique(np.concatenate([np.asarray(x) for x in ids])) if len(segments) else np.zeros(0, np.int64)
    total = sum(len(r) for r in rows)
    out_ptr = np.zeros(len(union) + 1, np.int64)
    out_rows = np.empty(total, np.int32)
    out_tf = np.empty(total, np.float32)
    _merge_kernel()(union, ids, ptrs, rows, tfs, offsets, keep, out_ptr, out_rows, out_tf)
    present = np.diff(out_ptr) > 0
    n = int(out_ptr[-1])
    term_ids = union[present]
    indptr = np.concatenate([[0], np.cumsum(np.diff(out_ptr)[present])]).astype(np.int64)
    blocks = compress(term_ids, indptr, out_rows[:n], out_tf[:n], doc_len)
    return Segment(_name(start), start, blocks, doc_len)


_KERNEL: Any = None


def _merge_kernel() -> Any:
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def merge_csr(union, ids, ptrs, rows, tfs, offsets, keep, out_ptr, out_rows, out_tf):  # pragma: no cover
            ns = len(ids)
            cur = np.zeros(ns, np.int64)
            n = 0
            for u in range(union.shape[0]):
                t = union[u]
                for s in range(ns):  # segments in docno order: rows stay ascending
                    sid = ids[s]
                    c = cur[s]
                    if c < sid.shape[0] and sid[c] == t:
                        ptr = ptrs[s]
                        r = rows[s]
                        f = tfs[s]
                        off = offsets[s]
                        for p in range(ptr[c], ptr[c + 1]):
                            g = off + r[p]
                            if keep[g]:
                                out_rows[n] = g
                                out_tf[n] = f[p]
                                n += 1
                        cur[s] = c + 1
                out_ptr[u + 1] = n

        _KERNEL = merge_csr
    return _KERNEL


# -- passage indexes ---------------------------------------------------------------------------------------------
def merge_passages(index: Any, segments: Sequence[Any], deleted: np.ndarray) -> Any:
    """One :class:`indexers.passage_index.PassageSegment` for adjacent segments of a dense, sparse or tensor
    index; passages of deleted documents dropped."""
    from indexers.passage_index import PassageSegment

    keeps = [~np.isin(np.asarray(s.docnos), deleted) for s in segments]
    arrays: dict[str, np.ndarray] = {
        "docnos": np.concatenate([np.asarray(s.docnos)[k] for s, k in zip(segments, keeps)]).astype(np.int64),
        "ordinals": np.concatenate([np.asarray(s.ordinals)[k] for s, k in zip(segments, keeps)]).astype(np.int32),
    }
    kind = index.kind
    if kind == "dense":
        arrays["vectors"] = np.concatenate([np.asarray(s.arrays["vectors"])[k] for s, k in zip(segments, keeps)])
    elif kind == "tensors":
        arrays.update(_merge_tensors(segments, keeps))
    elif kind == "sparse":
        arrays.update(_merge_sparse(index, segments, keeps))
    else:
        raise ValueError(f"no merge for passage index kind {kind!r}")
    first = int(arrays["docnos"][0]) if len(arrays["docnos"]) else int(np.asarray(segments[0].docnos)[0])
    return PassageSegment(_name(first), arrays)


def _merge_tensors(segments: Sequence[Any], keeps: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    codes, values, lengths = [], [], []
    has_values = all("values" in s.arrays for s in segments)
    for s, k in zip(segments, keeps):
        off = np.asarray(s.arrays["token_offsets"])
        lo, hi = off[:-1][k], off[1:][k]
        rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]) if len(lo) else np.zeros(0, np.int64)
        codes.append(np.asarray(s.arrays["codes"])[rows])
        if has_values:
            values.append(np.asarray(s.arrays["values"])[rows])
        lengths.append(hi - lo)
    out = {
        "codes": np.concatenate(codes),
        "token_offsets": np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64),
    }
    if has_values:
        out["values"] = np.concatenate(values)
    return out


def _merge_sparse(index: Any, segments: Sequence[Any], keeps: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    import scipy.sparse as sp

    mats = []
    for s, k in zip(segments, keeps):
        tids = np.asarray(s.arrays["term_ids"])
        counts = np.diff(np.asarray(s.arrays["indptr"]))
        full = np.zeros(index.vocab_size + 1, np.int64)
        np.add.at(full, tids + 1, counts)
        csc = sp.csc_matrix((np.asarray(s.arrays["weights"]), np.asarray(s.arrays["rows"]), np.cumsum(full)),
                            shape=(len(s), index.vocab_size))
        mats.append(csc.tocsr()[np.flatnonzero(k)])
    m = sp.vstack(mats).tocsc()
    m.sort_indices()
    counts = np.diff(m.indptr)
    present = np.flatnonzero(counts)
    return {
        "term_ids": present.astype(np.int64),
        "indptr": np.concatenate([[0], np.cumsum(counts[present])]).astype(np.int64),
        "rows": m.indices.astype(np.int32),
        "weights": m.data.astype(np.float32),
    }


# -- documents ---------------------------------------------------------------------------------------------------
def merge_docs(segments: Sequence[Any], deleted: np.ndarray) -> Any:
    """One :class:`indexers.docstore.DocSegment` for adjacent segments; deleted documents keep an empty row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from indexers.docstore import DocSegment

    _check_contiguous(segments)
    start = int(segments[0].start)
    docs = pa.concat_tables([s.docs for s in segments]).combine_chunks()
    docnos = np.asarray(docs.column("docno").to_numpy(), dtype=np.int64)
    dead = np.isin(docnos, deleted)
    if dead.any():
        cols = {name: docs.column(name) for name in docs.column_names}
        mask = pa.array(dead)
        for name, empty in (("text", ""), ("title", ""), ("metadata", "{}"), ("source", "")):
            cols[name] = pc.if_else(mask, pa.scalar(empty, cols[name].type), cols[name])
        docs = pa.table(cols, schema=docs.schema)
    passages = pa.concat_tables([s.passages for s in segments]).combine_chunks()
    pdoc = np.asarray(passages.column("docno").to_numpy(), dtype=np.int64)
    live_p = ~np.isin(pdoc, deleted)
    passages = passages.filter(pa.array(live_p))
    counts = np.bincount(pdoc[live_p] - start, minlength=len(docnos)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sigs = np.concatenate([np.asarray(s.signatures) for s in segments])
    return DocSegment(_name(start), start, docs, passages, offsets, sigs)


# -- one component ---------------------------------------------------------------------------------------------
def with_legacy_rewrites(comp: Any, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``ranges`` plus a one-segment range for each BM25 segment of the old layout that no range covers."""
    covered = {i for lo, hi in ranges for i in range(lo, hi)}
    extra = [(i, i + 1) for i, s in enumerate(comp.segments) if getattr(s, "legacy", False) and i not in covered]
    return sorted(ranges + extra)


def component_sizes(comp: Any) -> list[int]:
    """Documents (BM25, documents) or passages (dense, sparse, tensors) per segment, in order."""
    return [int(s.n_docs) if hasattr(s, "n_docs") else len(s) for s in comp.segments]


def merge_component(comp: Any, ranges: Sequence[tuple[int, int]]) -> int:
    """Replace each range of ``comp.segments`` by one merged, pending segment (written by the next save); a range
    of one segment rewrites it (BM25 segments of the old uncompressed layout). Returns how many segments were written."""
    if not ranges:
        return 0
    own = getattr(comp, "merge_ranges", None)  # a component wrapping another (passage BM25) merges itself
    if own is not None:
        return int(own(ranges))
    kind = getattr(comp, "kind", "")
    deleted = np.asarray(comp.deleted, dtype=np.int64)
    segs = list(comp.segments)
    new: list[Any] = []
    merged_names: set[str] = set()
    done = 0
    prev = 0
    for lo, hi in sorted(ranges):
        new.extend(segs[prev:lo])
        group = segs[lo:hi]
        if kind == "bm25":
            seg = merge_bm25(group, deleted)
        elif kind == "docs":
            seg = merge_docs(group, deleted)
        else:
            seg = merge_passages(comp, group, deleted)
        new.append(seg)
        merged_names.update(s.name for s in group)
        comp._pending.append(seg)
        done += 1
        prev = hi
    new.extend(segs[prev:])
    comp._pending = [s for s in comp._pending if s.name not in merged_names]
    comp.segments = new
    hook = getattr(comp, "_segments_merged", None)
    if hook is not None:
        hook(merged_names, [s for s in new if s.name not in {x.name for x in segs}])
    for attr in ("_stats", "_alive", "_id_map", "_search_table"):
        if hasattr(comp, attr):
            setattr(comp, attr, None)
    return done
