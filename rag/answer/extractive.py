"""Extractive answer, used when no generator is configured: quote the sentences that share most words with the question.

Scoring is plain lexical overlap: lower-cased word tokens, English stopwords removed, Snowball-stemmed
(PyStemmer), counted once per distinct stem; ties go to the better-ranked source, then to the earlier
sentence. Each quoted sentence carries its source's citation marker. A question written in another script
(Chinese, Japanese, Korean, Thai, Cyrillic, Arabic, Devanagari...) is analyzed, with every sentence, by its
language's analyzer (``indexers.analyzers``: segmented words, that language's stemmer). Sentences come from
``rag.sentences`` (multilingual, abbreviation-aware, at most 400 characters).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.sentences import split_sentences

__all__ = ["NO_GENERATOR_NOTE", "Quote", "content_terms", "pick_sentences", "render_extractive", "split_sentences"]

NO_GENERATOR_NOTE = (
    "No answer generator is configured, so here are the most relevant sentences from the sources, quoted as written:"
)

# A compact English stopword list (function words only): enough for overlap scoring.
STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"]
)

_WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(slots=True)
class Quote:
    """One sentence picked for the answer: its source number, the sentence, its overlap score."""

    number: int
    sentence: str
    score: int


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer
    except ImportError as exc:  # pragma: no cover - PyStemmer is a core dependency
        raise ImportError('extractive answers need PyStemmer: pip install "PyStemmer>=2.2"') from exc
    return Stemmer.Stemmer("english")


def content_terms(text: str, lang: str | None = None) -> set[str]:
    """Distinct stemmed, lower-cased words of ``text`` that are not stopwords; with ``lang`` (a language other
    than English), that language's terms instead.

    >>> sorted(content_terms("Which proteins bind the receptors?"))
    ['bind', 'protein', 'receptor']
    >>> sorted(content_terms("北京是中国的首都", lang="zh"))
    ['中国', '京是', '北京', '国的', '是', '是中', '的', '的首', '首都']
    """
    if lang is not None and lang != "en":
        return set(_multilingual().tokens(text, lang=lang))
    words = [w for w in _WORD_RE.findall(text.lower()) if w not in STOPWORDS]
    return set(_stemmer().stemWords(words))


@lru_cache(maxsize=1)
def _multilingual():
    from indexers.analyzers import MultilingualAnalyzer

    return MultilingualAnalyzer()


def question_language(question: str) -> str | None:
    """The language to analyze a question and its sentences in: None (the English analysis, as always) for Latin
    script or no letters, else the detected language of the question's script."""
    from indexers.analyzers import detect_language
    from indexers.analyzers.scripts import dominant_script

    if dominant_script(question) in ("latin", "none"):
        return None
    return detect_language(question)


def pick_sentences(question: str, passages: Sequence[str], k: int = 3) -> list[Quote]:
    """The ``k`` sentences with the largest overlap with ``question``; ``passages[i]`` is source ``i + 1``.

    Sentences with no overlap are never picked; when none overlaps, the first sentence of the first
    passage is returned (retrieval ranked it first). Returned in source order, then sentence order.

    >>> [(q.number, q.sentence) for q in pick_sentences("what binds the receptor?",
    ...     ["Cells grow. The protein binds the receptor.", "A receptor is a protein."], k=2)]
    [(1, 'The protein binds the receptor.'), (2, 'A receptor is a protein.')]
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    lang = question_language(question)
    q_terms = content_terms(question, lang)
    scored: list[tuple[int, int, int, str]] = []  # (-score, source index, sentence index, sentence)
    for i, passage in enumerate(passages):
        for j, sentence in enumerate(split_sentences(passage)):
            score = len(q_terms & content_terms(sentence, lang))
            if score > 0:
                scored.append((-score, i, j, sentence))
    if not scored:
        for i, passage in enumerate(passages):
            sentences = split_sentences(passage)
            if sentences:
                return [Quote(number=i + 1, sentence=sentences[0], score=0)]
        return []
    best = sorted(scored)[:k]
    best.sort(key=lambda t: (t[1], t[2]))
    return [Quote(number=i + 1, sentence=s, score=-neg) for neg, i, _, s in best]


def render_extractive(quotes: Sequence[Quote], note: str = NO_GENERATOR_NOTE) -> str:
    """The note, then one quoted sentence per line, each followed by its citation marker.

    >>> print(render_extractive([Quote(2, "It binds.", 1)], note="Note:"))
    Note:
    - "It binds." [2]
    """
    lines = [note] + [f'- "{q.sentence}" [{q.number}]' for q in quotes]
    return "\n".join(lines)
