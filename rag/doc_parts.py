"""Documents longer than the configured maximum, split into parts of at most ``max_chars`` characters.

Everything an ingest holds for one document (its text, cleaning copies, word lists, passages, encoded tensors)
grows with the document, so a 50 MB single-line file would need gigabytes. Splitting it into parts bounds that by
a setting (``IngestSettings.max_doc_chars``). Each part is a document of its own: id ``<id>#part-<n>`` (from 1),
the original title, metadata plus ``part_of`` (the original id) and ``part``; a PDF's page spans are cut to the
part and shifted to its text. Cuts fall on the last paragraph, line, sentence or word break in the final tenth of
a part (at least its last 100 characters), else exactly at ``max_chars``.

>>> from rag.records import Document
>>> parts = split_document(Document("big.txt", "aaaa bbbb. cccc dddd eeee", "T"), 12)
>>> [(p.id, p.text, p.metadata["part"]) for p in parts]
[('big.txt#part-1', 'aaaa bbbb. ', 1), ('big.txt#part-2', 'cccc dddd ', 2), ('big.txt#part-3', 'eeee', 3)]
"""

from __future__ import annotations

from rag.records import Document, PageSpan

#: where a part may end, best first (each cut keeps the separator in the part before it)
BREAKS = ("\n\n", "\n", ". ", " ")


def part_id(doc_id: str, n: int) -> str:
    return f"{doc_id}#part-{n}"


def cut_points(text: str, max_chars: int) -> list[int]:
    """Ends of consecutive parts of ``text`` (the last is ``len(text)``), each part at most ``max_chars`` long.

    >>> cut_points("ab cd ef gh", 5), cut_points("abcdefgh", 3), cut_points("", 3)
    ([3, 6, 11], [3, 6, 8], [0])
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    ends: list[int] = []
    start, n = 0, len(text)
    while n - start > max_chars:
        limit = start + max_chars
        window = max(max_chars // 10, min(100, max_chars // 2))  # look for a break near the end only
        floor = start + max(1, max_chars - window)
        end = limit
        for sep in BREAKS:
            at = text.rfind(sep, floor - len(sep), limit - len(sep) + 1)
            if at >= 0:
                end = at + len(sep)
                break
        ends.append(end)
        start = end
    ends.append(n)
    return ends


def split_document(doc: Document, max_chars: int) -> list[Document]:
    """``[doc]`` when it is at most ``max_chars`` long, else its parts (see the module)."""
    if len(doc.text) <= max_chars:
        return [doc]
    parts = []
    start = 0
    for n, end in enumerate(cut_points(doc.text, max_chars), 1):
        pages = None
        if doc.pages is not None:
            pages = [
                PageSpan(p.page, max(p.start, start) - start, min(p.end, end) - start)
                for p in doc.pages
                if p.end > start and p.start < end
            ]
        meta = {**doc.metadata, "part_of": doc.id, "part": n}
        parts.append(Document(part_id(doc.id, n), doc.text[start:end], doc.title, meta, doc.source, pages))
        start = end
    return parts
