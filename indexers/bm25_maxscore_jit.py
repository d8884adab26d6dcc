"""The compiled MaxScore kernels of ``indexers.bm25_maxscore`` (numba), module-level so numba's disk cache hits:
functions defined inside a function were compiled again in every process (about 13 s for a first search).
Imported on first use only."""

import numba
import numpy as np

from indexers.bm25_maxscore import _SLACK, WINDOW
from indexers.postings import BLOCK, MAXTF_SATURATED
from indexers.postings_jit import decode_block

jit = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
INF = np.int64(1) << np.int64(62)


@jit
def worse(s1, d1, s2, d2):  # pragma: no cover - compiled
    return s1 < s2 or (s1 == s2 and d1 > d2)


@jit
def sift_down(hs, hd, i, n):  # pragma: no cover - compiled
    while True:
        left = 2 * i + 1
        right = left + 1
        w = i
        if left < n and worse(hs[left], hd[left], hs[w], hd[w]):
            w = left
        if right < n and worse(hs[right], hd[right], hs[w], hd[w]):
            w = right
        if w == i:
            return
        hs[i], hs[w] = hs[w], hs[i]
        hd[i], hd[w] = hd[w], hd[i]
        i = w


@jit
def heap_push(hs, hd, size, k, s, d):  # pragma: no cover - compiled
    """Min-heap whose root is the worst entry; returns the new size."""
    if size < k:
        i = size
        hs[i] = s
        hd[i] = d
        while i > 0:
            p = (i - 1) // 2
            if worse(hs[i], hd[i], hs[p], hd[p]):
                hs[i], hs[p] = hs[p], hs[i]
                hd[i], hd[p] = hd[p], hd[i]
                i = p
            else:
                break
        return size + 1
    hs[0] = s
    hd[0] = d
    sift_down(hs, hd, 0, k)
    return size


@jit
def find(ids, t):  # pragma: no cover - compiled
    lo = 0
    hi = ids.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if np.int64(ids[mid]) < t:
            lo = mid + 1
        else:
            hi = mid
    if lo < ids.shape[0] and np.int64(ids[lo]) == t:
        return lo
    return -1


@jit
def bound(w, mt, mindl, c1, c2):  # pragma: no cover - compiled
    if mt >= MAXTF_SATURATED:
        return w * _SLACK
    f = np.float64(mt)
    return w * f / (f + c1 + c2 * np.float64(mindl)) * _SLACK


@jit
def load(t, j, b0, cnt, data, blk_off, blk_bits, blk_tfbits, blk_last, bufd, buft, nin, dec, counters):
    # pragma: no cover - compiled
    counters[1] += 1
    n = min(BLOCK, cnt[t] - (j - b0[t]) * BLOCK)
    base = np.int64(-1) if j == b0[t] else np.int64(blk_last[j - 1])
    decode_block(data, blk_off, blk_bits, blk_tfbits, j, base, n, bufd[t], buft[t])
    nin[t] = n
    dec[t] = j


