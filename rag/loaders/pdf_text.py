"""Repairs of text extracted from PDF pages: ligatures, words hyphenated across lines, running headers and footers.

PDFium (pypdfium2) reads text in content order, which keeps table rows on their own lines; what it cannot fix is
the PDF itself:

- **ligatures**: a ligature glyph ("ﬁ") whose font maps it to nothing comes out as U+FFFE (or a private-use code
  point): "bene\\ufffet", "\\ufffescal". Which ligature it was (fi, fl, ff, ffi, ffl) is chosen per word as the one
  that makes the most frequent English word, by `wordfreq <https://pypi.org/project/wordfreq/>`_'s frequency
  lists; PDFium also gives U+FFFE for some hyphens ("long\\ufffeterm"), so a hyphen competes as a candidate (a
  compound scores as its rarest part), and a private-use glyph that makes no word is read as the Symbol-font
  character it is (a bullet, a registered sign). A presentation-form ligature (U+FB00..U+FB06) is spelled out.
- **hyphenation**: "pro-\\nvision" becomes "provision" when the joined word is a known word and the second half is
  not a word by itself (or the joined word is common); "long-\\nterm" keeps its hyphen and line break.
- **running headers and footers**: a line within the first or last ``edge`` lines of a page whose text, with
  digits ignored ("Page 12" = "Page 3"), is at the same edge of at least ``share`` of the document's pages (and of
  ``min_pages``) is removed: "Table of Contents", a company name, page numbers.

Each is a pure function on page texts, so page spans stay exact (they are computed after the repair).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

LIGATURE_FORMS = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
LIGATURE_CHOICES = ("fi", "ff", "fl", "ffi", "ffl")  # in order of frequency in English text: ties go to "fi"
_UNMAPPED = "\ufffe\ue000-\uf8ff"
_WORD_WITH_UNMAPPED = re.compile(rf"[\w{_UNMAPPED}]*[{_UNMAPPED}][\w{_UNMAPPED}]*")
_FORMS = re.compile("[\ufb00-\ufb06]")
_HYPHENATED = re.compile(r"(\w+)-[ \t]*\n[ \t]*([a-z]\w*)")
_DIGITS = re.compile(r"\d+")


@lru_cache(maxsize=1)
def _wordfreq() -> Callable[[str], float]:
    try:
        from wordfreq import zipf_frequency
    except ImportError as err:  # pragma: no cover - wordfreq is a core dependency
        raise ImportError("repairing PDF ligatures needs wordfreq: pip install wordfreq") from err
    return lambda w: zipf_frequency(w, "en")


@lru_cache(maxsize=65536)
def word_frequency(word: str) -> float:
    """Zipf frequency of ``word`` in English (0 for an unknown word; 7 for "the")."""
    return _wordfreq()(word.lower())


# PDF "Symbol" fonts put their glyphs in the private-use block at U+F000 + code: the usual ones outside ASCII
_SYMBOL_PUA = {"\uf0b7": "\u2022", "\uf0a7": "\u2022", "\uf0d2": "\u00ae", "\uf0e2": "\u00ae", "\uf0d3": "\u00a9",
               "\uf0e3": "\u00a9", "\uf0d4": "\u2122", "\uf0e4": "\u2122"}


def _unmapped(c: str) -> bool:
    return c == "\ufffe" or "\ue000" <= c <= "\uf8ff"


def _symbol(c: str) -> str:
    """A private-use glyph of a Symbol font as text (ASCII codes as themselves), U+FFFE as a hyphen."""
    if c == "\ufffe":
        return "-"
    if "\uf020" <= c <= "\uf07e":
        return chr(ord(c) - 0xF000)
    return _SYMBOL_PUA.get(c, "")


def _candidate_score(cand: str) -> float:
    """How much ``cand`` reads as English: a word's frequency; a hyphenated compound scores its rarest part."""
    if "-" not in cand:
        return word_frequency(cand)
    parts = cand.split("-")
    return 0.0 if any(not p for p in parts) else min(word_frequency(p) for p in parts)


