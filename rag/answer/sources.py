"""Choosing the sources of an answer from ranked hits: the best passages across the collection.

Hits come best first, at any unit (several passages of one document are welcome: they are the best ones).
Before numbering them:

- a hit without passage text is dropped (``no_passage``);
- a hit whose span lies inside a source already kept from the same document is a duplicate (``duplicate``):
  the same passage twice, or a passage inside a page already kept;
- neighbouring passages of one document (consecutive ordinals on the same page, or both without pages) are
  merged into one source at the better rank: the model reads one continuous text, and the citation keeps every
  passage ordinal it holds. At most ``max_merge`` passages make one source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rag.records import Hit, Passage


@dataclass(slots=True)
class MergedPassage(Passage):
    """A source made of neighbouring passages: ``ordinals`` lists them; ``ordinal`` is the first."""

    ordinals: tuple[int, ...] = ()


def passage_ordinals(p: Passage) -> list[int]:
    return list(getattr(p, "ordinals", ()) or (p.ordinal,))


def _join(a: Passage, b: Passage) -> MergedPassage:
    """``a`` and ``b`` (neighbours in one document) as one passage spanning both.

    >>> m = _join(Passage("d", 0, 0, 11, "alpha beta "), Passage("d", 1, 6, 16, "beta gamma"))
    >>> m.text, m.start, m.end, m.ordinals
    ('alpha beta gamma', 0, 16, (0, 1))
    """
    first, second = (a, b) if a.start <= b.start else (b, a)
    if second.start <= first.end:
        text = first.text + second.text[first.end - second.start :] if second.end > first.end else first.text
    else:
        text = first.text + "\n" + second.text
    ords = tuple(sorted(set(passage_ordinals(a)) | set(passage_ordinals(b))))
    return MergedPassage(first.doc_id, ords[0], first.start, max(first.end, second.end), text, first.page, ords)


def _neighbours(a: Passage, b: Passage) -> bool:
    oa, ob = passage_ordinals(a), passage_ordinals(b)
    return a.page == b.page and (min(ob) == max(oa) + 1 or min(oa) == max(ob) + 1)


def select_sources(hits: Sequence[Hit], *, max_merge: int = 3) -> tuple[list[Hit], list[dict[str, Any]]]:
    """The hits to number as sources, best first, neighbours merged and duplicates removed; and the drops
    (``{"doc_id", "rank", "reason"}``)."""
    kept: list[Hit] = []
    dropped: list[dict[str, Any]] = []
    for hit in hits:
        p = hit.passage
        if p is None or not p.text.strip():
            dropped.append({"doc_id": hit.doc_id, "rank": hit.rank, "reason": "no_passage"})
            continue
        same = [(i, k) for i, k in enumerate(kept) if k.doc_id == hit.doc_id]
        if any(k.passage.start <= p.start and p.end <= k.passage.end for _, k in same):  # type: ignore[union-attr]
            dropped.append({"doc_id": hit.doc_id, "rank": hit.rank, "reason": "duplicate"})
            continue
        near = next(
            (
                (i, k) for i, k in same
                if _neighbours(k.passage, p)  # type: ignore[arg-type]
                and len(passage_ordinals(k.passage)) + len(passage_ordinals(p)) <= max_merge  # type: ignore[arg-type]
            ),
            None,
        )
        if near is not None and hit.unit != "page":
            i, k = near
            kept[i] = replace(k, passage=_join(k.passage, p))  # type: ignore[arg-type]
            dropped.append({"doc_id": hit.doc_id, "rank": hit.rank, "reason": "merged", "into": k.rank})
            continue
        kept.append(hit)
    return kept, dropped