@jit
def segment(data, blk_off, blk_last, blk_bits, blk_tfbits, blk_maxtf, blk_mindl, norm, r1, b0, b1, cnt, w,
            alive, check_alive, allowed, use_allowed, start, c1, c2, hs, hd, size, k, counters, scores, cand):
    # pragma: no cover - compiled
    nt = w.shape[0]
    n_docs = norm.shape[0]
    for t in range(nt):
        counters[3] += b1[t] - b0[t]
    bufd = np.empty((nt, BLOCK), np.int32)
    buft = np.empty((nt, BLOCK), np.float32)
    nin = np.zeros(nt, np.int64)
    dec = np.full(nt, -1, np.int64)
    blk = b0.copy()
    pos = np.zeros(nt, np.int64)
    ub = np.zeros(nt, np.float64)
    prefix = np.zeros(nt, np.float64)
    theta = hs[0] if size >= k else 0.0
    lo = 0
    while lo < n_docs:
        hi = min(lo + WINDOW, n_docs)
        # 0. each term's bound in this window: the best bound of its blocks that overlap [lo, hi)
        total = 0.0
        for t in range(nt):
            j = blk[t]
            while j < b1[t] and blk_last[j] < lo:
                j += 1
            blk[t] = j
            best = 0.0
            while j < b1[t]:
                v = bound(w[t], blk_maxtf[j], blk_mindl[j], c1, c2)
                if v > best:
                    best = v
                if blk_last[j] >= hi:
                    break
                j += 1
            ub[t] = best
            total += best
        if total <= theta:  # no document of the window can enter the top k: not one block is decoded
            lo = hi
            continue
        order = np.argsort(ub)
        acc = 0.0
        for i in range(nt):
            acc += ub[order[i]]
            prefix[i] = acc
        first = 0
        while first < nt and prefix[first] <= theta:
            first += 1
        # 1. essential terms, term at a time: every posting in [lo, hi) adds into the window's accumulators
        for i in range(first, nt):
            t = order[i]
            wt = w[t]
            while blk[t] < b1[t]:
                j = blk[t]
                if dec[t] != j:
                    load(t, j, b0, cnt, data, blk_off, blk_bits, blk_tfbits, blk_last, bufd, buft, nin, dec,
                         counters)
                    pos[t] = 0
                p = pos[t]
                n = nin[t]
                rows = bufd[t]
                tfs = buft[t]
                while p < n and rows[p] < lo:  # a block that straddles the window's start
                    p += 1
                e = n
                if blk_last[j] >= hi:
                    e = p
                    while rows[e] < hi:
                        e += 1
                for q in range(p, e):  # a plain loop: the divisions of successive postings overlap
                    d = rows[q]
                    f = np.float64(tfs[q])
                    if f == 1.0:
                        scores[d - lo] += wt * r1[d]
                    else:
                        scores[d - lo] += wt * f / (f + norm[d])
                pos[t] = e
                if e < n:
                    break
                blk[t] = j + 1
        # 2. each touched document that can still enter, in docno order: non-essential terms probed while it can
        rest = prefix[first - 1] if first > 0 else 0.0
        nc = 0
        bar = theta - rest - 1e-9 * (abs(theta) + abs(rest))  # (a hair lower: the exact test follows)
        for x in range(hi - lo):  # branch-free gather of the candidates; the accumulators are cleared after
            cand[nc] = x
            nc += scores[x] > bar
        for c in range(nc):
            x = cand[c]
            s = scores[x]
            counters[0] += 1
            if s + rest <= theta:
                continue
            d = lo + x
            if check_alive and not alive[start + d]:
                continue
            if use_allowed and not allowed[start + d]:
                continue
            keep = True
            rem = rest
            i = first - 1
            while i >= 0:
                if s + rem <= theta:
                    keep = False
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
                if s + rem - ub[t] + bound(w[t], blk_maxtf[j], blk_mindl[j], c1, c2) <= theta:
                    keep = False
                    break
                if dec[t] != j:
                    load(t, j, b0, cnt, data, blk_off, blk_bits, blk_tfbits, blk_last, bufd, buft, nin, dec,
                         counters)
                    pos[t] = 0
                p = pos[t]
                while bufd[t, p] < d:
                    p += 1
                pos[t] = p
                if bufd[t, p] == d:
                    f = np.float64(buft[t, p])
                    s += w[t] * r1[d] if f == 1.0 else w[t] * f / (f + norm[d])
                rem -= ub[t]
                i -= 1
            if keep and s > theta:
                counters[2] += 1
                size = heap_push(hs, hd, size, k, s, start + d)
                if size >= k:
                    theta = hs[0]
        scores[: hi - lo] = 0.0
        lo = hi
    return size


