"""Binary files that reached a text loader (an executable or an archive renamed .txt): told apart from text after
decoding, so they are dropped with their own reason instead of being indexed as latin-1 garbage.

A text is binary when it holds a NUL character (no text encoding that decoded it — UTF-8, cp1252, latin-1 —
produces one from real text; UTF-16 files are decoded as UTF-16 first), or when more than ``MAX_BAD_SHARE`` of
the characters of its first ``SAMPLE_CHARS`` are control characters (other than tab, newlines, form feed),
unassigned or private-use code points, lone surrogates or U+FFFD replacement characters.

>>> binary_reason("plain text\\twith a tab\\n"), binary_reason("MZ\\x90\\x00\\x03 header")
(None, 'binary content: a NUL character at offset 3')
>>> binary_reason("".join(chr(c) for c in range(1, 256)) * 4)
'binary content: 23% of the characters are control, unassigned or replacement characters'
"""

from __future__ import annotations

import unicodedata

SAMPLE_CHARS = 65_536
MAX_BAD_SHARE = 0.10
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_BAD_CATEGORIES = frozenset(("Cc", "Cn", "Co", "Cs"))


def bad_char_share(sample: str) -> float:
    """Share of ``sample``'s characters that text does not contain (see the module).

    >>> bad_char_share("ab\\x01\\ufffd")
    0.5
    """
    if not sample:
        return 0.0
    bad = 0
    for ch in sample:
        if ch.isascii():
            if ch < " " and ch not in _ALLOWED_CONTROLS or ch == "\x7f":
                bad += 1
        elif ch == "\ufffd" or unicodedata.category(ch) in _BAD_CATEGORIES:
            bad += 1
    return bad / len(sample)


def binary_reason(text: str) -> str | None:
    """Why ``text`` (a whole decoded file) looks binary, or None when it looks like text."""
    nul = text.find("\x00")
    if nul >= 0:
        return f"binary content: a NUL character at offset {nul}"
    share = bad_char_share(text[:SAMPLE_CHARS])
    if share > MAX_BAD_SHARE:
        return f"binary content: {share:.0%} of the characters are control, unassigned or replacement characters"
    return None
