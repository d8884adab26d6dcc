"""Text cleaning and document quality heuristics, run on every document before dedupe and indexing.

``normalize_text`` repairs and tidies text; ``check_quality`` applies configurable Gopher-style rules
(Rae et al. 2021, "Scaling Language Models", appendix A) and says which rule dropped a document.

Default thresholds. Gopher and C4 were tuned to throw away web junk from a pre-training crawl, where losing a
good page costs nothing. latte indexes a user's own documents and IR benchmark corpora, where every dropped
document is a lost answer, so the defaults only catch text that is not prose at all. Measured with
``benchmarks/bench_clean_dedupe.py --real-data`` on BEIR SciFact (5,183 abstracts, title + abstract) and on
the five SEC filings in ``shared/data/pdfs`` (whole documents and each of their 43 pages): the defaults drop
nothing; Gopher's values would drop 18 SciFact abstracts (11 on the letter share, 4 under 50 words, 3 on mean
word length) and 19 of the 43 PDF pages (18 on the letter share, 1 under 50 words).

- ``min_words``: Gopher drops < 50 words. SciFact's shortest abstract has 33 words and a user's note or a
  one-line FAQ answer is a real document, so the default is 1 (only text without any word goes; empty text is
  the separate ``empty`` rule). C4's "3 words per line, 5 sentences per page" rules are not used at all: they
  drop tables, lists and short abstracts.
- ``max_chars``: 64,000,000 characters (far above any real document; guards memory, not quality).
- ``min_alpha_word_share``: Gopher keeps >= 0.8 of words containing a letter. SciFact has abstracts that are
  tables of contents with spaced dot leaders (". . . . 158"), down to 0.13; SEC filing pages with columns of
  amounts go down to 0.48. The default 0.05 only drops text that is nearly all numbers or symbols.
- ``max_symbol_ratio``: Gopher drops more than 0.1 '#' or more than 0.1 ellipses per word; we count both
  together (a dot leader "......" counts once) and allow 0.5 (SciFact peaks at 0.04): markdown headings
  stay, hashtag spam and '#' art go.
- ``max_repeated_line_share``: Gopher drops documents where more than 0.3 of lines repeat an earlier line.
  Filing pages repeat table cells ("$", "%") and reach 0.31, so the default is 0.8, and the rule only applies
  to documents with at least ``repeated_line_min_lines`` (10) non-empty lines.
- Scripts written without spaces (Chinese, Japanese, Thai...) have no words: each of their characters counts as
  one unit for ``min_words``, the letter share and the symbol ratio, and the mean word length is only checked on
  text whose word characters outnumber those (Gopher's rules were written for English; before this, every
  Chinese document was dropped as one "word" of hundreds of characters).
- ``min_mean_word_len`` / ``max_mean_word_len``: Gopher keeps 3..10 characters. The dot-leader abstracts
  measure 1.73 (SciFact ranges 1.73..8.9, the PDFs 4.5..6.7), so the defaults are 1.2..40: they catch only
  text split into single characters and blobs without spaces (base64, minified data).

Dropping on these rules can be turned off wholesale with ``QualityRules(enabled=False)`` or per rule by
setting its threshold to ``None``; ``empty`` cannot be disabled (there is nothing to index).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag.textscan import scan_quality

__all__ = ["QualityRules", "QualityStats", "check_quality", "normalize_text", "quality_stats"]

# ----------------------------------------------------------------------------------------------------------------
# normalize_text
# ----------------------------------------------------------------------------------------------------------------

# Every alternative of ftfy's badness regex contains a non-ASCII character and matches at most 5 characters,
# so a window reaching this far around each run of non-ASCII characters sees every match.
_BADNESS_MARGIN = 6
# Non-ASCII characters that can match ftfy's badness regex with only ASCII around them (besides C1 controls).
_LONE_SUSPECTS = np.array([ord(c) for c in "\u0152\u0153\u00c3\u00c2"], dtype=np.uint32)
# The control characters ftfy removes (ftfy.chardata.CONTROL_CHARS) plus C1 controls; \t and \n are kept;
# \r, \x0c, U+2028 and U+2029 are turned into \n first.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u206a-\u206f\ufeff\ufff9-\ufffc]")
_ASCII_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_LINE_BREAKS = re.compile("\r\n?|[\x0c\u2028\u2029]")
# After line breaks, control removal and NFKC, the only whitespace left besides " " and "\n" is \t and U+1680
# (tests/rag/test_clean.py checks this over every code point).
_ODD_SPACES = ("\t", "\u1680")
_SPACE_RUN = re.compile(" {2,}")
_BLANK_LINES = re.compile(r"\n{3,}")


@functools.cache
def _ftfy():  # noqa: ANN202 - ftfy is imported lazily
    try:
        import ftfy
        from ftfy.badness import BADNESS_RE
    except ImportError as err:  # pragma: no cover - ftfy is a core dependency
        raise ImportError("normalize_text needs ftfy: pip install ftfy") from err
    # HTML entities are the loaders' business (an abstract may talk about "&amp;"); curly quotes carry meaning.
    config = ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False, explain=False)
    return ftfy.fix_text, config, BADNESS_RE


@functools.cache
def _control_lut() -> np.ndarray:
    """bool ``[0x10000]``: the code points ``_CONTROL`` removes (all in the BMP: index with min(cp, 0xFFFF))."""
    lut = np.zeros(0x10000, dtype=bool)
    lut[list(_ASCII_CONTROL_BYTES)] = True
    lut[0x80:0xA0] = True
    lut[0x206A:0x2070] = True
    lut[0xFEFF] = True
    lut[0xFFF9:0xFFFD] = True
    return lut


_NFKC_LUT_SIZE = 0x30000  # no code point from U+30000 up changes under NFKC or combines (checked by a test)


@functools.cache
def _nfkc_lut() -> np.ndarray:
    """bool ``[0x30000]``: code points that NFKC may change in context (built once, about 0.2 s).

    That is: characters NFKC maps to something else, combining marks (they may reorder or compose), and
    starters that compose with the character before them (second halves of canonical pairs, Hangul vowels
    and trailing consonants). Every other character, and every ASCII one, is a safe place to cut the text.
    """
    lut = np.zeros(_NFKC_LUT_SIZE, dtype=bool)
    for cp in range(0x80, _NFKC_LUT_SIZE):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if unicodedata.combining(c) or unicodedata.normalize("NFKC", c) != c:
            lut[cp] = True
        decomposition = unicodedata.decomposition(c).split()
        if len(decomposition) == 2 and not decomposition[0].startswith("<"):
            lut[int(decomposition[1], 16)] = True
    lut[0x1161:0x1176] = True  # Hangul vowel jamo (compose with a leading consonant)
    lut[0x11A8:0x11C3] = True  # Hangul trailing consonants (compose with an LV syllable)
    return lut


def _nfkc(text: str, cps: np.ndarray | None = None) -> str:
    """``unicodedata.normalize("NFKC", text)``, normalising only around the characters that can change.

    Unicode normalisation can be applied piecewise between "stable" characters, and every ASCII character is
    one; so each suspect character is normalised with the text from the ASCII character before it to the ASCII
    character after it. A single "…" or NBSP in 3,000 words costs microseconds instead of a full pass (~0.5 ms).
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    cps = _code_points(text) if cps is None else cps
    suspect = np.flatnonzero(_nfkc_lut()[np.minimum(cps, _NFKC_LUT_SIZE - 1)])
    ascii_at = np.flatnonzero(cps < 0x80)
    if suspect.size * 32 > cps.size or ascii_at.size == 0:  # dense: one pass over everything is cheaper
        return unicodedata.normalize("NFKC", text)
    after = np.searchsorted(ascii_at, suspect)
    starts = np.where(after > 0, ascii_at[np.maximum(after - 1, 0)], 0)
    ends = np.where(after < ascii_at.size, ascii_at[np.minimum(after, ascii_at.size - 1)], cps.size)
    starts, first = np.unique(starts, return_index=True)
    parts: list[str] = []
    position = 0
    for start, end in zip(starts.tolist(), ends[first].tolist()):
        parts.append(text[position:start])
        parts.append(unicodedata.normalize("NFKC", text[start:end]))
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _code_points(text: str) -> np.ndarray:
    """uint32 ``[len(text)]``: the code points of ``text`` (lone surrogates included)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _line_of(text: str, pos: int) -> tuple[int, int]:
    """``[start, end)`` of the ftfy segment holding ``pos``: a line including its trailing newline."""
    end = text.find("\n", pos)
    return text.rfind("\n", 0, pos) + 1, len(text) if end < 0 else end + 1


def _segments_needing_ftfy(text: str, cps: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Line segments ``[start, end)`` (ftfy fixes text line by line) that ftfy could change beyond our tidy step.

    A line needs ftfy when it holds a C1 control (a mojibake clue), an ESC (terminal escape), a surrogate, or
    a match of ftfy's badness regex (the test ftfy uses to decide whether to re-decode a line). The regex
    costs about 200 ns per character (5 ms on 3,000 words), so it only runs on small windows around runs of
    non-ASCII characters that could take part in a match: runs of two or more, and single characters from
    ``_LONE_SUSPECTS``. Every alternative of the regex needs two adjacent non-ASCII characters except those
    built on C1 controls, Œ/œ and Ã/Â (tests/rag/test_clean.py checks this against the installed ftfy). A
    window never crosses a line and reaches ``_BADNESS_MARGIN`` characters around its run, so every match is
    found; a window that starts mid-line may let the regex's ``^`` match where it would not, which only sends
    one more line through ftfy.
    """
    hits = [m.start() for m in re.finditer("\x1b", text)] if "\x1b" in text else []
    if not text.isascii():
        cps = _code_points(text) if cps is None else cps
        pos = np.flatnonzero(cps > 0x7F)
        vals = cps[pos]
        hits.extend(pos[(vals <= 0x9F) | ((vals >= 0xD800) & (vals <= 0xDFFF))].tolist())
        # Maximal runs of consecutive non-ASCII characters; keep those that could start a badness match.
        cut = np.flatnonzero(np.diff(pos) > 1)
        first = np.concatenate(([0], cut + 1))
        last = np.append(cut, pos.size - 1)
        lead = vals[first]
        suspect = last > first
        for cp in _LONE_SUSPECTS:
            suspect |= lead == cp
        run_start, run_end = pos[first[suspect]], pos[last[suspect]] + 1
        if run_start.size:
            # Merge suspect runs that are close together on the same line into one window.
            line = np.searchsorted(np.flatnonzero(cps == 0x0A), run_start)
            split = np.flatnonzero((run_start[1:] - run_end[:-1] > _BADNESS_MARGIN) | (line[1:] != line[:-1]))
            starts = run_start[np.concatenate(([0], split + 1))].tolist()
            ends = run_end[np.append(split, run_start.size - 1)].tolist()
            _, _, badness = _ftfy()
            for start, end in zip(starts, ends):
                line_start, line_end = _line_of(text, start)
                window = text[max(line_start, start - _BADNESS_MARGIN) : min(line_end, end + _BADNESS_MARGIN)]
                if badness.search(window):
                    hits.append(start)
    segments: list[tuple[int, int]] = []
    for p in sorted(hits):
        if not segments or p >= segments[-1][1]:
            segments.append(_line_of(text, p))
    return segments


