"""Map one parsed record (a JSON object, a Parquet row) to a ``Document``, or say why it cannot be one."""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass
from typing import Any

from rag.loaders.options import LoadOptions
from rag.records import Document, LoadProblem

AUTO_ID_FIELDS = ("_id", "docid", "id")
AUTO_TEXT_FIELDS = ("text", "contents", "body")
_FORMAT_ID_FIELDS = {"beir": ("_id",), "mldr": ("docid",)}
_FORMAT_TEXT_FIELDS = {"beir": ("text",), "mldr": ("text",)}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Candidate field names, first present wins; ``metadata_fields=None`` copies every other scalar."""

    id_fields: tuple[str, ...]
    text_fields: tuple[str, ...]
    title_fields: tuple[str, ...]
    metadata_fields: tuple[str, ...] | None

    @classmethod
    def for_format(cls, fmt: str, options: LoadOptions) -> FieldSpec:
        """The fields to read for ``fmt`` (``beir``, ``mldr``, ``jsonl``, ``parquet``) under ``options``.

        >>> FieldSpec.for_format("beir", LoadOptions()).id_fields
        ('_id',)
        >>> FieldSpec.for_format("jsonl", LoadOptions(text_field="abstract")).text_fields
        ('abstract',)
        """
        id_fields = (options.id_field,) if options.id_field else _FORMAT_ID_FIELDS.get(fmt, AUTO_ID_FIELDS)
        text_fields = (options.text_field,) if options.text_field else _FORMAT_TEXT_FIELDS.get(fmt, AUTO_TEXT_FIELDS)
        title_fields = (options.title_field,) if options.title_field else ("title",)
        metadata = None if options.metadata_fields is None else tuple(options.metadata_fields)
        return cls(id_fields, text_fields, title_fields, metadata)


def as_scalar(value: Any) -> tuple[bool, Any]:
    """``(True, value)`` for a JSON-like scalar (dates become ISO strings), ``(False, None)`` otherwise.

    >>> as_scalar(3), as_scalar(datetime.date(2024, 1, 2)), as_scalar([1])
    ((True, 3), (True, '2024-01-02'), (False, None))
    """
    if value is None or isinstance(value, (str, int, float, bool)):
        return True, value
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return True, value.isoformat()
    if isinstance(value, decimal.Decimal):
        return True, str(value)
    return False, None


def _first_present(record: dict[str, Any], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in record), None)


def _keys_hint(record: dict[str, Any]) -> str:
    keys = list(record)
    shown = ", ".join(repr(k) for k in keys[:10])
    return shown + (f" and {len(keys) - 10} more" if len(keys) > 10 else "") if keys else "none"


def _id_error(value: Any, key: str) -> str | None:
    if value is None:
        return f"id field {key!r} is null"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"id field {key!r} is a {type(value).__name__}, expected a string or a number"
    if isinstance(value, str) and not value.strip():
        return f"id field {key!r} is empty"
    return None


def _metadata(record: dict[str, Any], used: set[str], wanted: tuple[str, ...] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if wanted is not None:
        for key in wanted:
            if key in record and record[key] is not None:
                ok, value = as_scalar(record[key])
                meta[key] = value if ok else record[key]
        return meta
    nested = None
    for key, raw in record.items():
        if key in used:
            continue
        if key == "metadata" and isinstance(raw, dict):
            nested = raw
            continue
        ok, value = as_scalar(raw)
        if ok and value is not None:
            meta[key] = value
    for key, raw in (nested or {}).items():
        ok, value = as_scalar(raw)
        if ok and value is not None:
            meta.setdefault(key, value)
    return meta


def record_to_document(
    record: dict[str, Any], spec: FieldSpec, source: str, line: int, where: str = "line"
) -> Document | LoadProblem:
    """One record to a ``Document``; a missing/invalid id or text gives a ``LoadProblem`` at ``line``.

    ``where`` names the unit in messages (``line`` for JSONL, ``row`` for Parquet).

    >>> spec = FieldSpec.for_format("jsonl", LoadOptions())
    >>> record_to_document({"id": 7, "body": "hi", "lang": "en"}, spec, "f.jsonl", 1)
    Document(id='7', text='hi', title='', metadata={'lang': 'en'}, source='f.jsonl', pages=None)
    >>> record_to_document({"text": "hi"}, spec, "f.jsonl", 2).message[:34]
    'no id field (looked for _id, docid'
    """
    id_key = _first_present(record, spec.id_fields)
    if id_key is None:
        return LoadProblem(
            source,
            f"no id field (looked for {', '.join(spec.id_fields)}; {where} has {_keys_hint(record)}); "
            f"{where} skipped. Set LoadOptions(id_field=...) to name the id field.",
            line=line,
        )
    error = _id_error(record[id_key], id_key)
    if error:
        return LoadProblem(source, f"{error}; {where} skipped", line=line)
    text_key = _first_present(record, spec.text_fields)
    if text_key is None:
        return LoadProblem(
            source,
            f"no text field (looked for {', '.join(spec.text_fields)}; {where} has {_keys_hint(record)}); "
            f"{where} skipped. Set LoadOptions(text_field=...) to name the text field.",
            line=line,
        )
    text = record[text_key]
    if not isinstance(text, str):
        kind = "null" if text is None else f"a {type(text).__name__}"
        return LoadProblem(source, f"text field {text_key!r} is {kind}, expected a string; {where} skipped", line=line)
    title_key = _first_present(record, spec.title_fields)
    title = record.get(title_key) if title_key else None
    used = {id_key, text_key} | ({title_key} if title_key else set())
    return Document(
        id=str(record[id_key]),
        text=text,
        title="" if title is None else str(title),
        metadata=_metadata(record, used, spec.metadata_fields),
        source=source,
    )
