"""What a caller can tell the loaders, and the formats they know."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from core.errors import UserError

FORMATS = ("auto", "beir", "mldr", "jsonl", "parquet", "text", "pdf")
"""Values accepted by ``LoadOptions.fmt``."""

SUPPORTED_HELP = (
    "BEIR/MLDR corpus or JSON lines (.jsonl, .ndjson, .jsonl.gz, .ndjson.gz, .json.gz), "
    "Parquet (.parquet, .pq), plain text and Markdown (.txt, .text, .md, .markdown), PDF (.pdf), "
    "or a folder of such files"
)


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
        if self.fmt not in FORMATS:
            raise ValueError(f"LoadOptions.fmt={self.fmt!r} is not a format; choose one of {', '.join(FORMATS)}")
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
