"""Text analyzer for lexical indexes: lowercase, word tokens, English stopwords, Snowball stemming.

>>> Analyzer().tokens("The runners were running quickly!")
['runner', 'run', 'quick']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Lucene's EnglishAnalyzer stop set (what Anserini uses for its BEIR BM25 baselines) plus common function words.
ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with", "i", "me", "my", "we", "our", "you", "your", "he", "him", "his", "she", "her", "its", "them", "what", "which", "who", "whom", "those", "am", "were", "been", "being", "have", "has", "had", "having", "do", "does", "did", "doing", "would", "should", "could", "can", "from", "up", "down", "out", "off", "over", "under", "again", "further", "once", "here", "when", "where", "why", "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "own", "same", "so", "than", "too", "very", "s", "t", "just", "don", "now", "about", "above", "after", "before", "below", "between", "during", "through", "while", "until", "because", "against"]
)

_TOKEN = re.compile(r"\w+", re.UNICODE)
_MISS = object()
_CACHE_MAX = 4_000_000


@lru_cache(maxsize=8)
def _stemmer(language: str):
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer(language)


@dataclass(frozen=True)
class Analyzer:
    """Turns text into index terms; its settings are recorded in the index so queries use the same ones."""

    lowercase: bool = True
    stopwords: frozenset[str] | None = field(default=ENGLISH_STOPWORDS)
    stemmer: str | None = "english"  # any PyStemmer language, or None
    min_token_len: int = 1

    def __post_init__(self) -> None:
        # raw token -> term (None for a stopword); stemming each distinct word once makes analysis ~3x faster
        object.__setattr__(self, "_cache", {})

    def tokens(self, text: str, lang: str | None = None) -> list[str]:
        """Index terms of ``text`` (``lang`` is accepted for the multilingual analyzer's sake and ignored)."""
        if self.lowercase:
            text = text.lower()
        toks = _TOKEN.findall(text)
        cache: dict[str, str | None] = self._cache  # type: ignore[attr-defined]
        if len(cache) > _CACHE_MAX:
            cache.clear()
        get = cache.get
        terms: list[Any] = [get(t, _MISS) for t in toks]
        missing = {t for t, r in zip(toks, terms) if r is _MISS}
        if missing:
            self._fill(cache, missing)
            terms = [cache[t] for t in toks]
        return [t for t in terms if t is not None]

    def raw_tokens(self, text: str, lang: str | None = None) -> list[str]:
        """Word tokens before stopwords and stemming (lowercased when the analyzer lowercases); ``lang`` is
        ignored (this analyzer is English; ``indexers.analyzers.MultilingualAnalyzer`` reads it)."""
        return _TOKEN.findall(text.lower() if self.lowercase else text)

    def term(self, raw: str) -> str | None:
        """The index term of one raw token, or None for a stopword; ``tokens`` is ``term`` over ``raw_tokens``."""
        cache: dict[str, str | None] = self._cache  # type: ignore[attr-defined]
        if raw not in cache:
            self._fill(cache, {raw})
        return cache[raw]

    def _fill(self, cache: dict[str, str | None], words: set[str]) -> None:
        sw = self.stopwords or frozenset()
        keep = [w for w in words if w not in sw and len(w) >= self.min_token_len]
        stems = _stemmer(self.stemmer).stemWords(keep) if self.stemmer else keep
        for w in words:
            cache[w] = None
        cache.update(zip(keep, stems))

    def to_dict(self) -> dict:
        return {
            "lowercase": self.lowercase,
            "stopwords": "english" if self.stopwords == ENGLISH_STOPWORDS else sorted(self.stopwords or []),
            "stemmer": self.stemmer,
            "min_token_len": self.min_token_len,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Analyzer:
        sw = d.get("stopwords", "english")
        stop = ENGLISH_STOPWORDS if sw == "english" else (frozenset(sw) if sw else None)
        return cls(
            lowercase=d.get("lowercase", True),
            stopwords=stop,
            stemmer=d.get("stemmer", "english"),
            min_token_len=d.get("min_token_len", 1),
        )
