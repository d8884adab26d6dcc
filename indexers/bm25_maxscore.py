"""Exact top-k BM25 with block-max MaxScore over compressed posting blocks (compiled with numba).

Document-at-a-time over one segment's query-term cursors (Turtle & Flood's MaxScore, with the block-max bounds of
Ding & Suel / Chakrabarti et al. for the non-essential lists):

- each term's upper bound is the best bound of its blocks, ``w * maxtf / (maxtf + k1 (1 - b + b mindl / avgdl))``
  (``indexers.postings`` keeps each block's largest tf and shortest document, so the bound holds for any
  collection statistics);
- terms sorted by bound; the longest prefix whose bounds sum to at most the current k-th best score ``theta`` is
  *non-essential*: a document containing only those terms cannot enter the top k, so candidates come from the
  essential lists only;
- a candidate's non-essential terms are probed from the largest bound down; before decoding a block the probe
  checks that block's own bound, and stops as soon as the candidate cannot beat ``theta``.

Nothing is approximated: a document is skipped only when a valid bound proves it cannot beat the k-th best,
so the top k equal exhaustive scoring's (ties go to the smaller docno). The top-k heap is carried across
segments (processed in docno order), so later segments start with the threshold earlier ones reached.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from indexers.postings import BLOCK, kernels as postings_kernels

#: bounds are inflated by this factor so float rounding can never make a bound smaller than a real score
_SLACK = 1.0 + 1e-9


class TopK:
    """The running top-k heap (scores float64, global docnos), shared by the segments of one query."""

    def __init__(self, k: int) -> None:
        self.k = int(k)
        self.scores = np.zeros(max(self.k, 1), np.float64)
        self.docnos = np.zeros(max(self.k, 1), np.int64)
        self.size = np.zeros(1, np.int64)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(docnos, scores float32) best first; ties by smaller docno."""
        n = int(self.size[0])
        d, s = self.docnos[:n], self.scores[:n]
        order = np.lexsort((d, -s))
        return d[order].astype(np.int64), s[order].astype(np.float32)


def search_segment(pb: Any, doc_len: np.ndarray, start: int, term_pos: np.ndarray, weights: np.ndarray,
                   mask: np.ndarray | None, k1: float, b: float, avgdl: float, top: TopK) -> None:
    """Add one segment's best documents to ``top``.

    ``pb``: the segment's :class:`indexers.postings.PostingBlocks`; ``term_pos`` int64: positions in
    ``pb.term_ids`` of the query terms present in the segment; ``weights`` float64 (same order): idf times any
    per-term factor (query term count, Okapi's k1 + 1); ``mask``: bool over the segment's rows (live and
    allowed), or None when every row may be returned; ``start``: the segment's first docno.
    """
    if len(term_pos) == 0 or top.k <= 0:
        return
    tb = np.asarray(pb.term_blk)
    tp = np.asarray(pb.term_ptr)
    b0 = tb[term_pos].astype(np.int64)
    b1 = tb[term_pos + 1].astype(np.int64)
    cnt = (tp[term_pos + 1] - tp[term_pos]).astype(np.int64)
    use_mask = mask is not None
    m = mask if use_mask else _NO_MASK
    _kernel()(pb.data, pb.blk_off, pb.blk_bits, pb.blk_tfbits, pb.blk_last, pb.blk_maxtf, pb.blk_mindl,
              b0, b1, cnt, np.ascontiguousarray(weights, dtype=np.float64), doc_len, m, use_mask,
              float(k1), float(b), float(avgdl), int(start), top.scores, top.docnos, top.size, top.k)


_NO_MASK = np.ones(1, dtype=np.bool_)


