"""Compressed posting lists: blocks of 128 postings, doc gaps and term frequencies bit-packed (compiled with numba).

A segment's postings are term-sorted. Each term's list is cut into blocks of ``BLOCK`` postings; a block stores

- its last local row (``blk_last``), so a cursor can skip a whole block without decoding it;
- ``gap - 1`` of each row to the previous one (the first row's gap is to the previous block's last row, or to -1)
  and ``tf - 1`` of each posting, each bit-packed with the block's own bit width (``blk_bits``, ``blk_tfbits``)
  into the segment's one ``uint32`` word stream ``data`` at ``blk_off`` (rows first, then frequencies);
- the largest term frequency and the shortest document length in it (``blk_maxtf``, ``blk_mindl``): BM25's
  term weight grows with tf and falls with the length, so ``weight(maxtf, mindl)`` bounds every posting of the
  block *whatever the collection statistics are*, which keeps the bounds valid as documents are added or deleted.

Dense terms (in most documents) cost about one bit per row; the frequencies a few bits. Decoding is one
shift-and-mask per value.

>>> pb = compress(np.array([4, 9]), np.array([0, 3, 4]), np.array([0, 2, 5, 1]), np.array([1., 3., 1., 2.]),
...               np.array([5., 6., 7., 8., 9., 10.], dtype=np.float32))
>>> rows, tf = pb.postings(4)  # global term id 4
>>> rows.tolist(), tf.tolist()
([0, 2, 5], [1.0, 3.0, 1.0])
>>> pb.df(9), pb.postings(9)[0].tolist(), pb.postings(7)[0].tolist()
(1, [1], [])
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from indexers.arrays import load_npy, save_npy

#: postings per block (as Lucene and tantivy use): the unit of skipping and of bit width
BLOCK = 128
#: ``blk_maxtf`` value meaning "65535 or more": the block's bound is then the saturation limit (weight x 1)
MAXTF_SATURATED = 65535


@dataclass
class PostingBlocks:
    """One segment's compressed postings (arrays may be memory-mapped)."""

    term_ids: np.ndarray  # int32 [U] sorted global term ids present here
    term_ptr: np.ndarray  # int64 [U + 1] posting counts, cumulative (df of term i = term_ptr[i+1] - term_ptr[i])
    term_blk: np.ndarray  # uint32 [U + 1] block ranges per term
    blk_last: np.ndarray  # int32 [B] last local row of each block
    blk_off: np.ndarray  # uint32 [B] word offset of each block's rows in ``data`` (its frequencies follow)
    blk_bits: np.ndarray  # uint8 [B] bits per row gap
    blk_tfbits: np.ndarray  # uint8 [B] bits per (tf - 1)
    blk_maxtf: np.ndarray  # uint16 [B] largest tf in the block (MAXTF_SATURATED: 65535 or more)
    blk_mindl: np.ndarray  # uint16 [B] shortest document length in the block, capped at 65535 (still a lower bound)
    data: np.ndarray  # uint32 [W] the packed words

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @property
    def nbytes(self) -> int:
        return sum(int(getattr(self, n).nbytes) for n in self.names())

    def index_of(self, term: int) -> int:
        """Position of ``term`` in ``term_ids``, or -1."""
        i = int(np.searchsorted(self.term_ids, term))
        return i if i < len(self.term_ids) and int(self.term_ids[i]) == term else -1

    def df(self, term: int) -> int:
        i = self.index_of(term)
        return 0 if i < 0 else int(self.term_ptr[i + 1] - self.term_ptr[i])

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Decoded (local rows int32, term frequencies float32) of ``term`` (empty when absent)."""
        i = self.index_of(term)
        if i < 0:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        return self.decode_at(i)

    def decode_at(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        k = kernels()
        n = int(self.term_ptr[i + 1] - self.term_ptr[i])
        rows = np.empty(n, np.int32)
        tf = np.empty(n, np.float32)
        k.decode_term(self.data, self.blk_off, self.blk_bits, self.blk_tfbits, self.blk_last,
                      int(self.term_blk[i]), int(self.term_blk[i + 1]), n, rows, tf)
        return rows, tf

    def decode_all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr int64 [U + 1], rows int32 [nnz], tf float32 [nnz]) of every term: the uncompressed CSR form."""
        n = int(self.term_ptr[-1])
        rows = np.empty(n, np.int32)
        tf = np.empty(n, np.float32)
        kernels().decode_all(self.data, self.blk_off, self.blk_bits, self.blk_tfbits, self.blk_last,
                             np.asarray(self.term_blk), np.asarray(self.term_ptr), rows, tf)
        return np.asarray(self.term_ptr, dtype=np.int64), rows, tf

    def save(self, folder: Path) -> None:
        for n in self.names():
            save_npy(folder / f"{n}.npy", getattr(self, n))

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> PostingBlocks:
        return cls(**{n: load_npy(folder / f"{n}.npy", mmap) for n in cls.names()})


