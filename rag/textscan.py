"""One compiled pass over a text's UTF-8 bytes: word and line statistics, and 64-bit word hashes (numba).

Cleaning and dedupe both need the words of every document (maximal runs of non-whitespace, as ``str.split``
finds them, except that each character of a script written without spaces, such as Chinese, Japanese or Thai,
is a unit of its own: those scripts do not separate words, so their statistics and shingles are per character). Splitting into Python strings, hashing each and counting in numpy cost about 0.8 ms per
MLDR-length document; these kernels walk the encoded bytes once instead, decoding each code point only to
look up whether it is whitespace or a letter and its lowercase form (``char_tables``).

- ``scan_quality``: words, words with a letter, characters inside words, and one hash per non-empty line
  (its bytes from the first to the last non-space character, i.e. ``line.strip()``), so the caller counts
  repeated lines as ``lines - len(unique(hashes))``.
- ``scan_word_hashes``: one 64-bit hash per word of the lowercased text: FNV-1a over the word's lowercased
  code points (one 64-bit step each), finished with the splitmix64 mixer (so nearby words get unrelated
  hashes). Lowercasing is a per-code-point table, so no lowercased copy of the text is made.

Texts are encoded with ``surrogatepass``, so lone surrogates decode to their own code points (neither space
nor letter, as Python says). Kernels are compiled on first use and cached by numba on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


@lru_cache(maxsize=1)
def _numba() -> Any:
    try:
        import numba
    except ImportError as exc:
        raise ImportError("latte's text scanning needs numba: pip install numba (a core dependency of latte)") from exc
    return numba


@lru_cache(maxsize=1)
def char_tables() -> tuple[np.ndarray, np.ndarray]:
    """``(flags, lower)`` over every code point, built once per process (about 0.4 s).

    ``flags`` uint8 ``[0x110000]``: 1 where ``str.isspace``, 2 where ``str.isalpha``, else 0; characters of a
    script written without spaces (``indexers.analyzers.scripts.SPACELESS``: Han, kana, Thai...) get 4 when
    alphabetic and 3 otherwise (a unit of their own: words of those scripts are not separated). ``lower`` uint32
    ``[0x110000]``: the code point ``str.lower`` gives (the first one, for the single character whose lowercase
    is two: U+0130 becomes "i").
    """
    flags = np.zeros(0x110000, dtype=np.uint8)
    lower = np.arange(0x110000, dtype=np.uint32)
    for cp in range(0x110000):
        c = chr(cp)
        if c.isspace():
            flags[cp] = 1
        elif c.isalpha():
            flags[cp] = 2
        low = c.lower()
        if low != c:
            lower[cp] = ord(low[0])
    from indexers.analyzers.scripts import spaceless_table

    spaceless = spaceless_table() & (flags != 1)
    flags[spaceless] = np.where(flags[spaceless] == 2, 4, 3)
    return flags, lower


@lru_cache(maxsize=1)
def _kernels() -> tuple[Callable[..., Any], Callable[..., Any]]:
    from rag.textscan_jit import quality, word_hashes

    return quality, word_hashes



def _encode(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)


def scan_quality(text: str, count_lines: bool = True) -> tuple[int, int, int, np.ndarray, int, int]:
    """``(words, alpha_words, word_chars, line_hashes, spaceless, spaceless_letters)`` of ``text``.

    Words are runs of characters that are neither whitespace nor of a spaceless script; ``spaceless`` counts the
    characters of spaceless scripts (``spaceless_letters`` those that are letters). ``line_hashes`` is empty
    unless ``count_lines``.

    >>> words, alpha, chars, lines, _, _ = scan_quality("ab 12\\n  ab 12 \\n\\nx")
    >>> (words, alpha, chars, len(lines), len(set(lines.tolist())))
    (5, 3, 9, 3, 2)
    >>> words, alpha, chars, _, spaceless, letters = scan_quality("中文,ok。", count_lines=False)
    >>> (words, alpha, chars, spaceless, letters)  # ",ok" is a word; 中, 文 and 。 are units, two of them letters
    (1, 1, 3, 3, 2)
    """
    quality, _ = _kernels()
    flags, _ = char_tables()
    buf = _encode(text)
    line_hashes = np.empty(text.count("\n") + 1 if count_lines else 0, dtype=np.uint64)
    words, alpha_words, word_chars, lines, spaceless, letters = quality(buf, flags, count_lines, line_hashes)
    return int(words), int(alpha_words), int(word_chars), line_hashes[:lines], int(spaceless), int(letters)


def scan_word_hashes(text: str) -> np.ndarray:
    """uint64 ``[words]``: the hash of each whitespace-separated word of ``text.lower()``, in order; each character
    of a spaceless script (Han, kana, Thai...) is a word of its own, so shingles of such text are character n-grams.

    >>> h = scan_word_hashes(" to be\\nOR NOT To bE ")
    >>> len(h), bool(h[0] == h[4]), bool(h[1] == h[5]), bool(h[0] == h[1])
    (6, True, True, False)
    """
    _, word_hashes = _kernels()
    flags, lower = char_tables()
    buf = _encode(text)
    out = np.empty(len(buf) // 2 + 1, dtype=np.uint64)  # a word and its separator take at least 2 bytes
    count = word_hashes(buf, flags, lower, out)
    return out[:count].copy() if count < len(out) // 2 else out[:count]
