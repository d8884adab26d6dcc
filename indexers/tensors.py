"""Tensor arrays: one multi-vector token matrix per passage, binary-quantized by sign, memory-mapped.

Per segment: ``codes.npy`` uint8 [T, dim/8] (bit = value > 0, ``np.packbits(..., bitorder="little")``),
``token_offsets.npy`` int64 [P + 1] (passage p owns rows ``token_offsets[p]:token_offsets[p+1]``), and with
``store_float16`` also ``values.npy`` float16 [T, dim] for the exact mode. Binary storage is exactly 1/32 of
float32 for the token data, plus 8 bytes of offset per passage.

A document's late-interaction score is the best MaxSim over its passages (``mode="best_passage"``); the
cross-passage form (MaxSim over the union of its passages' tokens) is available for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexers.arrays import fit_mask
from indexers.passage_index import PassageIndex, PassageSegment
from indexers.ranking import PassageHits, Ranking


@dataclass(frozen=True)
class PackedTokens:
    """Token matrices of consecutive passages in their stored form: sign bits ``codes`` uint8 [T, dim/8],
    ``lengths`` int64 [P] (tokens per passage), and float16 ``values`` [T, dim] only when the index keeps them.

    What an ingest holds between encoding and commit: 1/32 of float32 for binary storage, so a batch's token
    vectors never wait for the commit in float32.

    >>> a = PackedTokens.pack([np.ones((2, 8), np.float32), np.zeros((0, 8), np.float32)], 8)
    >>> b = PackedTokens.pack([-np.ones((1, 8), np.float32)], 8)
    >>> c = PackedTokens.concat([a, b])
    >>> len(c), c.lengths.tolist(), c.codes[:, 0].tolist(), c.nbytes
    (3, [2, 0, 1], [255, 255, 0], 27)
    """

    codes: np.ndarray
    lengths: np.ndarray
    values: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.lengths.nbytes + (self.values.nbytes if self.values is not None else 0))

    @classmethod
    def pack(cls, mats: Sequence[Any], dim: int, *, keep_float16: bool = False) -> PackedTokens:
        from rerank.bits import pack_bits

        lengths = np.array([len(m) for m in mats], dtype=np.int64)
        nonempty = [np.asarray(m, dtype=np.float32) for m in mats if len(m)]
        flat = np.concatenate(nonempty) if nonempty else np.zeros((0, dim), np.float32)
        if flat.ndim != 2 or flat.shape[1] != dim:
            raise ValueError(f"token vectors have dimension {flat.shape[-1]}, the index {dim}")
        return cls(pack_bits(flat), lengths, flat.astype(np.float16) if keep_float16 else None)

    @staticmethod
    def concat(parts: Sequence[PackedTokens]) -> PackedTokens:
        """One ``PackedTokens`` of ``parts`` in order. A ``list`` is consumed (emptied) as it is copied, so the
        parts are freed one by one and the copy never needs twice their memory."""
        if len(parts) == 1:
            return parts[0]
        keep = all(p.values is not None for p in parts) and len(parts) > 0
        n_tok = sum(len(p.codes) for p in parts)
        width = parts[0].codes.shape[1] if parts else 0
        codes = np.empty((n_tok, width), np.uint8)
        values = np.empty((n_tok, parts[0].values.shape[1]), np.float16) if keep else None  # type: ignore[union-attr]
        lengths = np.concatenate([p.lengths for p in parts]).astype(np.int64)
        at = 0
        queue = parts if isinstance(parts, list) else list(parts)
        while queue:
            p = queue.pop(0)
            codes[at : at + len(p.codes)] = p.codes
            if values is not None:
                values[at : at + len(p.codes)] = p.values
            at += len(p.codes)
            del p
        return PackedTokens(codes, lengths, values)


class TensorIndex(PassageIndex):
    kind = "tensors"
    representation = "multivector"

    def __init__(self, dim: int, *, store_float16: bool = False) -> None:
        super().__init__()
        if dim % 8:
            raise ValueError(f"token dimension must be a multiple of 8 for bit packing, got {dim}")
        self.dim = int(dim)
        self.store_float16 = bool(store_float16)

    @property
    def payload_files(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("codes", "token_offsets", "values") if self.store_float16 else ("codes", "token_offsets")

    def params(self) -> dict[str, Any]:
        return {"dim": self.dim, "store_float16": self.store_float16}

    @classmethod
    def load(cls, folder: Path, state: dict, mmap: bool = True) -> TensorIndex:
        from indexers.arrays import load_npy

        idx = cls.from_params(state["params"])
        for s in state["segments"]:
            arrays = {n: load_npy(folder / s["name"] / f"{n}.npy", mmap) for n in ("docnos", "ordinals", *idx.payload_files)}
            idx.segments.append(PassageSegment(s["name"], arrays))
        idx.deleted = np.array(load_npy(folder / state["deleted"], mmap=False), dtype=np.int64)
        return idx

    def compact(self, mats: Any) -> PackedTokens:
        """Token matrices (a list of float [t, dim]) in the stored form, as soon as they are encoded."""
        if isinstance(mats, PackedTokens):
            return mats
        return PackedTokens.pack(mats, self.dim, keep_float16=self.store_float16)

    def join(self, parts: Sequence[Any]) -> PackedTokens:
        """The parts as one payload; a list is consumed as it is copied (see ``PackedTokens.concat``)."""
        queue = parts if isinstance(parts, list) else list(parts)
        for i, p in enumerate(queue):
            queue[i] = self.compact(p)
        return PackedTokens.concat(queue)

    def _build(self, batch: Any) -> dict[str, np.ndarray]:
        mats = batch.encoded.get("multivector")
        if mats is None:
            raise ValueError("this index has a tensor component but the batch carries no token vectors")
        if len(mats) != len(batch.passage_docnos):
            raise ValueError(f"{len(mats)} token matrices for {len(batch.passage_docnos)} passages")
        packed = self.compact(mats)
        if self.store_float16 and packed.values is None:
            raise ValueError("this index keeps float16 token values but the batch carries sign bits only")
        if packed.codes.shape[1] != self.dim // 8:
            raise ValueError(f"token codes have {packed.codes.shape[1]} bytes, the index {self.dim // 8}")
        offsets = np.concatenate([[0], np.cumsum(packed.lengths)]).astype(np.int64)
        out = {"codes": packed.codes, "token_offsets": offsets}
        if self.store_float16 and packed.values is not None:  # (refused above when missing)
            out["values"] = packed.values
        return out

    # -- sizes -------------------------------------------------------------------------------------------------
    def size_report(self) -> dict[str, Any]:
        tokens = sum(int(s.arrays["token_offsets"][-1]) for s in self.segments)
        passages = len(self)
        binary = sum(int(s.arrays["codes"].nbytes) for s in self.segments)
        offsets = sum(int(s.arrays["token_offsets"].nbytes) for s in self.segments)
        return {
            "dim": self.dim,
            "tokens": tokens,
            "passages": passages,
            "bytes_per_token_binary": self.dim // 8,
            "bytes_per_token_float32": self.dim * 4,
            "binary_bytes": binary,
            "float32_equivalent_bytes": tokens * self.dim * 4,
            "offsets_bytes": offsets,
            "float16_bytes": sum(int(s.arrays["values"].nbytes) for s in self.segments if "values" in s.arrays),
        }

    # -- scoring -----------------------------------------------------------------------------------------------
    def candidate_passages(
        self, docnos: np.ndarray
    ) -> list[tuple[PassageSegment, np.ndarray, np.ndarray, np.ndarray]]:
        """For each segment: (segment, candidate passage rows grouped by document, each group's docno, group sizes)."""
        out = []
        docnos = np.asarray(docnos, dtype=np.int64)
        for seg in self.segments:
            sd = np.asarray(seg.docnos)
            if not len(sd):
                continue
            lo = np.searchsorted(sd, docnos, side="left")
            hi = np.searchsorted(sd, docnos, side="right")
            has = hi > lo
            if not has.any():
                continue
            rows = np.concatenate([np.arange(a, b) for a, b in zip(lo[has], hi[has])])
            out.append((seg, rows, docnos[has], (hi - lo)[has]))
        return out

    def score(
        self,
        query: np.ndarray,
        docnos: np.ndarray,
        *,
        quantization: str = "binary",
        mode: str = "best_passage",
        backend: str = "auto",
    ) -> tuple[np.ndarray, dict[int, int]]:
        """MaxSim of ``query`` [n_q, dim] against the candidate documents: (scores aligned with ``docnos``, best
        passage ordinal per docno). Documents without tensors (deleted or never encoded) score -inf."""
        from rerank.maxsim import score_documents
        from rerank.store import TokenStore

        if quantization not in ("binary", "float16"):
            raise ValueError("quantization must be binary or float16")
        if quantization == "float16" and not self.store_float16:
            raise ValueError("this index stores binary tensors only; re-ingest with --quantization float16 for exact mode")
        docnos = np.asarray(docnos, dtype=np.int64)
        scores = np.full(len(docnos), -np.inf, dtype=np.float32)
        best: dict[int, int] = {}
        pos = {int(d): i for i, d in enumerate(docnos.tolist())}
        alive = self.alive_docnos(int(docnos.max()) + 1 if len(docnos) else 0)
        q = np.asarray(query, dtype=np.float32)
        for seg, rows, group_docnos, counts in self.candidate_passages(docnos):
            store = TokenStore(
                codes=seg.arrays["codes"] if quantization == "binary" else None,
                values=seg.arrays.get("values") if quantization == "float16" else None,
                token_offsets=seg.arrays["token_offsets"],
                dim=self.dim,
            )
            doc_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            s, best_idx = score_documents(q, store, rows, doc_offsets, mode=mode, backend=backend)
            ords = np.asarray(seg.ordinals)
            for d, sc, bi in zip(group_docnos.tolist(), np.asarray(s).tolist(), np.asarray(best_idx).tolist()):
                if not alive[d]:
                    continue
                i = pos[d]
                if sc > scores[i]:
                    scores[i] = sc
                    if bi >= 0:
                        best[d] = int(ords[rows[bi]])
        return scores, best

    def search(
        self, query: np.ndarray, n: int, *, allowed: np.ndarray | None = None, quantization: str = "binary",
        backend: str = "auto", n_docnos: int | None = None,
    ) -> Ranking:
        """Ranker mode: exact MaxSim over every live document (brute force), top ``n``."""
        total = n_docnos or self.max_docno
        alive = self.alive_docnos(total).copy()
        if allowed is not None:
            alive &= fit_mask(allowed, total)
        cands = np.unique(np.concatenate([np.asarray(s.docnos) for s in self.segments])) if self.segments else np.zeros(0, np.int64)
        cands = cands[alive[cands]] if len(cands) else cands
        scores, best = self.score(query, cands, quantization=quantization, backend=backend)
        order = np.lexsort((cands, -scores))[:n]
        return Ranking(cands[order], scores[order], {int(d): best[int(d)] for d in cands[order] if int(d) in best})

    # -- passage and page units --------------------------------------------------------------------------------
    def score_groups(
        self,
        query: np.ndarray,
        docnos: np.ndarray,
        groups: list[np.ndarray],
        *,
        quantization: str = "binary",
        backend: str = "auto",
    ) -> tuple[np.ndarray, np.ndarray]:
        """MaxSim of ``query`` against groups of passages: group ``i`` is the passages ``groups[i]`` (ordinals) of
        document ``docnos[i]`` (one passage for the passage unit, a page's passages for the page unit). A group
        scores as its best passage. Returns (scores float32 [n], best ordinal int64 [n]); a group with no tensors
        (deleted, or ordinals not found) scores -inf with best ordinal -1."""
        from rerank.maxsim import score_documents
        from rerank.store import TokenStore

        if quantization not in ("binary", "float16"):
            raise ValueError("quantization must be binary or float16")
        if quantization == "float16" and not self.store_float16:
            raise ValueError("this index stores binary tensors only; re-ingest with --quantization float16 for exact mode")
        docnos = np.asarray(docnos, dtype=np.int64)
        if len(docnos) != len(groups):
            raise ValueError(f"{len(docnos)} docnos for {len(groups)} passage groups")
        scores = np.full(len(docnos), -np.inf, dtype=np.float32)
        best = np.full(len(docnos), -1, dtype=np.int64)
        if not len(docnos):
            return scores, best
        alive = self.alive_docnos(int(docnos.max()) + 1)
        q = np.asarray(query, dtype=np.float32)
        for seg in self.segments:
            sd = np.asarray(seg.docnos)
            if not len(sd):
                continue
            lo = np.searchsorted(sd, docnos, side="left")
            hi = np.searchsorted(sd, docnos, side="right")
            ords = np.asarray(seg.ordinals)
            which, rows, counts = [], [], []
            for i in np.flatnonzero((hi > lo) & alive[docnos]).tolist():
                a, b = int(lo[i]), int(hi[i])
                want = np.asarray(groups[i], dtype=np.int64)
                pos = a + np.searchsorted(ords[a:b], want)
                ok = pos < b
                pos = pos[ok][ords[pos[ok]] == want[ok]]
                if len(pos):
                    which.append(i)
                    rows.append(pos)
                    counts.append(len(pos))
            if not which:
                continue
            store = TokenStore(
                codes=seg.arrays["codes"] if quantization == "binary" else None,
                values=seg.arrays.get("values") if quantization == "float16" else None,
                token_offsets=seg.arrays["token_offsets"],
                dim=self.dim,
            )
            flat = np.concatenate(rows)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            s, bi = score_documents(q, store, flat, offsets, mode="best_passage", backend=backend)
            for i, sc, b in zip(which, np.asarray(s).tolist(), np.asarray(bi).tolist()):
                if b >= 0:
                    scores[i] = sc
                    best[i] = int(ords[flat[b]])
        return scores, best

    def search_passages(
        self, query: np.ndarray, n: int, *, allowed: np.ndarray | None = None, quantization: str = "binary",
        backend: str = "auto", n_docnos: int | None = None,
    ) -> PassageHits:
        """Ranker mode at the passage unit: exact MaxSim of every live passage, top ``n`` best first."""
        from indexers.passage_index import top_passages
        from rerank.maxsim import score_documents
        from rerank.store import TokenStore

        total = n_docnos or self.max_docno
        alive = self.alive_docnos(total).copy()
        if allowed is not None:
            alive &= fit_mask(allowed, total)
        q = np.asarray(query, dtype=np.float32)
        ds, os_, ss = [], [], []
        for seg in self.segments:
            sd = np.asarray(seg.docnos)
            rows = np.flatnonzero(alive[sd]) if len(sd) else np.zeros(0, np.int64)
            if not len(rows):
                continue
            store = TokenStore(
                codes=seg.arrays["codes"] if quantization == "binary" else None,
                values=seg.arrays.get("values") if quantization == "float16" else None,
                token_offsets=seg.arrays["token_offsets"],
                dim=self.dim,
            )
            s, _ = score_documents(q, store, rows, np.arange(len(rows) + 1, dtype=np.int64), backend=backend)
            ds.append(sd[rows])
            os_.append(np.asarray(seg.ordinals)[rows])
            ss.append(np.asarray(s, dtype=np.float32))
        if not ds:
            return PassageHits.empty()
        return top_passages(np.concatenate(ds), np.concatenate(os_), np.concatenate(ss), n)
