"""Text analyzer for lexical indexes: lowercase, word tokens, English stopwords, Snowball stemming.

>>> Analyzer().tokens("The runners were running quickly!")
['runner', 'run', 'quick']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

# Lucene's EnglishAnalyzer stop set (what Anserini uses for its BEIR BM25 baselines) plus common function words.
ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then there these they
    this to was will with i me my we our you your he him his she her its them what which who whom those am were been
    being have has had having do does did doing would should could can from up down out off over under again further
    once here when where why how all any both each few more most other some own same so than too very s t just don now
    about above after before below between during through while until because against""".split()
)

_TOKEN = re.compile(r"\w+", re.UNICODE)


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

    def tokens(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        toks = _TOKEN.findall(text)
        if self.stopwords:
            sw = self.stopwords
            toks = [t for t in toks if t not in sw and len(t) >= self.min_token_len]
        elif self.min_token_len > 1:
            toks = [t for t in toks if len(t) >= self.min_token_len]
        if self.stemmer:
            toks = _stemmer(self.stemmer).stemWords(toks)
        return toks

    def tokens_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokens(t) for t in texts]

    def to_dict(self) -> dict:
        return {
            "lowercase": self.lowercase,
            "stopwords": "english" if self.stopwords == ENGLISH_STOPWORDS else sorted(self.stopwords or []),
            "stemmer": self.stemmer,
            "min_token_len": self.min_token_len,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Analyzer":
        sw = d.get("stopwords", "english")
        stop = ENGLISH_STOPWORDS if sw == "english" else (frozenset(sw) if sw else None)
        return cls(
            lowercase=d.get("lowercase", True),
            stopwords=stop,
            stemmer=d.get("stemmer", "english"),
            min_token_len=d.get("min_token_len", 1),
        )
