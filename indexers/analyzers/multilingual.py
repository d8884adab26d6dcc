"""The analyzer of new indexes: each document and each query analyzed by its own language's analyzer.

A document's language comes from the caller (a ``lang`` metadata field, ``latte ingest --lang``) or from
``detect_language``; its words come from the analyzer the language table names (``indexers.analyzers.table``).
Raw tokens carry their language (``"ru\\x1fслова"``; English ones are bare, exactly as the English analyzer
makes them), so BM25's raw-token counts stay per language and ``term`` knows which stemmer to apply. Terms
themselves are shared across languages (a name or a number matches whatever the language around it).

The index records every language it holds and the analyzer each one used (``to_dict``); a query is analyzed by
the recorded analyzers of the languages the index holds in the query's script (the only one, for a single-language
index: no detection at all; see ``query_languages``). An index written before this analyzer existed records the English ``Analyzer``'s
settings and loads as that analyzer, unchanged (``analyzer_from_dict``).

>>> an = MultilingualAnalyzer()
>>> an.raw_tokens("The runners were running"), an.raw_tokens("Бегущие люди", lang="ru")
(['the', 'runners', 'were', 'running'], ['ru\\x1fбегущие', 'ru\\x1fлюди'])
>>> [an.term(t) for t in an.raw_tokens("首都是北京")], sorted(an.languages)  # words, then character bigrams
(['首都', '是', '北京', '首都', '都是', '是北', '北京'], ['zh'])
>>> an.tokens("北京的首都")[:3]  # a query: the index holds only Chinese, so it is Chinese
['北京', '的', '首都']
"""

from __future__ import annotations

import importlib.util
import logging
import unicodedata
from functools import cache
from typing import Any

from indexers.analyzer import Analyzer
from indexers.analyzers.detect import SAMPLE_CHARS, detect_language
from indexers.analyzers.scripts import SPACELESS, dominant_script
from indexers.analyzers.segmenters import SEGMENTERS, segment
from indexers.analyzers.table import LANGUAGES, analyzer_name, languages_of_script
from indexers.analyzers.table import normalize_language as _normalize

log = logging.getLogger(__name__)

__all__ = ["SEP", "MultilingualAnalyzer", "LangText", "analyzer_from_dict"]

SEP = "\x1f"  # between a raw token's language and its word; never inside a \w word or a segmenter's word
_CACHE_MAX = 4_000_000
_MISS = object()


class LangText(str):
    """A query string that carries its language (``latte search --lang``); analyzers read ``.lang``.

    >>> q = LangText("столица", "ru"); (q, q.lang)
    ('столица', 'ru')
    """

    lang: str | None

    def __new__(cls, text: str, lang: str | None) -> LangText:
        obj = super().__new__(cls, text)
        obj.lang = lang
        return obj


def _check_name(name: str) -> str:
    kind, _, algorithm = name.partition(":")
    if name == "english" or name in SEGMENTERS:
        return name
    if kind == "snowball" and algorithm:
        import Stemmer

        if algorithm not in Stemmer.algorithms():
            raise ValueError(f"analyzer {name!r}: PyStemmer has no {algorithm!r} stemmer")
        return name
    raise ValueError(f"unknown analyzer {name!r}; use 'english', 'snowball:<language>' or one of {sorted(SEGMENTERS)}")