def compress(term_ids: np.ndarray, indptr: np.ndarray, rows: np.ndarray, tf: np.ndarray,
             doc_len: np.ndarray) -> PostingBlocks:
    """Compress term-sorted CSR postings (``rows`` ascending within each term, ``tf`` positive integers)."""
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    rows = np.ascontiguousarray(rows, dtype=np.int32)
    tf = np.ascontiguousarray(tf, dtype=np.float32)
    doc_len = np.ascontiguousarray(doc_len, dtype=np.float32)
    if len(indptr) != len(term_ids) + 1 or int(indptr[-1]) != len(rows) or len(rows) != len(tf):
        raise ValueError("postings must be CSR: len(indptr) == len(term_ids) + 1 and indptr[-1] == len(rows) == len(tf)")
    if len(tf) and float(np.min(tf)) < 1:
        raise ValueError("term frequencies must be >= 1")
    counts = np.diff(indptr)
    nblk = (counts + BLOCK - 1) // BLOCK
    term_blk = np.concatenate([[0], np.cumsum(nblk)]).astype(np.int64)
    b = int(term_blk[-1])
    k = kernels()
    blk_last = np.empty(b, np.int32)
    blk_bits = np.empty(b, np.uint8)
    blk_tfbits = np.empty(b, np.uint8)
    blk_maxtf = np.empty(b, np.uint16)
    blk_mindl = np.empty(b, np.uint16)
    words = np.empty(b, np.int64)
    k.plan_blocks(indptr, term_blk, rows, tf, doc_len, blk_last, blk_bits, blk_tfbits, blk_maxtf, blk_mindl, words)
    blk_off = np.concatenate([[0], np.cumsum(words)]).astype(np.int64)
    if int(blk_off[-1]) >= 2**32 - 1 or b >= 2**32:
        raise ValueError("a BM25 segment holds at most 2^32 words of postings; merge into smaller segments")
    data = np.zeros(int(blk_off[-1]) + 1, np.uint32)  # one spare word: a reader may load the word after the last
    k.pack_blocks(indptr, term_blk, rows, tf, blk_off, blk_bits, blk_tfbits, data)
    if len(term_ids) and int(np.max(term_ids)) >= 2**31:
        raise ValueError("term ids must fit in int32")
    return PostingBlocks(
        term_ids=np.asarray(term_ids, dtype=np.int32), term_ptr=indptr, term_blk=term_blk.astype(np.uint32),
        blk_last=blk_last, blk_off=blk_off[:-1].astype(np.uint32), blk_bits=blk_bits, blk_tfbits=blk_tfbits,
        blk_maxtf=blk_maxtf, blk_mindl=blk_mindl, data=data,
    )


@lru_cache(maxsize=1)
def kernels() -> Any:
    """The compiled packing and unpacking loops (numba; compiled on first use and cached on disk)."""
    from indexers import postings_jit as k

    return SimpleNamespace(plan_blocks=k.plan_blocks, pack_blocks=k.pack_blocks, decode_block=k.decode_block,
                           decode_term=k.decode_term, decode_all=k.decode_all, get=k.get, n_words=k.n_words)