@lru_cache(maxsize=1)
def _kernel() -> Any:
    import numba

    pk = postings_kernels()
    decode_block = pk.decode_block
    jit = numba.njit(cache=True, nogil=True, boundscheck=False)
    INF = np.int64(1) << np.int64(62)

    @jit
    def worse(s1, d1, s2, d2):  # pragma: no cover - compiled
        return s1 < s2 or (s1 == s2 and d1 > d2)

    @jit
    def heap_push(hs, hd, size, k, s, d):  # pragma: no cover - compiled
        n = size[0]
        if n < k:
            i = n
            size[0] = n + 1
            hs[i] = s
            hd[i] = d
            while i > 0:  # sift up: the root is the worst entry
                p = (i - 1) // 2
                if worse(hs[i], hd[i], hs[p], hd[p]):
                    hs[i], hs[p] = hs[p], hs[i]
                    hd[i], hd[p] = hd[p], hd[i]
                    i = p
                else:
                    break
        else:
            hs[0] = s
            hd[0] = d
            i = 0
            while True:
                l = 2 * i + 1
                r = l + 1
                w = i
                if l < k and worse(hs[l], hd[l], hs[w], hd[w]):
                    w = l
                if r < k and worse(hs[r], hd[r], hs[w], hd[w]):
                    w = r
                if w == i:
                    break
                hs[i], hs[w] = hs[w], hs[i]
                hd[i], hd[w] = hd[w], hd[i]
                i = w

    @jit
    def load_block(t, j, b0, cnt, data, blk_off, blk_bits, blk_tfbits, blk_last, bufd, buft, nin, dec):
        # pragma: no cover - compiled
        n = min(BLOCK, cnt[t] - (j - b0[t]) * BLOCK)
        base = np.int64(-1) if j == b0[t] else np.int64(blk_last[j - 1])
        decode_block(data, blk_off, blk_bits, blk_tfbits, j, base, n, bufd[t], buft[t])
        nin[t] = n
        dec[t] = j

    @jit
    def search(data, blk_off, blk_bits, blk_tfbits, blk_last, blk_maxtf, blk_mindl, b0, b1, cnt, w, doc_len,
               mask, use_mask, k1, b, avgdl, start, hs, hd, size, k):  # pragma: no cover - compiled
        nt = w.shape[0]
        c1 = k1 * (1.0 - b)
        c2 = k1 * b / avgdl
        ub = np.zeros(nt, np.float64)
        for t in range(nt):
            best = 0.0
            for j in range(b0[t], b1[t]):
                mt = np.float64(blk_maxtf[j])
                v = mt / (mt + c1 + c2 * np.float64(blk_mindl[j]))
                if v > best:
                    best = v
            ub[t] = w[t] * best * _SLACK
        order = np.argsort(ub)
        prefix = np.zeros(nt, np.float64)
        acc = 0.0
        for i in range(nt):
            acc += ub[order[i]]
            prefix[i] = acc
        bufd = np.empty((nt, BLOCK), np.int32)
        buft = np.empty((nt, BLOCK), np.float32)
        nin = np.zeros(nt, np.int64)
        dec = np.full(nt, -1, np.int64)
        blk = b0.copy()
        pos = np.zeros(nt, np.int64)
        cur = np.full(nt, INF, np.int64)
        theta = hs[0] if size[0] >= k else 0.0
        first = 0
        while first < nt and prefix[first] <= theta:
            first += 1
        for i in range(first, nt):
            t = order[i]
            if b1[t] > b0[t]:
                load_block(t, b0[t], b0, cnt, data, blk_off, blk_bits, blk_tfbits, blk_last, bufd, buft, nin, dec)
                cur[t] = bufd[t, 0]
        while first < nt:
            d = INF
            for i in range(first, nt):
                c = cur[order[i]]
                if c < d:
                    d = c
            if d == INF:
                break
            ok = (not use_mask) or mask[d]
            norm = c1 + c2 * np.float64(doc_len[d])
            s = 0.0
            for i in range(first, nt):  # essential terms: score and step past d
                t = order[i]
                if cur[t] == d:
                    if ok:
                        f = np.float64(buft[t, pos[t]])
                        s += w[t] * f / (f + norm)
                    p = pos[t] + 1
                    if p >= nin[t]:
                        j = blk[t] + 1
                        blk[t] = j
                        if j >= b1[t]:
                            cur[t] = INF
                            continue
                        load_block(t, j, b0, cnt, data, blk_off, blk_bits, blk_tfbits, blk_last, bufd, buft, nin,
                                   dec)
                        p = 0
                    pos[t] = p
                    cur[t] = bufd[t, p]
            if not ok:
                continue
            alive = True
            if first > 0:
                rem = prefix[first - 1]
                i = first - 1
                while i >= 0:
                    if s + rem <= theta:
                        alive = False
                        break
                    t = order[i]
                    j = blk[t]
                    while j < b1[t] and blk_last[j] < d:  # skip whole blocks without decoding them
                        j += 1
                    blk[t] = j
                    if j >= b1[t]:
                        rem -= ub[t]
                        i -= 1
                        continue
                    mt = np.float64(blk_maxtf[j])
                    bub = w[t] * mt / (mt + c1 + c2 * np.float64(blk_mindl[j])) * _SLACK
                    if s + rem - ub[t] + bub <= theta:
                        alive = False
                        break
                    if dec[t] != j:
                        load_block(t, j, b0, cnt, data, blk_off, blk_bits, blk_tfbits, blk_last, bufd, buft, nin,
                                   dec)
                        pos[t] = 0
                    p = pos[t]
                    while bufd[t, p] < d:
                        p += 1
                    pos[t] = p
                    if bufd[t, p] == d:
                        f = np.float64(buft[t, p])
                        s += w[t] * f / (f + norm)
                    rem -= ub[t]
                    i -= 1
            if alive and s > theta:
                heap_push(hs, hd, size, k, s, start + d)
                if size[0] >= k:
                    theta = hs[0]
                    while first < nt and prefix[first] <= theta:
                        first += 1

    return search
