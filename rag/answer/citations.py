"""Citation markers in a model's answer: parse ``[1]``, ``[2, 3]``, ``[1][3]``, ``[1-3]``; drop those that point nowhere.

A *marker* is a bracket holding numbers separated by ``,`` or ``;``, each a single number or a range
``a-b`` (hyphen or en dash). A *reference* is one item of a marker: ``[2, 9]`` holds two references,
``[1-3]`` one. With ``n`` sources, a number is valid when ``1 <= k <= n``:

- a marker whose references are all valid is left exactly as written;
- an invalid number is dropped, and a range reaching outside ``1..n`` is clipped to it; each dropped or
  clipped reference counts once in ``removed``; the marker is rewritten from what remains (``[2, 9]`` ->
  ``[2]``, ``[2-7]`` -> ``[2-3]``);
- a marker left empty is removed with the space before it (``"claim [9]."`` -> ``"claim."``).

Brackets followed by ``(`` (Markdown links) and brackets holding anything but numbers are not markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer.records import Citation

MARKER_RE = re.compile(r"\[(\s*\d+(?:\s*[-\u2013]\s*\d+)?\s*(?:[,;]\s*\d+(?:\s*[-\u2013]\s*\d+)?\s*)*)\](?!\()")
_ITEM_RE = re.compile(r"(\d+)(?:\s*[-\u2013]\s*(\d+))?")


@dataclass(slots=True)
class CitedText:
    """Result of checking the markers of one text against ``n`` sources.

    ``numbers``: valid source numbers in order of first citation, each once (ranges expanded).
    ``removed``: references dropped or clipped.
    """

    text: str
    numbers: list[int]
    removed: int


def _check_marker(body: str, n_sources: int) -> tuple[list[tuple[int, int]], int]:
    """Valid ``(first, last)`` spans of one marker's body and how many references were dropped or clipped.

    >>> _check_marker("2, 9", 3)
    ([(2, 2)], 1)
    >>> _check_marker("2-7", 3)
    ([(2, 3)], 1)
    >>> _check_marker("1; 3", 3)
    ([(1, 1), (3, 3)], 0)
    """
    spans: list[tuple[int, int]] = []
    removed = 0
    for item in re.split(r"[,;]", body):
        m = _ITEM_RE.fullmatch(item.strip())
        if m is None:  # cannot happen for bodies matched by MARKER_RE
            raise ValueError(f"not a citation reference: {item!r}")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        lo, hi = max(first, 1), min(last, n_sources)
        if lo > hi:
            removed += 1
            continue
        if (lo, hi) != (first, last):
            removed += 1
        spans.append((lo, hi))
    return spans, removed


def _render(spans: list[tuple[int, int]]) -> str:
    return "[" + ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans) + "]"


def check_citations(text: str, n_sources: int) -> CitedText:
    """Check every citation marker of ``text`` against sources ``1..n_sources``.

    >>> check_citations("Water boils [1][3]. Fish swim [2, 9]. Cats [7].", 3)
    CitedText(text='Water boils [1][3]. Fish swim [2]. Cats.', numbers=[1, 3, 2], removed=2)
    >>> check_citations("See [2-3] and [1].", 3).numbers
    [2, 3, 1]
    >>> check_citations("[4] Start. Link [1](http://x).", 3)
    CitedText(text='Start. Link [1](http://x).', numbers=[], removed=1)
    """
    if n_sources < 0:
        raise ValueError(f"n_sources must be >= 0, got {n_sources}")
    out: list[str] = []
    numbers: list[int] = []
    seen: set[int] = set()
    removed = 0
    pos = 0
    skip_space = False
    for m in MARKER_RE.finditer(text):
        chunk = text[pos : m.start()]
        if skip_space:
            chunk = chunk.lstrip(" \t")
        out.append(chunk)
        skip_space = False
        spans, dropped = _check_marker(m.group(1), n_sources)
        removed += dropped
        for a, b in spans:
            for k in range(a, b + 1):
                if k not in seen:
                    seen.add(k)
                    numbers.append(k)
        if not dropped:
            out.append(m.group(0))
        elif spans:
            out.append(_render(spans))
        else:
            before = "".join(out)
            stripped = before.rstrip(" \t")
            out = [stripped]
            # a marker at the start of a line takes the space after it with it
            skip_space = not stripped or stripped.endswith("\n")
        pos = m.end()
    tail = text[pos:]
    out.append(tail.lstrip(" \t") if skip_space else tail)
    return CitedText(text="".join(out), numbers=numbers, removed=removed)


def map_citations(numbers: list[int], sources: list[Citation]) -> list[Citation]:
    """The sources behind ``numbers`` (1-based, as printed in the prompt), in the given order.

    Raises ValueError for a number with no source: run ``check_citations`` first.
    """
    by_number = {s.number: s for s in sources}
    missing = [k for k in numbers if k not in by_number]
    if missing:
        raise ValueError(f"citation numbers {missing} have no source; check_citations() removes such markers")
    return [by_number[k] for k in numbers]
