"""Split a document into overlapping passages of whole sentences, with exact character spans and page numbers.

A token here is a whitespace-delimited word (a maximal run of characters that are not ``str.isspace``), so
``size`` and ``overlap`` count words, not model tokens; 200 words of English are about 260 to 310 BERT word
pieces (310 on SciFact's abstracts). Scripts written without spaces have no words to count, so their text is
measured in model tokens instead: every Han or kana character (and CJK punctuation mark) is a token of its own,
as BERT-style vocabularies cut them (all-MiniLM-L6-v2: 0.92 word pieces per character on CMRC 2018), and Thai,
Lao, Khmer and Myanmar text counts one token per three letters (combining vowel and tone marks ride along),
about what XLM-RoBERTa's vocabulary (BGE-M3) gives. A 200-token passage of Chinese is thus about 200 characters.

Windows (greedy, linear in the text):

- a window starts at token ``a`` and ends after the last sentence that fits in ``size`` tokens, provided that
  keeps the window at least half full; otherwise (a sentence longer than what is left) it is cut after
  ``size`` tokens, at a token boundary;
- the next window starts about ``overlap`` tokens before the previous end: at the sentence start nearest to
  that point within ``max(overlap // 2, 1)`` tokens either way, else exactly ``overlap`` tokens back (and
  always at least one token after the previous start);
- a sentence ends at a token whose last character is ``.``, ``!``, ``?`` or ``…`` (or their full-width forms,
  and the ideographic full stop ``。``; in Chinese text each of those is a token of its own),
  optionally followed by closing quotes or brackets, and at a blank line (paragraph break). Abbreviations
  such as "e.g." also count as sentence ends: boundaries are preferences, never a correctness matter.

Each passage's ``text`` is exactly ``document.text[start:end]`` (from its first token's first character to
its last token's last character). For paged documents (``Document.pages``, e.g. PDF) each page is split on
its own, so passages never cross a page and carry its number; text between page spans is not used.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

from rag.records import Document, Passage

__all__ = ["split_passages", "word_spans"]

_CHUNK_CHARS = 1 << 20  # bounds the temporary arrays on huge texts
# Every code point for which str.isspace() is true lies at or below U+3000.
_SPACE_LUT = np.array([chr(cp).isspace() for cp in range(0x3001)] + [False], dtype=bool)
_TERMINAL = np.array([ord(c) for c in ".!?\u2026\u3002\uff01\uff1f\uff0e\u203c\u2047\u2048\u2049"], dtype=np.uint32)
_CLOSING = np.array([ord(c) for c in "\"')]}\u201d\u2019\u00bb\u203a\u300d\u300f\uff09"], dtype=np.uint32)


# Token kinds of characters that are not whitespace: 0 an ordinary (word) character; 1 a character that is a token
# of its own (Han, kana, CJK punctuation); 2 a letter of a script counted three letters to the token (Thai, Lao,
# Khmer, Myanmar); 3 a combining mark of those scripts (never starts a token).
_LETTERS_PER_TOKEN = 3


@lru_cache(maxsize=1)
def _kind_lut() -> np.ndarray:
    """uint8 ``[0x30000]``: the token kind of each code point (see above)."""
    from indexers.analyzers.scripts import SCRIPTS

    lut = np.zeros(0x30000, dtype=np.uint8)
    for script in ("han", "kana", "cjk_punct"):
        for lo, hi in SCRIPTS[script]:
            lut[lo : hi + 1] = 1
    for script in ("thai", "lao", "khmer", "myanmar"):
        for lo, hi in SCRIPTS[script]:
            for cp in range(lo, hi + 1):
                lut[cp] = 3 if unicodedata.category(chr(cp)) in ("Mn", "Mc") else 2
    return lut


def _token_starts(cps: np.ndarray, space: np.ndarray) -> np.ndarray:
    """bool ``[n]``: where a token starts, for text holding characters of scripts written without spaces."""
    kind = _kind_lut()[np.minimum(cps, 0x2FFFF)]
    inside = ~space
    prev_space = np.ones_like(space)
    prev_space[1:] = space[:-1]
    prev_kind = np.zeros_like(kind)
    prev_kind[1:] = kind[:-1]
    starts = inside & prev_space
    starts |= (kind == 1) & inside
    starts |= (kind == 0) & inside & (prev_kind != 0) & ~prev_space
    # letters of the three-per-token scripts: a token starts at every third letter of a run of them
    letter = kind == 2
    if letter.any():
        run = (kind >= 2) & inside
        run_start = run & ~np.concatenate(([False], run[:-1]))
        count = np.cumsum(letter)
        base = np.maximum.accumulate(np.where(run_start, count - letter, 0))
        position = count - base - 1
        starts |= letter & (position % _LETTERS_PER_TOKEN == 0)
    return starts


def _spans_of_piece(piece: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Words of one piece: ``(starts, ends, sentence_end, newline_at)``.

    ``starts``/``ends`` int64 ``[n]`` (end exclusive), ``sentence_end`` bool ``[n]``, ``newline_at`` int64 ``[m]``
    (offsets of every ``\\n``).
    """
    cps = np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    space = _SPACE_LUT[np.minimum(cps, 0x3001)]
    inside = ~space
    if piece.isascii() or not (cps >= 0xE00).any():
        starts = inside.copy()
        starts[1:] &= space[:-1]
        ends = inside.copy()
        ends[:-1] &= space[1:]
    else:
        starts = _token_starts(cps, space)
        ends = inside.copy()
        ends[:-1] &= space[1:] | starts[1:]
    word_start = np.flatnonzero(starts)
    word_end = np.flatnonzero(ends) + 1
    last = cps[word_end - 1]
    before = cps[np.maximum(word_end - 2, 0)]
    long_enough = (word_end - word_start) >= 2
    sentence_end = np.isin(last, _TERMINAL) | (np.isin(last, _CLOSING) & long_enough & np.isin(before, _TERMINAL))
    return word_start, word_end, sentence_end, np.flatnonzero(cps == 0x0A)