def _resolve(word: str) -> str:
    """``word`` with each unmapped glyph (U+FFFE, private use) replaced by what makes the most frequent English:
    a ligature (fi, ff, fl, ffi, ffl) or a hyphen ("long\ufffeterm" is "long-term"). Nothing scoring above 0, each
    glyph is read as a Symbol-font character (a bullet, a sign) or a hyphen."""
    slots = sum(1 for c in word if _unmapped(c))
    if slots > 3 or not any(c.isalpha() for c in word if not _unmapped(c)):  # a bullet, a sign after a number
        return "".join(_symbol(c) if _unmapped(c) else c for c in word)
    candidates = [""]
    for c in word:
        if _unmapped(c):
            candidates = [p + lig for p in candidates for lig in (*LIGATURE_CHOICES, "-")]
        else:
            candidates = [p + c for p in candidates]
    best, best_f = None, 0.0
    for cand in candidates:
        f = _candidate_score(cand)
        if f > best_f:
            best, best_f = cand, f
    if best is None:
        return "".join(_symbol(c) if _unmapped(c) else c for c in word)
    return best


def fix_ligatures(text: str) -> str:
    """Spell out ligature glyphs: presentation forms always, unmapped glyphs (U+FFFE, private use) by word.

    >>> fix_ligatures("the \\ufffescal year, bene\\ufffets and e\\ufffeects of in\\ufffeation; \\ufb01le")
    'the fiscal year, benefits and effects of inflation; file'
    >>> fix_ligatures("long\\ufffeterm debt \\uf0b7 Clear\\uf0d2")
    'long-term debt \u2022 Clear\u00ae'
    """
    if _FORMS.search(text):
        text = _FORMS.sub(lambda m: LIGATURE_FORMS[m.group()], text)
    if not re.search(f"[{_UNMAPPED}]", text):
        return text
    return _WORD_WITH_UNMAPPED.sub(lambda m: _resolve(m.group()), text)


def dehyphenate(text: str) -> str:
    """Join words split by a hyphen at a line end when the joined word is a word (the two lines become one).

    >>> dehyphenate("the pro-\\nvision for income taxes and long-\\nterm debt")
    'the provision for income taxes and long-\\nterm debt'
    """

    def join(m: re.Match[str]) -> str:
        a, b = m.group(1), m.group(2)
        joined = word_frequency(a + b)
        if joined > 0 and (word_frequency(b) == 0 or joined >= 3.0):
            return a + b
        return m.group()

    return _HYPHENATED.sub(join, text)


def _edge_key(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.split())).lower()


def strip_running_lines(pages: list[str], *, edge: int = 2, share: float = 0.5, min_pages: int = 3) -> list[str]:
    """Remove running headers and footers: edge lines repeated (digits ignored) on many pages of the document.

    >>> pages = [f"Table of Contents\\n{w} grew\\n{i}" for i, w in enumerate(["Sales", "Cash", "Debt", "Income"], 1)]
    >>> strip_running_lines(pages)
    ['Sales grew', 'Cash grew', 'Debt grew', 'Income grew']
    """
    if len(pages) < min_pages:
        return pages
    split = [p.split("\n") for p in pages]
    heads: Counter[str] = Counter()
    tails: Counter[str] = Counter()
    for lines in split:
        body = [ln for ln in lines if ln.strip()]
        heads.update({_edge_key(ln) for ln in body[:edge]})
        tails.update({_edge_key(ln) for ln in body[-edge:]})
    need = max(min_pages, share * len(pages))
    running_heads = {k for k, n in heads.items() if n >= need and k}
    running_tails = {k for k, n in tails.items() if n >= need and k}
    if not running_heads and not running_tails:
        return pages
    out = []
    for lines in split:
        idx = [i for i, ln in enumerate(lines) if ln.strip()]
        drop = {i for i in idx[:edge] if _edge_key(lines[i]) in running_heads}
        drop |= {i for i in idx[-edge:] if _edge_key(lines[i]) in running_tails}
        out.append("\n".join(ln for i, ln in enumerate(lines) if i not in drop).strip("\n"))
    return out


def repair_pages(pages: list[str]) -> list[str]:
    """Every repair, page by page: ligatures, hyphenation, then running headers and footers across pages."""
    return strip_running_lines([dehyphenate(fix_ligatures(p)) for p in pages])