def _repair(text: str, cps: np.ndarray | None = None) -> str:
    """Run ftfy on the segments that need it; equals ``ftfy.fix_text(text, config)`` once tidied."""
    segments = _segments_needing_ftfy(text, cps)
    if not segments:
        return text
    fix_text, config, _ = _ftfy()
    parts: list[str] = []
    position = 0
    for start, end in segments:
        parts.append(text[position:start])
        parts.append(fix_text(text[start:end], config))
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _tidy(text: str, cps: np.ndarray | None = None) -> str:
    """Line breaks to ``\\n``, controls out, NFKC, spaces collapsed, no trailing spaces, one blank line at most."""
    if text.isascii():
        # On 1-byte strings substring tests are memchr-fast; the control test is one bytes.translate.
        if "\r" in text or "\x0c" in text:
            text = _LINE_BREAKS.sub("\n", text)
        raw = text.encode("ascii")
        if len(raw.translate(None, _ASCII_CONTROL_BYTES)) != len(raw):
            text = _CONTROL.sub("", text)
        if "\t" in text:
            text = text.replace("\t", " ")
        double_space, trailing_space, blank_lines = "  " in text, " \n" in text, "\n\n\n" in text
    else:
        # Wider strings: single-character tests stay fast, the rest is read off the code points (``cps`` when
        # the caller has them for this very text; recomputed after any change).
        if "\r" in text or "\x0c" in text or "\u2028" in text or "\u2029" in text:
            text, cps = _LINE_BREAKS.sub("\n", text), None
        cps = _code_points(text) if cps is None else cps
        if _control_lut()[np.minimum(cps, 0xFFFF)].any():
            text, cps = _CONTROL.sub("", text), None
        normalized = _nfkc(text, cps)
        if normalized is not text:
            text, cps = normalized, None
        for odd in _ODD_SPACES:
            if odd in text:
                text, cps = text.replace(odd, " "), None
        cps = _code_points(text) if cps is None else cps
        space, newline = cps == 0x20, cps == 0x0A
        double_space = bool(np.any(space[1:] & space[:-1]))
        trailing_space = bool(np.any(space[:-1] & newline[1:]))
        blank_lines = bool(np.any(newline[2:] & newline[1:-1] & newline[:-2]))
    if double_space:
        text = _SPACE_RUN.sub(" ", text)
    if trailing_space:
        text = text.replace(" \n", "\n")
    if blank_lines:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def normalize_text(text: str) -> str:
    """Repair and tidy text for indexing; idempotent.

    Steps: ftfy repair (mojibake, C1 controls, terminal escapes, surrogates; HTML entities and curly quotes
    are left alone), line breaks to ``\\n``, control characters removed (``\\n`` and ``\\t`` kept), NFKC,
    every run of spaces and tabs (and other horizontal whitespace) becomes one space, trailing spaces on
    lines go, at most one blank line in a row, outer whitespace stripped.

    Fast paths: ASCII text skips ftfy and NFKC; other text runs ftfy only on the lines that ftfy's own
    badness test flags (see ``_segments_needing_ftfy``) and NFKC only around characters it can change (see
    ``_nfkc``), so the output equals ``ftfy.fix_text`` followed by the tidy steps (tests check this) at a
    fraction of the cost: on SciFact about 8x faster than ``ftfy.fix_text`` + NFKC
    (``benchmarks/bench_clean_dedupe.py --real-data``).

    >>> normalize_text("  Caf\\u00c3\\u00a9   au\\tlait\\r\\n\\r\\n\\r\\n\\ufb01n  \\n")
    'Café au lait\\n\\nfin'
    >>> normalize_text("\\uff21\\uff22\\uff23\\x00 \\u00bd")
    'ABC 1⁄2'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize_text expects str, got {type(text).__name__}; decode bytes first")
    if text.isascii():
        return _tidy(_repair(text) if "\x1b" in text else text)
    cps = _code_points(text)
    repaired = _repair(text, cps)
    return _tidy(repaired, cps if repaired is text else None)


# ----------------------------------------------------------------------------------------------------------------
# quality rules
# ----------------------------------------------------------------------------------------------------------------


class QualityRules(BaseModel):
    """Thresholds of the document quality rules; ``None`` disables a rule, ``enabled=False`` disables all.

    The defaults are lenient on purpose (see the module docstring for the Gopher values and why each one
    was relaxed): on SciFact they drop nothing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    min_words: int | None = Field(1, ge=1, description="fewest whitespace-separated words")
    max_chars: int | None = Field(64_000_000, ge=1, description="most characters")
    min_alpha_word_share: float | None = Field(
        0.05, ge=0, le=1, description="least share of words containing an alphabetic character (Gopher: 0.8)"
    )
    max_symbol_ratio: float | None = Field(
        0.5, ge=0, description="most '#' plus ellipses ('...' or '…') per word (Gopher: 0.1 each)"
    )
    max_repeated_line_share: float | None = Field(
        0.8, ge=0, le=1, description="most share of non-empty lines repeating an earlier line (Gopher: 0.3)"
    )
    repeated_line_min_lines: int = Field(10, ge=2, description="the repeated-line rule applies from this many lines")
    min_mean_word_len: float | None = Field(1.2, ge=0, description="least mean word length (Gopher: 3)")
    max_mean_word_len: float | None = Field(40.0, ge=0, description="most mean word length (Gopher: 10)")

    @model_validator(mode="after")
    def _check_ranges(self) -> QualityRules:
        lo, hi = self.min_mean_word_len, self.max_mean_word_len
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(
                f"min_mean_word_len ({lo}) is above max_mean_word_len ({hi}); swap them or set one to None"
            )
        return self


