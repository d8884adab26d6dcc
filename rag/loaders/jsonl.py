"""JSON lines (BEIR ``corpus.jsonl``, MLDR ``corpus.jsonl.gz``, any ``.jsonl``), read one line at a time."""

from __future__ import annotations

import codecs
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rag.loaders.fields import FieldSpec, record_to_document
from rag.loaders.options import LoadOptions
from rag.records import Document, LoadProblem

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 1 << 20
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def open_binary(path: Path) -> gzip.GzipFile | BinaryIO:
    """Open ``path`` for reading bytes, through gzip when its first bytes are the gzip magic number."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def decode_line(raw: bytes) -> tuple[str, str | None]:
    """Decode one line as UTF-8; invalid bytes become U+FFFD and the second item says where.

    >>> decode_line(b'{"a": 1}')
    ('{"a": 1}', None)
    >>> decode_line(b'ab\\xff')
    ('ab\\ufffd', 'invalid UTF-8 byte 0xff at byte 3')
    """
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        where = f"invalid UTF-8 byte 0x{raw[err.start]:02x} at byte {err.start + 1}"
        return raw.decode("utf-8", errors="replace"), where


def _type_name(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def iter_jsonl(path: Path, spec: FieldSpec) -> Iterator[Document | LoadProblem]:
    """Yield one ``Document`` per JSON object line of ``path`` (plain or gzip), ``LoadProblem`` for the rest.

    Blank lines are skipped; a UTF-8 BOM and CRLF endings are accepted; a line that is not JSON,
    not an object, or lacks an id or text is reported with its 1-based line number and the file
    goes on. Invalid UTF-8 is replaced (warning). A truncated or corrupt gzip stream ends the file
    with one problem after the lines read so far.
    """
    source = str(path)
    line_no = 0
    try:
        with open_binary(path) as stream:
            for line_no, raw in enumerate(stream, start=1):
                if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                if not raw or raw.isspace():
                    continue
                text, bad_bytes = decode_line(raw)
                if bad_bytes:
                    yield LoadProblem(
                        source, f"{bad_bytes}; decoded with replacement characters (U+FFFD)", line_no, "warning"
                    )
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as err:
                    yield LoadProblem(source, f"invalid JSON ({err.msg} at column {err.colno}); line skipped", line_no)
                    continue
                if not isinstance(record, dict):
                    yield LoadProblem(
                        source, f"expected a JSON object, got {_type_name(record)}; line skipped", line_no
                    )
                    continue
                yield record_to_document(record, spec, source, line_no)
    except _GZIP_ERRORS as err:
        yield LoadProblem(
            source,
            f"gzip stream is truncated or corrupt after line {line_no} ({err}); the lines before were loaded. "
            "Download or compress the file again.",
            line_no + 1,
        )


def load_beir(path: Path, doc_id: str, options: LoadOptions) -> Iterator[Document | LoadProblem]:
    """A BEIR ``corpus.jsonl``: ids in ``_id`` (the ``beir`` entry of ``LOADERS``)."""
    return iter_jsonl(path, FieldSpec.for_format("beir", options))


def load_mldr(path: Path, doc_id: str, options: LoadOptions) -> Iterator[Document | LoadProblem]:
    """An MLDR ``corpus.jsonl.gz``: ids in ``docid`` (the ``mldr`` entry of ``LOADERS``)."""
    return iter_jsonl(path, FieldSpec.for_format("mldr", options))


def load_jsonl(path: Path, doc_id: str, options: LoadOptions) -> Iterator[Document | LoadProblem]:
    """Any JSON lines file, fields from ``options`` or the usual names (the ``jsonl`` entry of ``LOADERS``)."""
    return iter_jsonl(path, FieldSpec.for_format("jsonl", options))


def sniff_jsonl(path: Path) -> str:
    """``beir`` if the first record has ``_id``, ``mldr`` if it has ``docid``, else ``jsonl``.

    Reads at most the first MiB; anything unreadable is left to the loader to report (``jsonl``).
    """
    try:
        with open_binary(path) as stream:
            line = b""
            while not line.strip():
                line = stream.readline(SNIFF_BYTES)
                if not line:
                    return "jsonl"
        first = json.loads(line.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="replace"))
    except (OSError, ValueError, *_GZIP_ERRORS):
        return "jsonl"
    if isinstance(first, dict) and "_id" in first:
        return "beir"
    if isinstance(first, dict) and "docid" in first:
        return "mldr"
    return "jsonl"
