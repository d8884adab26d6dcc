"""Plain-text and Markdown files: one file, one ``Document``."""

from __future__ import annotations

import codecs
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

from rag.loaders.binary import binary_reason
from rag.loaders.options import LoadOptions
from rag.records import Document, LoadProblem

MARKDOWN_SUFFIXES = (".md", ".markdown")
TITLE_CHARS = 120

_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_FIRST_LINE = re.compile(r"\S.*")  # from the first non-space character to the end of its line
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_bytes(data: bytes, fallbacks: tuple[str, ...]) -> tuple[str, str, int | None]:
    """Decode a whole file: ``(text, encoding used, offset of the first non-UTF-8 byte or None)``.

    A UTF-8 BOM is dropped; a UTF-16 BOM selects UTF-16. Otherwise UTF-8, then each fallback in
    order; if all fail, UTF-8 with replacement characters.

    >>> decode_bytes(b"\\xef\\xbb\\xbfcaf\\xc3\\xa9", ("cp1252",))
    ('café', 'utf-8', None)
    >>> decode_bytes(b"caf\\xe9", ("cp1252", "latin-1"))
    ('café', 'cp1252', 3)
    """
    skipped = 0
    if data.startswith(codecs.BOM_UTF8):
        skipped = len(codecs.BOM_UTF8)
        data = data[skipped:]
    elif data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16"), "utf-16", None
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError as err:
        bad = err.start + skipped
    for encoding in fallbacks:
        try:
            return data.decode(encoding), encoding, bad
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), "utf-8 with replacement characters", bad


def normalize_newlines(text: str) -> str:
    r"""CRLF and lone CR become LF.

    >>> normalize_newlines("a\r\nb\rc\n")
    'a\nb\nc\n'
    """
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _first_line(text: str) -> str:
    found = _FIRST_LINE.search(text)
    return found.group(0).strip() if found else ""


def title_from_text(text: str, markdown: bool) -> str:
    """A short title: for Markdown the front-matter ``title:`` or first ``# heading``, else the first non-empty line.

    >>> title_from_text("\\n\\nSome intro\\n# Real title\\n", markdown=True)
    'Real title'
    >>> title_from_text("\\n\\nSome intro\\n# Not used\\n", markdown=False)
    'Some intro'
    >>> title_from_text("", markdown=False)
    ''
    """
    title = ""
    if markdown:
        if text.startswith("---\n"):
            end = text.find("\n---", 4)
            found = _FRONT_MATTER_TITLE.search(text, 4, end) if end > 0 else None
            title = found.group(1).strip("'\"") if found else ""
        if not title:
            found = _H1.search(text)
            title = found.group(1) if found else ""
    if not title:
        title = _first_line(text)
        title = title.lstrip("#").strip() if markdown else title
    return textwrap.shorten(title, width=TITLE_CHARS, placeholder=" …") if title else ""


def load_text(path: Path, doc_id: str, fallbacks: tuple[str, ...]) -> Iterator[Document | LoadProblem]:
    """Yield the file as one ``Document`` (id ``doc_id``, metadata ``path``), after a warning if it was not UTF-8.

    The whole file is one document, so it is read at once; newlines are normalised to LF.
    An empty file gives a ``Document`` with empty text (the cleaner decides to drop it).
    """
    source = str(path)
    data = path.read_bytes()
    text, encoding, bad = decode_bytes(data, fallbacks)
    reason = binary_reason(text)
    if reason is not None:  # dropped with its own rule, not indexed as latin-1 garbage
        yield LoadProblem(source, f"{reason}; not indexed (a binary file with a text name?)", rule="binary", doc_id=doc_id)
        return
    if bad is not None:
        yield LoadProblem(
            source,
            f"not valid UTF-8 (first bad byte at offset {bad}); decoded as {encoding}. "
            "Re-save the file as UTF-8 if the text looks wrong.",
            data.count(b"\n", 0, bad) + 1,
            "warning",
        )
    del data
    text = normalize_newlines(text)
    markdown = path.name.lower().endswith(MARKDOWN_SUFFIXES)
    yield Document(
        id=doc_id, text=text, title=title_from_text(text, markdown), metadata={"path": source}, source=source
    )


def load_text_file(path: Path, doc_id: str, options: LoadOptions) -> Iterator[Document | LoadProblem]:
    """The ``text`` entry of ``LOADERS``: ``load_text`` with the options' encoding fallbacks."""
    return load_text(path, doc_id, options.encoding_fallbacks)
