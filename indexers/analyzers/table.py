"""The one table of languages: for each, its script and the analyzer (by name) that turns its text into terms.

Analyzer names:

- ``english``: latte's original analyzer (``indexers.analyzer.Analyzer``: ``\\w+`` words, Lucene's English
  stopwords, Snowball English), unchanged, so English indexes and figures stay as they were;
- ``snowball:<algorithm>``: ``\\w+`` words, lowercased, stemmed by that PyStemmer (Snowball) algorithm;
- a segmenter of ``indexers.analyzers.segmenters`` (``jieba``, ``sudachi``, ``kiwi``, ``thai``, ``words``,
  ``bigrams``): its words are the terms.

An index records, per language it holds, the analyzer name it used (``MultilingualAnalyzer.to_dict``), and
queries in that language are analyzed by the recorded name, whatever this table says later.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LANGUAGES", "Language", "analyzer_name", "fallback_language", "languages_of_script", "normalize_language"]


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # ISO 639-1, as py3langid reports it
    name: str
    script: str  # a key of indexers.analyzers.scripts.SCRIPTS
    analyzer: str


def _snowball(code: str, name: str, script: str = "latin") -> Language:
    return Language(code, name, script, f"snowball:{name}")


LANGUAGES: dict[str, Language] = {
    row.code: row
    for row in (
        Language("en", "english", "latin", "english"),
        *(_snowball(c, n) for c, n in (
            ("de", "german"), ("fr", "french"), ("es", "spanish"), ("it", "italian"), ("pt", "portuguese"),
            ("nl", "dutch"), ("sv", "swedish"), ("da", "danish"), ("no", "norwegian"), ("fi", "finnish"),
            ("hu", "hungarian"), ("ro", "romanian"), ("tr", "turkish"), ("ca", "catalan"), ("eu", "basque"),
            ("ga", "irish"), ("id", "indonesian"), ("lt", "lithuanian"), ("et", "estonian"), ("cs", "czech"),
            ("pl", "polish"), ("eo", "esperanto"),
        )),
        _snowball("ru", "russian", "cyrillic"),
        _snowball("sr", "serbian", "cyrillic"),
        Language("uk", "ukrainian", "cyrillic", "words"),
        Language("bg", "bulgarian", "cyrillic", "words"),
        _snowball("ar", "arabic", "arabic"),
        _snowball("fa", "persian", "arabic"),
        _snowball("hi", "hindi", "devanagari"),
        _snowball("ne", "nepali", "devanagari"),
        _snowball("el", "greek", "greek"),
        _snowball("hy", "armenian", "armenian"),
        _snowball("ta", "tamil", "tamil"),
        Language("he", "hebrew", "hebrew", "words"),
        Language("zh", "chinese", "han", "jieba_bigrams"),
        Language("ja", "japanese", "kana", "sudachi"),
        Language("ko", "korean", "hangul", "kiwi"),
        Language("th", "thai", "thai", "thai"),
        Language("lo", "lao", "lao", "bigrams"),
        Language("km", "khmer", "khmer", "bigrams"),
        Language("my", "burmese", "myanmar", "bigrams"),
    )
}

#: the language assumed for text of a script when detection is unsure (or for a script no language claims)
_SCRIPT_DEFAULT = {"latin": "en", "cyrillic": "ru", "arabic": "ar", "devanagari": "hi", "greek": "el",
                   "han": "zh", "kana": "ja", "hangul": "ko", "thai": "th", "lao": "lo", "khmer": "km",
                   "myanmar": "my", "armenian": "hy", "tamil": "ta", "hebrew": "he"}


def fallback_language(script: str) -> str:
    """The language assumed for ``script`` when nothing better is known ("en" for Latin and for no letters).

    >>> fallback_language("cyrillic"), fallback_language("none"), fallback_language("georgian")
    ('ru', 'en', 'und')
    """
    if script == "none":
        return "en"
    return _SCRIPT_DEFAULT.get(script, "und")


def languages_of_script(script: str) -> list[str]:
    """Codes of the table's languages written in ``script`` (Han text may be Japanese too).

    >>> languages_of_script("han"), languages_of_script("devanagari")
    (['zh', 'ja'], ['hi', 'ne'])
    """
    out = [row.code for row in LANGUAGES.values() if row.script == script]
    if script == "han":
        out.append("ja")
    return out


def analyzer_name(code: str) -> str:
    """The analyzer the table gives language ``code``; a language it does not list gets Unicode words.

    >>> analyzer_name("ru"), analyzer_name("zh"), analyzer_name("und")
    ('snowball:russian', 'jieba_bigrams', 'words')
    """
    row = LANGUAGES.get(code)
    return row.analyzer if row is not None else "words"


def normalize_language(lang: str) -> str:
    """An ISO 639-1 code from a code, a tag or an English name of the table.

    >>> normalize_language("zh-Hans"), normalize_language("Russian"), normalize_language(" PT_br ")
    ('zh', 'ru', 'pt')
    """
    text = str(lang).strip().lower()
    by_name = {row.name: row.code for row in LANGUAGES.values()}
    if text in by_name:
        return by_name[text]
    code = text.replace("_", "-").split("-")[0]
    if len(code) != 2 or not code.isalpha():
        raise ValueError(
            f"language {lang!r} is not an ISO 639-1 code or a language name; known: {', '.join(sorted(LANGUAGES))} "
            "(other two-letter codes get Unicode-word analysis)"
        )
    return code
