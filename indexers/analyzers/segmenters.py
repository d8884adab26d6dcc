"""Word segmenters for scripts written without spaces (and for Korean morphemes), each a maintained library.

Every segmenter is a function ``text -> list[str]`` of lowercased words; punctuation and, where the library
tags it, grammatical glue (particles, endings, auxiliaries) are left out, as Lucene's smartcn, kuromoji and
nori analyzers do. Libraries are imported on first use; a missing one raises an ImportError that names the
``pip install`` fixing it. Measured speeds and the reasons for each choice are in the README ("Languages").

- ``jieba``: Chinese, rjieba (the Rust port of jieba) in search mode (long words plus the words inside them);
  ``jieba_bigrams`` adds the character bigrams (latte's Chinese analyzer: measured best on CMRC 2018).
- ``sudachi``: Japanese, SudachiPy mode B with normalized forms (inflections and spelling variants folded).
- ``kiwi``: Korean, kiwipiepy morphemes (nouns, verb and adjective stems, roots, foreign words, numbers).
- ``thai``: Thai, PyThaiNLP's ``newmm`` dictionary segmenter.
- ``words``: runs of Unicode word characters and combining marks, lowercased: any script that separates words
  by spaces (the marks matter: Devanagari vowel signs, Thai vowels and tones, Arabic harakat).
- ``bigrams``: ``words``, with runs of spaceless-script characters turned into overlapping character bigrams
  (what Lucene's CJKAnalyzer does): a fallback for scripts without a segmenter here (Lao, Khmer, Myanmar).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import regex

from indexers.analyzers.scripts import spaceless_table

__all__ = ["SEGMENTERS", "segment", "words"]

# Word characters and combining marks: Python's \w alone cuts Devanagari, Thai and vowelled Arabic words at every
# vowel sign ("दिल्ली" would be "द", "ल", "ल"), which the English analyzer's \w+ still does for English text
_WORD = regex.compile(r"[\w\p{M}]+")
_PIECE_CHARS = 8_000  # Sudachi refuses inputs over ~49 KB; every library is fed pieces of at most this size


def _missing(package: str, language: str) -> ImportError:
    return ImportError(
        f"analyzing {language} text needs {package}: pip install {package} (or pip install 'latte[multilingual]')"
    )


def _pieces(text: str, limit: int = _PIECE_CHARS) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, at a line break or space where there is one."""
    if len(text) <= limit:
        return [text]
    out, start = [], 0
    while start < len(text):
        end = min(start + limit, len(text))
        if end < len(text):
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end), text.rfind("\u3002", start, end))
            end = cut + 1 if cut > start else end
        out.append(text[start:end])
        start = end
    return out


def words(text: str) -> list[str]:
    """Lowercased runs of word characters and combining marks.

    >>> words("Столица Австралии, 2024!"), words("नई दिल्ली")
    (['столица', 'австралии', '2024'], ['नई', 'दिल्ली'])
    """
    return _WORD.findall(text.lower())