@dataclass(frozen=True, slots=True)
class QualityStats:
    """What the quality rules measure on one text, per script.

    Words are maximal runs of non-whitespace (as ``str.split``) outside the scripts written without spaces
    (Han, kana, Thai, Lao, Khmer, Myanmar: ``indexers.analyzers.scripts.SPACELESS``), whose characters are
    counted on their own (``spaceless``): such text has no words to measure, so each character is a unit. Word
    counts and shares are over units (words plus spaceless characters); the mean word length is over words only.
    """

    chars: int
    words: int
    alpha_words: int  # words containing at least one alphabetic character (str.isalpha)
    word_chars: int  # characters inside words
    symbols: int  # '#' plus '...' plus '…'
    lines: int  # non-empty lines (after stripping)
    repeated_lines: int  # non-empty lines equal (after stripping) to an earlier line
    spaceless: int = 0  # characters of scripts written without spaces
    spaceless_letters: int = 0  # those of them that are letters (str.isalpha)

    @property
    def units(self) -> int:
        """Words plus spaceless-script characters: what ``min_words`` counts."""
        return self.words + self.spaceless

    @property
    def alpha_word_share(self) -> float:
        units = self.units
        return (self.alpha_words + self.spaceless_letters) / units if units else 0.0

    @property
    def symbol_ratio(self) -> float:
        return self.symbols / self.units if self.units else 0.0

    @property
    def mean_word_len(self) -> float:
        return self.word_chars / self.words if self.words else 0.0

    @property
    def mostly_spaceless(self) -> bool:
        """More characters of spaceless scripts than characters in words: the mean word length says nothing."""
        return self.spaceless > self.word_chars

    @property
    def repeated_line_share(self) -> float:
        return self.repeated_lines / self.lines if self.lines else 0.0


