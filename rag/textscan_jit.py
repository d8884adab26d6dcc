"""The compiled text scanning loops of ``rag.textscan`` (numba), module-level so numba's disk cache hits (functions
defined inside a function were compiled again in every process: about 4 s). Imported on first use only."""

import numpy as np

from rag.textscan import FNV_OFFSET, FNV_PRIME, _numba

numba = _numba()
njit = numba.njit(cache=True, nogil=True, boundscheck=False)
inline = numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")


@inline
def decode(buf, i):  # pragma: no cover - compiled
    """(code point, byte length) of the well-formed UTF-8 sequence at ``buf[i]``."""
    b0 = np.int64(buf[i])
    if b0 < 0x80:
        return b0, 1
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F), 2
    if b0 < 0xF0:
        return ((b0 & 0x0F) << 12) | ((np.int64(buf[i + 1]) & 0x3F) << 6) | (np.int64(buf[i + 2]) & 0x3F), 3
    return (((b0 & 0x07) << 18) | ((np.int64(buf[i + 1]) & 0x3F) << 12)
            | ((np.int64(buf[i + 2]) & 0x3F) << 6) | (np.int64(buf[i + 3]) & 0x3F)), 4


@inline
def mix(h):  # pragma: no cover - compiled
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit
def span_hash(buf, start, end):  # pragma: no cover - compiled
    """FNV-1a in 4 interleaved lanes (4x the throughput of one multiply chain), mixed with the length."""
    p = np.uint64(FNV_PRIME)
    h0 = np.uint64(FNV_OFFSET)
    h1 = h0 ^ np.uint64(1)
    h2 = h0 ^ np.uint64(2)
    h3 = h0 ^ np.uint64(3)
    k = start
    while k + 4 <= end:
        h0 = (h0 ^ np.uint64(buf[k])) * p
        h1 = (h1 ^ np.uint64(buf[k + 1])) * p
        h2 = (h2 ^ np.uint64(buf[k + 2])) * p
        h3 = (h3 ^ np.uint64(buf[k + 3])) * p
        k += 4
    while k < end:
        h0 = (h0 ^ np.uint64(buf[k])) * p
        k += 1
    return mix(h0 ^ mix(h1 ^ mix(h2 ^ mix(h3 ^ np.uint64(end - start)))))


@njit
def quality(buf, flags, count_lines, line_hashes):  # pragma: no cover - compiled
    n = buf.shape[0]
    words = 0
    alpha_words = 0
    word_chars = 0
    spaceless = 0  # characters of scripts without spaces (each one a unit, not part of a word)
    spaceless_letters = 0
    lines = 0
    first = -1  # the current line's first non-space byte, -1 while it has none
    last_end = -1  # the end of its last non-space character
    i = 0
    while i < n:
        cp, step = decode(buf, i)
        f = flags[cp]
        if f == 1:  # between words
            if cp == 0x0A:
                if count_lines and first >= 0:
                    line_hashes[lines] = span_hash(buf, first, last_end)
                    lines += 1
                first = -1
            i += step
            continue
        if first < 0:
            first = i
        if f >= 3:  # a spaceless-script character: a unit of its own
            spaceless += 1
            if f == 4:
                spaceless_letters += 1
            i += step
            last_end = i
            continue
        words += 1  # a word starts at i: run to its end
        alpha = False
        while True:
            word_chars += 1
            if f == 2:
                alpha = True
            i += step
            if i >= n:
                break
            cp, step = decode(buf, i)
            f = flags[cp]
            if f == 1 or f >= 3:
                break
        last_end = i
        if alpha:
            alpha_words += 1
    if count_lines and first >= 0:
        line_hashes[lines] = span_hash(buf, first, last_end)
        lines += 1
    return words, alpha_words, word_chars, lines, spaceless, spaceless_letters


@njit
def word_hashes(buf, flags, lower, out):  # pragma: no cover - compiled
    n = buf.shape[0]
    count = 0
    in_word = False
    h = np.uint64(FNV_OFFSET)
    i = 0
    while i < n:
        cp, step = decode(buf, i)
        f = flags[cp]
        if f == 1 or f >= 3:
            if in_word:
                out[count] = mix(h)
                count += 1
                in_word = False
                h = np.uint64(FNV_OFFSET)
            if f >= 3:  # a spaceless-script character is a word of its own
                out[count] = mix((h ^ np.uint64(lower[cp])) * np.uint64(FNV_PRIME))
                count += 1
        else:
            h = (h ^ np.uint64(lower[cp])) * np.uint64(FNV_PRIME)
            in_word = True
        i += step
    if in_word:
        out[count] = mix(h)
        count += 1
    return count