@jit
def live_df(data, blk_off, blk_last, blk_bits, blk_tfbits, b0, b1, n, alive, start):  # pragma: no cover
    rows = np.empty(BLOCK, np.int32)
    tf = np.empty(BLOCK, np.float32)
    live = 0
    pos = 0
    for j in range(b0, b1):
        m = min(BLOCK, n - pos)
        base = np.int64(-1) if j == b0 else np.int64(blk_last[j - 1])
        decode_block(data, blk_off, blk_bits, blk_tfbits, j, base, m, rows, tf)
        for i in range(m):
            if alive[start + rows[i]]:
                live += 1
        pos += m
    return live


@jit
def search(segs, starts, n_docs, terms, qcount, alive, dirty, allowed, use_allowed, n_live, avgdl, k1, b,
           idf_kind, k, counters):  # pragma: no cover - compiled
    ns = starts.shape[0]
    nt = terms.shape[0]
    where = np.full((ns, nt), -1, np.int64)
    df = np.zeros(nt, np.float64)
    for si in range(ns):
        sg = segs[si]
        ids = sg[0]
        ptr = sg[1]
        tb = sg[2]
        for t in range(nt):
            i = find(ids, terms[t])
            if i < 0:
                continue
            where[si, t] = i
            if dirty[si]:
                df[t] += live_df(sg[3], sg[4], sg[5], sg[6], sg[7], np.int64(tb[i]), np.int64(tb[i + 1]),
                                 ptr[i + 1] - ptr[i], alive, starts[si])
            else:
                df[t] += ptr[i + 1] - ptr[i]
    w = np.zeros(nt, np.float64)
    for t in range(nt):
        if df[t] > 0:
            x = (n_live - df[t] + 0.5) / (df[t] + 0.5)
            if idf_kind == 0:
                w[t] = np.log1p(x) * qcount[t]
            else:
                w[t] = max(np.log(x), 0.0) * (k1 + 1.0) * qcount[t]
    c1 = k1 * (1.0 - b)
    c2 = k1 * b / avgdl
    hs = np.zeros(k, np.float64)
    hd = np.zeros(k, np.int64)
    size = 0
    scores = np.zeros(WINDOW, np.float64)  # the window's accumulators, left zeroed by each segment
    cand = np.empty(WINDOW, np.int64)
    for si in range(ns):
        m = 0
        for t in range(nt):
            if where[si, t] >= 0 and w[t] > 0:
                m += 1
        if m == 0:
            continue
        b0 = np.empty(m, np.int64)
        b1 = np.empty(m, np.int64)
        cnt = np.empty(m, np.int64)
        ws = np.empty(m, np.float64)
        sg = segs[si]
        ptr = sg[1]
        tb = sg[2]
        m = 0
        for t in range(nt):
            i = where[si, t]
            if i >= 0 and w[t] > 0:
                b0[m] = tb[i]
                b1[m] = tb[i + 1]
                cnt[m] = ptr[i + 1] - ptr[i]
                ws[m] = w[t]
                m += 1
        size = segment(sg[3], sg[4], sg[5], sg[6], sg[7], sg[8], sg[9], sg[10], sg[11], b0, b1, cnt, ws, alive,
                       dirty[si], allowed, use_allowed, starts[si], c1, c2, hs, hd, size, k, counters, scores,
                       cand)
    # pop the heap worst-first into the tail: best first, ties by smaller docno
    out_s = np.empty(size, np.float64)
    out_d = np.empty(size, np.int64)
    n = size
    while n > 0:
        out_s[n - 1] = hs[0]
        out_d[n - 1] = hd[0]
        n -= 1
        hs[0] = hs[n]
        hd[0] = hd[n]
        sift_down(hs, hd, 0, n)
    return out_d, out_s



@jit
def list_of(first):  # pragma: no cover - compiled
    """A typed list holding ``first``: built in compiled (disk-cached) code, since ``numba.typed.List()`` filled
    from Python compiles its methods in every process (0.8 s before a CLI's first BM25 search)."""
    out = numba.typed.List()
    out.append(first)
    return out


@jit
def list_append(lst, item):  # pragma: no cover - compiled
    lst.append(item)
