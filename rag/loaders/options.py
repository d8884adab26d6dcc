"""What a caller can tell the loaders, and the formats they know: ``LOADERS``, one ``LoaderEntry`` per format.

Adding a file format is a module with a ``load(path, doc_id, options)`` function yielding ``Document`` and
``LoadProblem`` records, plus one ``LoaderEntry`` (here, or at run time through ``register_loader``). ``FORMATS``,
``SUPPORTED_HELP``, detection by file name (``rag/loaders/detect.py``), the dispatch of ``iter_documents``
(``rag/loaders/dispatch.py``), the CLI's ``--format`` and the API's upload types all read this table.
"""

from __future__ import annotations

import codecs
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from core.errors import UserError
from rag.records import Document, LoadProblem

LoadFn = Callable[[Path, str, "LoadOptions"], Iterator[Document | LoadProblem]]
"""A format's loader: ``(path, doc_id, options)`` to records; ``doc_id`` is the id a one-document file takes."""
SniffFn = Callable[[Path], str]
"""Reads the start of a file its name matched and returns the format to load it with."""


def _resolve(ref: str | Callable) -> Callable:
    """A function, or ``"module:function"`` imported on first use (the loader modules import ``LoadOptions``, so
    this table names them instead of importing them; heavy dependencies stay unimported until a file needs them)."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return cast(Callable, getattr(importlib.import_module(module), name))


@dataclass(frozen=True)
class LoaderEntry:
    """One file format.

    - ``name``: the value of ``LoadOptions.fmt`` (and ``--format``) that forces it;
    - ``load``: its ``LoadFn``, or ``"module:function"`` naming it;
    - ``suffixes``: lower-case file-name endings (``.jsonl.gz`` too) that pick it when ``fmt`` is ``auto``;
    - ``label``: how ``SUPPORTED_HELP`` names it, before its suffixes (empty: not listed, e.g. a format reached
      only by sniffing or forcing);
    - ``sniff``: for a file its name matched, reads the content and returns the format to use (a ``.jsonl`` file
      whose first record has ``_id`` is ``beir``), as a ``SniffFn`` or ``"module:function"``;
    - ``dataset``: forced on a folder, it reads the folder's ``corpus.jsonl[.gz]`` (BEIR, MLDR dataset folders);
    - ``upload_suffixes``: the suffixes the API's file upload accepts for it (none: not uploadable).
    """

    name: str
    load: LoadFn | str
    suffixes: tuple[str, ...] = ()
    label: str = ""
    sniff: SniffFn | str | None = None
    dataset: bool = False
    upload_suffixes: tuple[str, ...] = ()

    def loader(self) -> LoadFn:
        """The load function (imported on first use)."""
        return cast(LoadFn, _resolve(self.load))

    def sniffed(self, path: Path) -> str:
        """The format for ``path``, a file whose name matched this entry: the sniffer's answer, else this one."""
        return self.name if self.sniff is None else cast(SniffFn, _resolve(self.sniff))(path)

    def help(self) -> str:
        """This format in ``SUPPORTED_HELP``: its label and suffixes (empty when it has no label)."""
        if not self.label:
            return ""
        return f"{self.label} ({', '.join(self.suffixes)})" if self.suffixes else self.label


LOADERS: dict[str, LoaderEntry] = {
    entry.name: entry
    for entry in (
        LoaderEntry("beir", "rag.loaders.jsonl:load_beir", dataset=True),
        LoaderEntry("mldr", "rag.loaders.jsonl:load_mldr", dataset=True),
        LoaderEntry(
            "jsonl",
            "rag.loaders.jsonl:load_jsonl",
            suffixes=(".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json.gz"),
            label="BEIR/MLDR corpus or JSON lines",
            sniff="rag.loaders.jsonl:sniff_jsonl",
            upload_suffixes=(".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"),
        ),
        LoaderEntry("parquet", "rag.loaders.parquet:load_parquet", suffixes=(".parquet", ".pq"), label="Parquet"),
        LoaderEntry(
            "text",
            "rag.loaders.text:load_text_file",
            suffixes=(".txt", ".text", ".md", ".markdown"),
            label="plain text and Markdown",
            upload_suffixes=(".txt", ".text", ".md", ".markdown"),
        ),
        LoaderEntry("pdf", "rag.loaders.pdf:load_pdf_file", suffixes=(".pdf",), label="PDF", upload_suffixes=(".pdf",)),
    )
}
"""Every format, in the order ``FORMATS`` lists them and file names are matched (the first entry whose suffix a
name ends with wins)."""

