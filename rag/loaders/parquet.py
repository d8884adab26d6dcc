"""Parquet files with configurable id/text/title/metadata columns, read one record batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.loaders.fields import FieldSpec, record_to_document
from rag.loaders.options import LoadOptions
from rag.records import Document, LoadProblem

BATCH_ROWS = 1024


def _import_pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from err
    return pa, pq


def _is_scalar_type(pa: Any, dtype: Any) -> bool:
    return not (pa.types.is_nested(dtype) or pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype))


def _is_text_type(pa: Any, dtype: Any) -> bool:
    if pa.types.is_dictionary(dtype):
        return _is_text_type(pa, dtype.value_type)
    checks = (pa.types.is_string, pa.types.is_large_string, getattr(pa.types, "is_string_view", None))
    return any(check is not None and check(dtype) for check in checks)


def _columns(pa: Any, schema: Any, spec: FieldSpec) -> tuple[FieldSpec | None, list[str]]:
    """Resolve the spec against the file's columns: ``(single-column spec, problems)``; spec None = unreadable."""
    names = schema.names
    id_col = next((c for c in spec.id_fields if c in names), None)
    text_col = next((c for c in spec.text_fields if c in names), None)
    errors = []
    if id_col is None:
        errors.append(f"no id column (looked for {', '.join(spec.id_fields)}); set LoadOptions(id_field=...)")
    if text_col is None:
        errors.append(f"no text column (looked for {', '.join(spec.text_fields)}); set LoadOptions(text_field=...)")
    elif not _is_text_type(pa, schema.field(text_col).type):
        errors.append(f"text column {text_col!r} has type {schema.field(text_col).type}, expected string")
    if errors:
        return None, [f"{'; '.join(errors)}. Columns: {', '.join(names)}"]
    assert id_col is not None and text_col is not None  # (each missing one is an error above)
    title_col = next((c for c in spec.title_fields if c in names), None)
    used = {id_col, text_col, title_col}
    if spec.metadata_fields is None:
        metadata = tuple(f.name for f in schema if f.name not in used and _is_scalar_type(pa, f.type))
        warnings = []
    else:
        metadata = tuple(c for c in spec.metadata_fields if c in names)
        missing = [c for c in spec.metadata_fields if c not in names]
        warnings = [f"metadata columns not in the file: {', '.join(missing)}"] if missing else []
    if spec.title_fields != ("title",) and title_col is None:
        warnings.append(f"title column {spec.title_fields[0]!r} is not in the file; titles left empty")
    resolved = FieldSpec((id_col,), (text_col,), (title_col,) if title_col else (), metadata)
    return resolved, warnings


def iter_parquet(path: Path, spec: FieldSpec, batch_rows: int = BATCH_ROWS) -> Iterator[Document | LoadProblem]:
    """Yield one ``Document`` per row of ``path``; ``LoadProblem.line`` is the 1-based row number.

    Only the needed columns are read, ``batch_rows`` rows at a time (``ParquetFile.iter_batches``).
    A file that is not Parquet, or lacks the id/text column, gives one problem and no documents.
    """
    pa, pq = _import_pyarrow()
    source = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        yield LoadProblem(source, f"not a readable Parquet file ({err}); file skipped")
        return
    with parquet:
        resolved, notes = _columns(pa, parquet.schema_arrow, spec)
        if resolved is None:
            yield LoadProblem(source, f"{notes[0]}; file skipped")
            return
        for note in notes:
            yield LoadProblem(source, note, level="warning")
        columns = [*resolved.id_fields, *resolved.text_fields, *resolved.title_fields, *(resolved.metadata_fields or ())]
        row = 0
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
                for record in batch.to_pylist():
                    row += 1
                    yield record_to_document(record, resolved, source, row, where="row")
        except (pa.ArrowException, OSError) as err:
            yield LoadProblem(source, f"Parquet read failed after row {row} ({err}); rows before were loaded", row + 1)


def load_parquet(path: Path, doc_id: str, options: LoadOptions) -> Iterator[Document | LoadProblem]:
    """The ``parquet`` entry of ``LOADERS``: columns from ``options`` or the usual names."""
    return iter_parquet(path, FieldSpec.for_format("parquet", options))