class MultilingualAnalyzer:
    """Per-language analysis with the same surface as ``Analyzer`` (``raw_tokens``, ``term``, ``tokens``).

    ``languages`` maps each language code the index holds to the analyzer name it used (recorded by ``term``,
    which BM25 calls once per new raw token of an indexed document; queries never add to it).
    """

    kind = "multilingual"

    def __init__(self, languages: dict[str, str] | None = None) -> None:
        self.languages: dict[str, str] = {code: _check_name(name) for code, name in (languages or {}).items()}
        self._english = Analyzer()
        self._stemmed: dict[str, Analyzer] = {}
        self._cache: dict[str, str | None] = {}

    # -- which analyzer -----------------------------------------------------------------------------------------
    def analyzer_for(self, lang: str) -> str:
        """The analyzer name for language ``lang``: the one the index recorded, else the table's (when the table's
        segmenter is not installed: character bigrams for a script without spaces, else Unicode words, with a
        warning naming the package; the index then records that, so its queries are analyzed the same way)."""
        recorded = self.languages.get(lang)
        if recorded is not None:
            return recorded
        name = analyzer_name(lang)
        return name if _installed(name) else _substitute(lang, name)

    def language_of(self, text: str, lang: str | None = None) -> str:
        """A document's language: ``lang`` (or ``text.lang``) when given (an unreadable one is ignored), else
        detected."""
        lang = lang or getattr(text, "lang", None)
        if lang:
            try:
                return _normalize(lang)
            except ValueError:
                pass
        return detect_language(text)

    def query_language(self, text: str, lang: str | None = None) -> str:
        """A query's language: ``lang`` (or ``text.lang``) when given; else the index's only language; else the
        detected one among the index's languages (or among all when the index is empty)."""
        return self.query_languages(text, lang)[0]

    def query_languages(self, text: str, lang: str | None = None) -> list[str]:
        """The languages a query is analyzed in: ``lang`` (or ``text.lang``) when given; else the index's only
        language; else every language the index holds that is written in the query's script (all of them for a
        query without letters), or the detected language when the index holds none of that script.

        No detection decides among the index's own languages: a query of three words is too short to tell Spanish
        from Portuguese, and a wrong guess would stem it unlike the documents. Analyzed in each candidate language,
        the query's terms include the stems every document of those languages was indexed with.
        """
        lang = lang or getattr(text, "lang", None)
        if lang:
            return [_normalize(lang)]
        held = list(self.languages)
        if len(held) == 1:
            return held
        script = dominant_script(str(text)[:SAMPLE_CHARS])
        if script == "none":
            return held or ["en"]
        same = languages_of_script(script)
        chosen = [code for code in held if code in same]
        return chosen or [detect_language(text)]

    def text_terms(self, text: str) -> list[str]:
        """Terms of a stored text (a passage being explained), analyzed as a document: in its detected language
        (the only one, for a single-language index); records nothing."""
        held = list(self.languages)
        code = held[0] if len(held) == 1 else detect_language(text, held or None)
        return self.tokens(text, lang=code)

    # -- analysis -----------------------------------------------------------------------------------------------
    def raw_tokens(self, text: str, lang: str | None = None) -> list[str]:
        """Words of a document before stemming, each tagged with the language (English ones bare)."""
        return self._raw(str(text), self.language_of(text, lang))

    def _raw(self, text: str, lang: str) -> list[str]:
        name = self.analyzer_for(lang)
        if name == "english":
            return self._english.raw_tokens(text)
        words = segment("words" if name.startswith("snowball:") else name, text)
        return list(map((lang + SEP).__add__, words))

    def term(self, raw: str) -> str | None:
        """The index term of one raw token (None for an English stopword); records the token's language."""
        lang, sep, _ = raw.partition(SEP)
        code = lang if sep else "en"
        if code not in self.languages:
            self.languages[code] = self.analyzer_for(code)
        return self._term(raw)

    def _term(self, raw: str) -> str | None:
        lang, sep, word = raw.partition(SEP)
        if not sep:
            return self._english.term(raw)
        name = self.analyzer_for(lang)
        if not name.startswith("snowball:"):
            return word
        cache = self._cache
        hit = cache.get(raw, _MISS)
        if hit is _MISS:
            if len(cache) > _CACHE_MAX:
                cache.clear()
            an = self._stemmed.get(name)
            if an is None:
                an = self._stemmed[name] = Analyzer(stopwords=None, stemmer=name.partition(":")[2])
            hit = cache[raw] = an.term(word)
        return hit  # type: ignore[return-value]

    def tokens(self, text: str, lang: str | None = None) -> list[str]:
        """Terms of a query (or of any text analyzed as a query: snippets); never records a language.

        Documents were NFKC-normalized by ingest (``rag.clean``), so a query that is not analyzed as English is
        too (full-width letters, compatibility forms, Thai SARA AM); English queries are analyzed exactly as
        they always were.
        """
        codes = self.query_languages(text, lang)
        text = str(text)
        out: list[str] = []
        seen: set[str] = set()
        for i, code in enumerate(codes):
            analyzed = text
            if self.analyzer_for(code) != "english" and not text.isascii():
                analyzed = unicodedata.normalize("NFKC", text)
            terms = [t for t in (self._term(r) for r in self._raw(analyzed, code)) if t is not None]
            if i == 0:  # the first language's terms as they come (repeats count); others add their new terms once
                out, seen = terms, set(terms)
                continue
            for t in terms:
                if t not in seen:
                    seen.add(t)
                    out.append(t)
        return out

    # -- persistence --------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": 1, "detector": "py3langid",
                "languages": dict(sorted(self.languages.items()))}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MultilingualAnalyzer:
        if d.get("kind") != cls.kind:
            raise ValueError(f"not a multilingual analyzer's settings: {d!r}")
        if int(d.get("version", 1)) > 1:
            raise ValueError(
                f"this index's analyzer was written by a newer latte (analyzer version {d['version']}); upgrade latte"
            )
        return cls(d.get("languages") or {})


@cache
def _installed(name: str) -> bool:
    package = SEGMENTERS.get(name, (None, None))[1]
    return package is None or importlib.util.find_spec(package) is not None


@cache
def _substitute(lang: str, name: str) -> str:
    row = LANGUAGES.get(lang)
    fallback = "bigrams" if row is not None and row.script in SPACELESS else "words"
    log.warning("%s text: %s is not installed, so it is indexed as %s (pip install 'latte[multilingual]' for "
                "word segmentation; an index records which analyzer each language used)", lang,
                SEGMENTERS[name][1], fallback)
    return fallback


def analyzer_from_dict(d: dict[str, Any]) -> Analyzer | MultilingualAnalyzer:
    """The analyzer an index recorded: multilingual, or (indexes written before it) the English ``Analyzer``."""
    if d.get("kind") == MultilingualAnalyzer.kind:
        return MultilingualAnalyzer.from_dict(d)
    return Analyzer.from_dict(d)