def bigrams(text: str) -> list[str]:
    """``words``, with each run of spaceless-script characters as its overlapping bigrams (a lone one as itself).

    >>> bigrams("ນະຄອນ abc")
    ['ນະ', 'ະຄ', 'ຄອ', 'ອນ', 'abc']
    """
    table = spaceless_table()
    out: list[str] = []
    for w in words(text):
        cps = np.frombuffer(w.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        flags = table[np.minimum(cps, 0x10FFFF)]
        if not flags.any():
            out.append(w)
            continue
        i, n = 0, len(w)
        while i < n:  # alternate runs of spaceless and other characters
            j = i
            while j < n and flags[j] == flags[i]:
                j += 1
            run = w[i:j]
            if flags[i] and len(run) > 1:
                out.extend(run[k : k + 2] for k in range(len(run) - 1))
            else:
                out.append(run)
            i = j
    return out


@lru_cache(maxsize=1)
def _rjieba():
    try:
        import rjieba
    except ImportError as exc:
        raise _missing("rjieba", "Chinese") from exc
    return rjieba


def jieba(text: str) -> list[str]:
    """Chinese words (rjieba search mode), lowercased, punctuation left out.

    >>> jieba("北京大学的学生")
    ['北京', '大学', '北京大学', '的', '学生']
    """
    cut = _rjieba().cut_for_search
    return [w for piece in _pieces(text.lower()) for w in cut(piece) if _WORD.search(w)]


def jieba_bigrams(text: str) -> list[str]:
    """``jieba`` words plus the character bigrams of the same text (Lucene's smartcn and CJK analyzers together):
    on CMRC 2018 +0.0077 nDCG@10 over words alone (95% CI +0.0023..+0.0134), for about twice the postings.

    >>> jieba_bigrams("北京大学")
    ['北京', '大学', '北京大学', '北京', '京大', '大学']
    """
    return jieba(text) + bigrams(text)


_JA_DROP = frozenset({"助詞", "助動詞", "補助記号", "空白", "記号"})


@lru_cache(maxsize=1)
def _sudachi():
    try:
        from sudachipy import Dictionary, SplitMode
    except ImportError as exc:
        raise _missing("sudachipy sudachidict-core", "Japanese") from exc
    try:
        dictionary = Dictionary(dict="core")
        make = getattr(dictionary, "tokenizer", None) or dictionary.create  # create() before SudachiPy 0.6.9
        return make(mode=SplitMode.B)
    except Exception as exc:  # sudachipy raises its own error types for a missing dictionary
        raise _missing("sudachidict-core", "Japanese") from exc


def sudachi(text: str) -> list[str]:
    """Japanese content words in normalized form (SudachiPy mode B): particles, auxiliaries, punctuation out.

    >>> sudachi("図書館で勉強しています。")
    ['図書館', '勉強', '為る', '居る']
    """
    tok = _sudachi()
    out: list[str] = []
    for piece in _pieces(text):
        for m in tok.tokenize(piece):
            if m.part_of_speech()[0] not in _JA_DROP:
                w = m.normalized_form().lower()
                if _WORD.search(w):
                    out.append(w)
    return out


# Sejong tags kept: nouns, pronouns, numerals, verb/adjective stems, roots, adverbs, foreign, hanja, numbers
_KO_KEEP = ("NN", "NP", "NR", "VV", "VA", "XR", "MAG", "SL", "SH", "SN")


@lru_cache(maxsize=1)
def _kiwi():
    try:
        from kiwipiepy import Kiwi
    except ImportError as exc:
        raise _missing("kiwipiepy", "Korean") from exc
    return Kiwi()


def kiwi(text: str) -> list[str]:
    """Korean content morphemes (kiwipiepy): particles, endings and suffixes left out.

    >>> kiwi("학생들은 도서관에서 공부합니다.")
    ['학생', '도서관', '공부']
    """
    k = _kiwi()
    out: list[str] = []
    for piece in _pieces(text):
        out.extend(t.form.lower() for t in k.tokenize(piece) if t.tag.startswith(_KO_KEEP))
    return out


@lru_cache(maxsize=1)
def _thai():
    try:
        from pythainlp.tokenize import word_tokenize
    except ImportError as exc:
        raise _missing("pythainlp", "Thai") from exc
    return word_tokenize


# NFKC (applied to every document) splits SARA AM into NIKHAHIT + SARA AA, a spelling PyThaiNLP's dictionary
# does not know ("ต้มยำ" would become three words); it is put back before segmenting (Lao has the same pair).
_DECOMPOSED_AM = (("\u0e4d\u0e32", "\u0e33"), ("\u0ecd\u0eb2", "\u0eb3"))


def thai(text: str) -> list[str]:
    """Thai words (PyThaiNLP ``newmm``), lowercased, spaces and punctuation left out; NFKC's decomposed SARA AM is
    composed again first, so a normalized document and a typed query segment alike.

    >>> thai("กรุงเทพมหานครเป็นเมืองหลวง")
    ['กรุงเทพมหานคร', 'เป็น', 'เมืองหลวง']
    >>> import unicodedata; thai(unicodedata.normalize("NFKC", "ต้มยำกุ้ง")) == thai("ต้มยำกุ้ง") == ["ต้มยำกุ้ง"]
    True
    """
    for decomposed, composed in _DECOMPOSED_AM:
        if decomposed in text:
            text = text.replace(decomposed, composed)
    tokenize = _thai()
    return [w for piece in _pieces(text.lower())
            for w in tokenize(piece, engine="newmm", keep_whitespace=False) if _WORD.search(w)]


#: segmenter name -> (function, the package that provides it)
SEGMENTERS: dict[str, tuple[Callable[[str], list[str]], str | None]] = {
    "words": (words, None),
    "bigrams": (bigrams, None),
    "jieba": (jieba, "rjieba"),
    "jieba_bigrams": (jieba_bigrams, "rjieba"),
    "sudachi": (sudachi, "sudachipy"),
    "kiwi": (kiwi, "kiwipiepy"),
    "thai": (thai, "pythainlp"),
}


def segment(name: str, text: str) -> list[str]:
    """The words of ``text`` by the segmenter ``name`` (a key of ``SEGMENTERS``)."""
    try:
        fn, _ = SEGMENTERS[name]
    except KeyError:
        raise ValueError(f"unknown segmenter {name!r}; known: {sorted(SEGMENTERS)}") from None
    return fn(text)