def _words(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_spans_of_piece`` over the whole text, in chunks cut at whitespace (offsets are into ``text``)."""
    parts = []
    position = 0
    while position < len(text):
        end = min(position + _CHUNK_CHARS, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", position, end), text.rfind("\n", position, end))
            end = cut + 1 if cut > position else end  # a word over a million characters is split
        s, e, f, nl = _spans_of_piece(text[position:end])
        parts.append((s + position, e + position, f, nl + position))
        position = end
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=bool), empty
    if len(parts) == 1:
        return parts[0]
    s, e, f, nl = (np.concatenate(column) for column in zip(*parts))
    return s, e, f, nl


def word_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """int64 ``([n], [n])``: start and end (exclusive) character offsets of the whitespace-delimited words.

    >>> s, e = word_spans("  Hi there,\\tyou! ")
    >>> s.tolist(), e.tolist()
    ([2, 5, 12], [4, 11, 16])
    """
    starts, ends, _, _ = _words(text)
    return starts, ends


def _sentence_starts(
    starts: np.ndarray, ends: np.ndarray, sentence_end: np.ndarray, newline_at: np.ndarray
) -> np.ndarray:
    """Sorted token indices where a sentence starts, always including 0 and ``n``.

    A sentence ends at a token flagged in ``sentence_end`` or before a gap holding two or more newlines.
    """
    n = starts.size
    breaks = sentence_end[:-1].copy()
    if n > 1 and newline_at.size:
        newlines_in_gap = np.searchsorted(newline_at, starts[1:]) - np.searchsorted(newline_at, ends[:-1])
        breaks |= newlines_in_gap >= 2
    return np.concatenate(([0], np.flatnonzero(breaks) + 1, [n])).astype(np.int64)


def _windows(boundaries: np.ndarray, n: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Token windows ``[a, b)`` over ``n`` tokens given sorted sentence-start indices (see the module docstring).

    >>> _windows(np.array([0, 3, 6, 9, 10]), 10, size=6, overlap=3)
    [(0, 6), (3, 9), (6, 10)]
    >>> _windows(np.array([0, 10]), 10, size=4, overlap=1)
    [(0, 4), (3, 7), (6, 10)]
    """
    out: list[tuple[int, int]] = []
    a = 0
    half = max(1, size // 2)
    reach = max(overlap // 2, 1)
    while a < n:
        limit = min(a + size, n)
        # last sentence start in (a, limit]
        i = int(np.searchsorted(boundaries, limit, side="right")) - 1
        b = int(boundaries[i])
        if b <= a or (b - a < half and limit < n):
            b = limit
        out.append((a, b))
        if b >= n:
            break
        target = b - overlap
        lo, hi = max(a + 1, target - reach), min(b, target + reach)
        nxt = target
        if lo <= hi:
            j, k = np.searchsorted(boundaries, [lo, hi + 1])
            if j < k:
                candidates = boundaries[j:k]
                nxt = int(candidates[np.argmin(np.abs(candidates - target))])
        a = max(nxt, a + 1)
    return out


def _split_region(
    doc: Document, start: int, end: int, page: int | None, size: int, overlap: int, ordinal: int
) -> list[Passage]:
    region = doc.text[start:end]
    starts, ends, sentence_end, newline_at = _words(region)
    if starts.size == 0:
        return []
    boundaries = _sentence_starts(starts, ends, sentence_end, newline_at)
    passages = []
    for a, b in _windows(boundaries, int(starts.size), size, overlap):
        s, e = start + int(starts[a]), start + int(ends[b - 1])
        passages.append(Passage(doc.id, ordinal, s, e, doc.text[s:e], page))
        ordinal += 1
    return passages


def split_passages(doc: Document, size: int = 200, overlap: int = 40) -> list[Passage]:
    """Overlapping windows of at most ``size`` words, sharing about ``overlap`` words, ending on sentence ends.

    Returns passages with ordinals 0, 1, ... and ``passage.text == doc.text[passage.start:passage.end]``;
    empty text gives none, a short document one. For paged documents passages stay inside one page.

    >>> from rag.records import Document
    >>> [p.text for p in split_passages(Document("d", "One two. Three four five. Six."), size=4, overlap=0)]
    ['One two.', 'Three four five. Six.']
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an integer >= 1 word (got {size!r}); 200 is the default")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < size:
        raise ValueError(f"overlap must be an integer in [0, size) = [0, {size}) (got {overlap!r}); try {size // 5}")
    if doc.pages is None:
        return _split_region(doc, 0, len(doc.text), None, size, overlap, 0)
    passages: list[Passage] = []
    previous_end = 0
    for span in doc.pages:
        if not 0 <= span.start <= span.end <= len(doc.text) or span.start < previous_end:
            raise ValueError(
                f"document {doc.id!r}: page {span.page} spans [{span.start}, {span.end}), which is outside the text "
                f"(length {len(doc.text)}) or overlaps the previous page; page spans must be in order and within "
                "the text"
            )
        previous_end = span.end
        passages.extend(_split_region(doc, span.start, span.end, span.page, size, overlap, len(passages)))
    return passages
