"""Pick a document's best passage for a query by lexical evidence (used when no passage-level retriever ran).

>>> from rag.records import Passage
>>> ps = [Passage("d", 0, 0, 9, "cats purr"), Passage("d", 1, 10, 25, "dogs bark loud")]
>>> best_passage_lexical(["dog", "bark"], ps, lambda t: t.lower().rstrip("s").split(), {"dog": 1.0, "bark": 2.0}).ordinal
1
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from rag.records import Passage


def best_passage_lexical(
    query_terms: Sequence[str],
    passages: Sequence[Passage],
    analyze: Callable[[str], list[str]],
    idf: Mapping[str, float],
    k1: float = 0.9,
) -> Passage | None:
    """The passage with the highest saturated idf-weighted term overlap (ties: the earlier passage)."""
    if not passages:
        return None
    q = set(query_terms)
    best, best_score = passages[0], -1.0
    for p in passages:
        counts: dict[str, int] = {}
        for t in analyze(p.text):
            if t in q:
                counts[t] = counts.get(t, 0) + 1
        score = sum(idf.get(t, 1.0) * c / (c + k1) for t, c in counts.items())
        if score > best_score:
            best, best_score = p, score
    return best
