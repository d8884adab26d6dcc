"""Writing systems of text, read off code points: which script dominates, and which scripts have no spaces.

A script table is a uint8 array over the code points (``script_table``): one small id per script, built once
from Unicode block ranges. ``SPACELESS`` scripts (Han, Kana, Thai, Lao, Khmer, Myanmar, and the CJK
punctuation block) write words without spaces: every character there is one unit for counting, passages,
shingles and n-grams, where other scripts use whitespace-separated words.

>>> dominant_script("中文的句子。")
'han'
>>> dominant_script("これは日本語です")
'kana'
>>> dominant_script("The quick brown fox, 42 times")
'latin'
>>> dominant_script("1234 ...")
'none'
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["SCRIPTS", "SPACELESS", "dominant_script", "script_counts", "script_table", "spaceless_table"]

#: script name -> inclusive code point ranges (letters; marks of a script count as the script)
SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)),
    "greek": ((0x370, 0x3FF), (0x1F00, 0x1FFF)),
    "cyrillic": ((0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F)),
    "armenian": ((0x530, 0x58F),),
    "hebrew": ((0x590, 0x5FF),),
    "arabic": ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "devanagari": ((0x900, 0x97F), (0xA8E0, 0xA8FF)),
    "bengali": ((0x980, 0x9FF),),
    "tamil": ((0xB80, 0xBFF),),
    "thai": ((0xE00, 0xE7F),),
    "lao": ((0xE80, 0xEFF),),
    "myanmar": ((0x1000, 0x109F),),
    "georgian": ((0x10A0, 0x10FF),),
    "hangul": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF)),
    "khmer": ((0x1780, 0x17FF),),
    "cjk_punct": ((0x3000, 0x303F), (0xFF01, 0xFF0F), (0xFF1A, 0xFF20), (0xFF5B, 0xFF65)),
    "kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)),
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F)),
}
#: scripts written without spaces between words
SPACELESS: frozenset[str] = frozenset({"han", "kana", "thai", "lao", "khmer", "myanmar", "cjk_punct"})
_NAMES = ("none", *SCRIPTS)
_TABLE_SIZE = 0x30000  # every range above ends below U+30000


@lru_cache(maxsize=1)
def script_table() -> np.ndarray:
    """uint8 ``[0x30000]``: the index in ``("none", *SCRIPTS)`` of each code point's script (0: none/other)."""
    table = np.zeros(_TABLE_SIZE, dtype=np.uint8)
    for i, ranges in enumerate(SCRIPTS.values(), start=1):
        for lo, hi in ranges:
            table[lo : hi + 1] = i
    return table


@lru_cache(maxsize=1)
def spaceless_table() -> np.ndarray:
    """bool ``[0x110000]``: code points of a ``SPACELESS`` script (each one is a unit of its own)."""
    out = np.zeros(0x110000, dtype=bool)
    names = np.array(_NAMES)
    out[:_TABLE_SIZE] = np.isin(names[script_table()], list(SPACELESS))
    return out


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def script_counts(text: str) -> dict[str, int]:
    """Characters per script in ``text`` (scripts with none are left out; digits, spaces, symbols are "none")."""
    cps = _code_points(text)
    ids = script_table()[np.minimum(cps, _TABLE_SIZE - 1)]
    counts = np.bincount(ids, minlength=len(_NAMES))
    return {_NAMES[i]: int(c) for i, c in enumerate(counts) if c and i}


#: letters of these scripts count this many times when scripts are compared: one Han character or Hangul
#: syllable carries about what a word of 3 (2) Latin letters does
_WEIGHT = {"han": 3, "kana": 3, "thai": 3, "lao": 3, "khmer": 3, "myanmar": 3, "hangul": 2}
#: a text is Japanese when kana make at least this share of its Han and kana characters (Chinese quotes a name)
KANA_SHARE = 0.1


def dominant_script(text: str) -> str:
    """The script with the most weight in ``text`` (``_WEIGHT``); Japanese is "kana"; "none" without letters.

    A Chinese text quoting English names stays "han", and a Chinese text quoting one Japanese title stays "han"
    (kana must be ``KANA_SHARE`` of the Han and kana characters).

    >>> dominant_script("MonoDevelop是个适用于Linux、Mac OS X和Microsoft Windows的开放原始码整合开发环境")
    'han'
    """
    if text.isascii():  # the common case, without building arrays
        return "latin" if any(c.isalpha() for c in text) else "none"
    counts = script_counts(text)
    counts.pop("cjk_punct", None)
    if not counts:
        return "none"
    kana, han = counts.pop("kana", 0), counts.get("han", 0)
    if kana >= KANA_SHARE * (kana + han):
        counts["kana"] = kana + han
        counts.pop("han", None)
    else:
        counts["han"] = kana + han
    weighted = {k: v * _WEIGHT.get(k, 1) for k, v in counts.items() if v}
    return max(weighted, key=lambda k: weighted[k])