RESERVED_NAMES = ("auto", "folder")


def register_loader(entry: LoaderEntry, *, replace: bool = False) -> None:
    """Add ``entry`` to ``LOADERS`` (after the others); ``replace`` allows overriding a format of the same name."""
    if entry.name in RESERVED_NAMES or not entry.name:
        raise ValueError(f"{entry.name!r} cannot name a format (reserved: {', '.join(RESERVED_NAMES)})")
    if entry.name in LOADERS and not replace:
        raise ValueError(f"format {entry.name!r} is already registered; pass replace=True to override it")
    LOADERS[entry.name] = entry


def formats() -> tuple[str, ...]:
    """Values accepted by ``LoadOptions.fmt``: ``auto`` and every format in ``LOADERS`` now."""
    return ("auto", *LOADERS)


def supported_help() -> str:
    """What ``auto`` recognises, for messages about an unsupported file."""
    return f"{', '.join(h for h in (e.help() for e in LOADERS.values()) if h)}, or a folder of such files"


def upload_suffixes() -> tuple[str, ...]:
    """The file suffixes the API's upload accepts, format by format."""
    return tuple(s for entry in LOADERS.values() for s in entry.upload_suffixes)


FORMATS = formats()
"""Values accepted by ``LoadOptions.fmt`` for the built-in formats (``formats()`` includes registered ones)."""

SUPPORTED_HELP = supported_help()
"""``supported_help()`` for the built-in formats."""


class UnsupportedFormat(UserError, ValueError):
    """A file whose type no loader handles; the message lists what is supported."""


@dataclass
class LoadOptions:
    """How ``iter_documents`` reads its inputs.

    - ``fmt``: ``auto`` picks a loader per file from its name (and, for JSON lines, from the first
      record); any other value forces that loader for every file given or found in a folder
      (``beir``/``mldr`` given a folder read its ``corpus.jsonl`` or ``corpus.jsonl.gz``).
    - ``id_field`` / ``text_field`` / ``title_field``: JSONL keys or Parquet columns. ``None`` means
      auto: id ``_id`` (beir), ``docid`` (mldr), else the first of ``_id``, ``docid``, ``id``; text
      ``text`` (generic JSONL/Parquet also accept ``contents``, ``body``); title ``title`` when present.
    - ``metadata_fields``: fields copied to ``Document.metadata``; ``None`` copies every other
      scalar field (and the scalar entries of a nested BEIR ``metadata`` object).
    - ``pdf_password``: tried on every PDF of the batch.
    - ``encoding_fallbacks``: tried in order when a text file is not UTF-8.
    """

    fmt: str = "auto"
    id_field: str | None = None
    text_field: str | None = None
    title_field: str | None = None
    metadata_fields: list[str] | None = None
    pdf_password: str | None = None
    encoding_fallbacks: tuple[str, ...] = ("cp1252", "latin-1")

    def __post_init__(self) -> None:
        if self.fmt not in formats():
            raise ValueError(f"LoadOptions.fmt={self.fmt!r} is not a format; choose one of {', '.join(formats())}")
        for name in ("id_field", "text_field", "title_field"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"LoadOptions.{name} must be a non-empty field name or None, got {value!r}")
        if self.metadata_fields is not None and (
            isinstance(self.metadata_fields, str) or not all(isinstance(f, str) for f in self.metadata_fields)
        ):
            raise ValueError(
                f"LoadOptions.metadata_fields must be a list of field names or None, got {self.metadata_fields!r}"
            )
        if isinstance(self.encoding_fallbacks, str):
            raise ValueError(
                "LoadOptions.encoding_fallbacks must be a tuple of codec names, e.g. ('cp1252', 'latin-1')"
            )
        for encoding in self.encoding_fallbacks:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ValueError(
                    f"LoadOptions.encoding_fallbacks names an unknown codec {encoding!r}; "
                    "use a Python codec name such as 'cp1252' or 'latin-1'"
                ) from None
