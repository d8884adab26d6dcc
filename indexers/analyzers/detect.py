"""Language of a text: its script first (Han, kana, Hangul, Thai... decide alone), then py3langid among the
languages of that script, with the script's usual language when py3langid is unsure.

py3langid (a maintained fork of langid.py, with its model shipped inside the wheel) was measured against
lingua-language-detector on short queries (README, "Languages"): more accurate on 2-8 word queries when
restricted to candidate languages, and 2-3x faster. Only the first ``SAMPLE_CHARS`` characters are read
(a document's language rarely changes after its first sentences; detection costs about 0.17 ms then).

>>> detect_language("東京都に住んでいる学生"), detect_language("서울의 학생"), detect_language("中文句子")
('ja', 'ko', 'zh')
>>> detect_language("Der schnelle braune Fuchs springt über den faulen Hund")
'de'
>>> detect_language("Der Hund", candidates=["en", "fr"]) in ("en", "fr")
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from indexers.analyzers.scripts import dominant_script
from indexers.analyzers.table import fallback_language, languages_of_script

__all__ = ["MIN_CONFIDENCE", "SAMPLE_CHARS", "detect_language", "likely_languages"]

SAMPLE_CHARS = 500
#: below this normalized probability py3langid's answer is not trusted; the script's usual language is used
MIN_CONFIDENCE = 0.5
#: scripts whose language follows from the script alone
_SCRIPT_DECIDES = {"kana": "ja", "hangul": "ko", "thai": "th", "lao": "lo", "khmer": "km", "myanmar": "my"}


@lru_cache(maxsize=1)
def _model() -> tuple:
    """py3langid's model arrays, read once per process (about 0.5 s: the file is xz-compressed)."""
    try:
        from py3langid.langid import MODEL_DIR, MODEL_FILE, _load_model_file
    except ImportError as exc:
        raise ImportError("language detection needs py3langid: pip install py3langid") from exc
    return tuple(_load_model_file(MODEL_DIR / MODEL_FILE))


@lru_cache(maxsize=1)
def _model_labels() -> frozenset[str]:
    return frozenset(_model()[2])


@lru_cache(maxsize=32)
def _identifier(candidates: tuple[str, ...]):
    """A py3langid identifier restricted to ``candidates`` (all of its languages for ``()``), on the shared model."""
    from py3langid.langid import LanguageIdentifier

    ptc, pc, classes, nextmove, row, output = _model()
    ident = LanguageIdentifier(np.asarray(ptc), np.asarray(pc), classes, nextmove, output, norm_probs=True,
                               tk_row=row)
    if candidates:
        ident.set_languages(list(candidates))
    return ident


def detect_language(text: str, candidates: Iterable[str] | None = None) -> str:
    """ISO 639-1 code of ``text``'s language (``"und"`` for a script no language of the table claims).

    ``candidates`` restricts the answer to those languages where the script allows (a query is matched against
    the languages its index holds); text of a script none of them writes is detected as if unrestricted.
    """
    return likely_languages(text, candidates, 1)[0]


#: function words frequent in English and rare in the other languages written in Latin script (no "is", "was",
#: "in", "a": Dutch, German, Italian, Spanish have them too)
_ENGLISH_MARKERS = frozenset(["the", "of", "and", "to", "that", "with", "for", "this", "by", "from", "which", "were", "have", "has", "been", "are", "its", "their", "these", "there", "would", "should", "could"])
_ASCII_WORD = re.compile(r"[a-z]+")


def looks_english(sample: str) -> bool:
    """A fast path for English text before py3langid (whose byte-by-byte scan costs about 0.4 ms a document):
    at least 12 words, 12% of them English function words (or 5%, three different ones). On SciFact
    it decides 5,182 of 5,183 abstracts (title and first 500 characters); no German, French, Spanish, Italian,
    Portuguese, Dutch or Danish sample text passes it (tests/indexers/test_analyzers.py).

    >>> looks_english("The effect of vitamin D on the bones of older adults was measured in this trial.")
    True
    >>> looks_english("Der Effekt von Vitamin D auf die Knochen älterer Menschen wurde gemessen und bewertet.")
    False
    """
    words = _ASCII_WORD.findall(sample.lower())
    if len(words) < 12:
        return False
    markers = sum(map(_ENGLISH_MARKERS.__contains__, words))
    if markers >= 0.12 * len(words):
        return True
    # scientific English is dense with terms (down to 5% function words): then three different ones of them,
    # which no other language of the table writes as words (Danish and Norwegian have "for", no more)
    return markers >= 0.05 * len(words) and len({w for w in words if w in _ENGLISH_MARKERS}) >= 3


def likely_languages(text: str, candidates: Iterable[str] | None = None, most: int = 3) -> list[str]:
    """``detect_language``'s answer first; when py3langid is unsure of it (probability below ``MIN_CONFIDENCE``),
    up to ``most`` languages, most likely first (a query of three words may be Spanish or Portuguese alike).

    >>> likely_languages("Der schnelle braune Fuchs springt über den faulen Hund")
    ['de']
    """
    sample = text[:SAMPLE_CHARS]
    script = dominant_script(sample)
    wanted = [c for c in languages_of_script(script)] if script != "none" else []
    if candidates is not None:
        chosen = [c for c in dict.fromkeys(candidates) if c in wanted or script == "none"]
        if len(chosen) == 1:
            return chosen
        if chosen:
            wanted = chosen
    if len(wanted) == 1 and candidates is not None:
        return wanted
    if script in _SCRIPT_DECIDES:
        return [_SCRIPT_DECIDES[script]]
    if script == "han":
        return ["zh" if "zh" in wanted or not wanted else wanted[0]]
    if script == "latin" and "en" in wanted and looks_english(sample):
        return ["en"]
    usable = tuple(sorted(c for c in wanted if c in _model_labels()))
    if len(usable) < 2:
        return [usable[0] if usable else fallback_language(script)]
    ranked = _identifier(usable).rank(sample)
    lang, prob = ranked[0]
    if prob >= MIN_CONFIDENCE:
        return [lang]
    if most == 1:  # unsure: the script's usual language when it is a candidate (English for Latin script)
        return [fallback_language(script) if fallback_language(script) in usable else lang]
    return [code for code, _ in ranked[:most]]