_ELLIPSIS = re.compile(r"\.{3,}|\u2026+")  # a dot leader "......" counts once


def quality_stats(text: str, *, count_lines: bool = True) -> QualityStats:
    """Measure ``text`` for the quality rules in one compiled pass over its bytes (``rag.textscan``).

    Repeated lines are told apart by a 64-bit hash of each stripped line.

    >>> s = quality_stats("Hello world 123 ## ...\\nHello world 123 ## ...")
    >>> (s.words, s.alpha_words, s.symbols, s.lines, s.repeated_lines)
    (10, 4, 6, 2, 1)
    """
    words, alpha_words, word_chars, line_hashes, spaceless, spaceless_letters = scan_quality(text, count_lines)
    symbols = text.count("#")
    if "..." in text or "\u2026" in text:
        symbols += len(_ELLIPSIS.findall(text))
    lines = int(line_hashes.size)
    repeated = lines - int(np.unique(line_hashes).size) if lines else 0
    return QualityStats(len(text), words, alpha_words, word_chars, symbols, lines, repeated, spaceless,
                        spaceless_letters)


def check_quality(text: str, rules: QualityRules) -> tuple[str, str] | None:
    """Return ``(rule, detail)`` for the first rule that drops ``text``, or None when it is kept.

    Rules, in order: ``empty`` (always on), ``max_chars``, ``min_words``, ``mean_word_len``, ``alpha_share``,
    ``symbol_ratio``, ``repeated_lines``. ``detail`` gives the measured value against the threshold.

    >>> check_quality("   ", QualityRules())
    ('empty', 'no text after cleaning')
    >>> check_quality("12 34 56 78 90 ok", QualityRules(min_alpha_word_share=0.5))
    ('alpha_share', 'words with a letter 0.17 < 0.50')
    >>> check_quality("A perfectly normal sentence.", QualityRules()) is None
    True
    """
    if not text or text.isspace():
        return ("empty", "no text after cleaning")
    if not rules.enabled:
        return None
    if rules.max_chars is not None and len(text) > rules.max_chars:
        return ("max_chars", f"{len(text):,} characters > {rules.max_chars:,}")
    # Lines are only counted when the rule is on and the text could have enough of them.
    need_lines = (
        rules.max_repeated_line_share is not None and text.count("\n") + 1 >= rules.repeated_line_min_lines
    )
    stats = quality_stats(text, count_lines=need_lines)
    if rules.min_words is not None and stats.units < rules.min_words:
        return ("min_words", f"{stats.units} words < {rules.min_words}")
    mean = stats.mean_word_len
    if not stats.mostly_spaceless:  # Chinese, Japanese, Thai text: no words to measure (see QualityStats)
        if rules.min_mean_word_len is not None and mean < rules.min_mean_word_len:
            return ("mean_word_len", f"mean word length {mean:.2f} < {rules.min_mean_word_len:.2f}")
        if rules.max_mean_word_len is not None and mean > rules.max_mean_word_len:
            return ("mean_word_len", f"mean word length {mean:.2f} > {rules.max_mean_word_len:.2f}")
    share = stats.alpha_word_share
    if rules.min_alpha_word_share is not None and share < rules.min_alpha_word_share:
        return ("alpha_share", f"words with a letter {share:.2f} < {rules.min_alpha_word_share:.2f}")
    ratio = stats.symbol_ratio
    if rules.max_symbol_ratio is not None and ratio > rules.max_symbol_ratio:
        return ("symbol_ratio", f"'#' and ellipses per word {ratio:.2f} > {rules.max_symbol_ratio:.2f}")
    if need_lines and stats.lines >= rules.repeated_line_min_lines:
        rep, most = stats.repeated_line_share, rules.max_repeated_line_share or 0.0
        if rep > most:
            return ("repeated_lines", f"repeated lines {rep:.2f} > {most:.2f}")
    return None
