"""The compiled packing and unpacking loops of ``indexers.postings`` (numba), module-level so numba's disk cache
hits (functions defined inside a function were compiled again in every process). Imported on first use only."""

try:
    import numba
except ImportError as exc:  # pragma: no cover - numba is a core dependency
    raise ImportError("BM25 postings need numba: pip install numba") from exc

import numpy as np

from indexers.postings import BLOCK, MAXTF_SATURATED

jit = numba.njit(cache=True, nogil=True, boundscheck=False)


@jit
def bit_width(v):  # pragma: no cover - compiled
    n = 0
    while v > 0:
        n += 1
        v >>= 1
    return n


@jit
def n_words(n, bits):  # pragma: no cover - compiled
    return (n * bits + 31) // 32


@jit
def plan_blocks(indptr, term_blk, rows, tf, doc_len, blk_last, blk_bits, blk_tfbits, blk_maxtf, blk_mindl,
                words):  # pragma: no cover - compiled
    for t in range(indptr.shape[0] - 1):
        lo = indptr[t]
        hi = indptr[t + 1]
        j = term_blk[t]
        s = lo
        prev = -1
        while s < hi:
            e = min(s + BLOCK, hi)
            maxgap = 0
            maxtf = 0
            mindl = np.inf
            for p in range(s, e):
                r = np.int64(rows[p])
                g = r - prev - 1
                if g > maxgap:
                    maxgap = g
                f = np.int64(tf[p])
                if f > maxtf:
                    maxtf = f
                dl = doc_len[r]
                if dl < mindl:
                    mindl = dl
                prev = r
            blk_last[j] = rows[e - 1]
            bd = bit_width(maxgap)
            bt = bit_width(maxtf - 1)
            blk_bits[j] = bd
            blk_tfbits[j] = bt
            blk_maxtf[j] = min(maxtf, MAXTF_SATURATED)
            blk_mindl[j] = min(mindl, 65535.0)
            words[j] = n_words(e - s, bd) + n_words(e - s, bt)
            j += 1
            s = e


@jit
def put(data, off, i, bits, v):  # pragma: no cover - compiled
    if bits == 0:
        return
    p = np.int64(i) * bits
    w = off + (p >> 5)
    sh = p & 31
    x = np.uint64(v) << np.uint64(sh)
    data[w] |= np.uint32(x & np.uint64(0xFFFFFFFF))
    if sh + bits > 32:
        data[w + 1] |= np.uint32(x >> np.uint64(32))


@jit
def pack_blocks(indptr, term_blk, rows, tf, blk_off, blk_bits, blk_tfbits, data):  # pragma: no cover
    for t in range(indptr.shape[0] - 1):
        lo = indptr[t]
        hi = indptr[t + 1]
        j = term_blk[t]
        s = lo
        prev = -1
        while s < hi:
            e = min(s + BLOCK, hi)
            off = blk_off[j]
            bd = np.int64(blk_bits[j])
            bt = np.int64(blk_tfbits[j])
            toff = off + n_words(e - s, bd)
            for p in range(s, e):
                r = np.int64(rows[p])
                put(data, off, p - s, bd, r - prev - 1)
                put(data, toff, p - s, bt, np.int64(tf[p]) - 1)
                prev = r
            j += 1
            s = e


@jit
def get(data, off, i, bits):  # pragma: no cover - compiled
    if bits == 0:
        return np.int64(0)
    p = np.int64(i) * bits
    w = off + (p >> 5)
    sh = np.uint64(p & 31)
    x = (np.uint64(data[w]) | (np.uint64(data[w + 1]) << np.uint64(32))) >> sh
    return np.int64(x & ((np.uint64(1) << np.uint64(bits)) - np.uint64(1)))


@jit
def unpack(data, off, n, bits, out, base, plus_one):  # pragma: no cover - compiled
    """``out[i] = base + value_i (+ 1)``, cumulative when ``plus_one`` (row gaps), plain otherwise (tf - 1)."""
    if bits == 0:
        r = base
        for i in range(n):
            if plus_one:
                r += 1
                out[i] = r
            else:
                out[i] = base + 1
        return
    mask = (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
    ub = np.uint64(bits)
    buf = np.uint64(0)
    have = np.uint64(0)
    w = off
    r = base
    for i in range(n):  # a running bit buffer: one shift and mask per value, a word load every 32 bits
        if have < ub:
            buf |= np.uint64(data[w]) << have
            w += 1
            have += np.uint64(32)
        v = np.int64(buf & mask)
        buf >>= ub
        have -= ub
        if plus_one:
            r += v + 1
            out[i] = r
        else:
            out[i] = base + v + 1


@jit
def decode_block(data, blk_off, blk_bits, blk_tfbits, j, base, n, rows_out, tf_out):  # pragma: no cover
    """Decode block ``j`` of ``n`` postings whose previous row is ``base`` into ``rows_out[:n]``, ``tf_out[:n]``."""
    off = np.int64(blk_off[j])
    bd = np.int64(blk_bits[j])
    bt = np.int64(blk_tfbits[j])
    unpack(data, off, n, bd, rows_out, base, True)
    unpack(data, off + n_words(n, bd), n, bt, tf_out, 0, False)


@jit
def decode_term(data, blk_off, blk_bits, blk_tfbits, blk_last, b0, b1, n, rows, tf):  # pragma: no cover
    pos = 0
    for j in range(b0, b1):
        m = min(BLOCK, n - pos)
        base = np.int64(-1) if j == b0 else np.int64(blk_last[j - 1])
        decode_block(data, blk_off, blk_bits, blk_tfbits, j, base, m, rows[pos:pos + m], tf[pos:pos + m])
        pos += m


@jit
def decode_all(data, blk_off, blk_bits, blk_tfbits, blk_last, term_blk, term_ptr, rows, tf):  # pragma: no cover
    for t in range(term_ptr.shape[0] - 1):
        lo = term_ptr[t]
        hi = term_ptr[t + 1]
        decode_term(data, blk_off, blk_bits, blk_tfbits, blk_last, np.int64(term_blk[t]),
                    np.int64(term_blk[t + 1]), hi - lo, rows[lo:hi], tf[lo:hi])

