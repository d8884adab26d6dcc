"""``iter_documents``: check the paths, then stream every file through the loader for its format (``LOADERS``)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from rag.loaders.detect import (
    CORPUS_NAMES,
    corpus_format,
    dataset_corpus,
    detect_format,
    file_format,
    must_exist,
    walk_files,
)
from rag.loaders.options import LOADERS, LoadOptions, supported_help
from rag.records import Document, LoadProblem

Record = Document | LoadProblem


def _load_file(path: Path, fmt: str, doc_id: str, options: LoadOptions) -> Iterator[Record]:
    """One file through its format's loader (``LOADERS``); an OS error while reading it becomes a ``LoadProblem``."""
    try:
        entry = LOADERS.get(fmt)
        if entry is None:  # unreachable: formats are checked by LoadOptions and detect_format
            raise ValueError(f"no loader for format {fmt!r}")
        yield from entry.loader()(path, doc_id, options)
    except OSError as err:
        yield LoadProblem(str(path), f"cannot read the file ({err.strerror or err}); file skipped")


def _walk(root: Path, options: LoadOptions) -> Iterator[Record]:
    """Every file under ``root`` in sorted order; ids of text/PDF files are their paths relative to ``root``."""
    forced = None if options.fmt == "auto" else options.fmt
    for path in walk_files(root, datasets=forced is None):
        fmt = file_format(path, forced)
        if fmt is None:
            yield LoadProblem(
                str(path), f"skipped: unsupported file type in a folder. Supported: {supported_help()}", level="warning"
            )
            continue
        yield from _load_file(path, fmt, path.relative_to(root).as_posix(), options)


def _plan(root: Path, options: LoadOptions) -> tuple[Path, str]:
    """``(path, format)`` for one given path; format ``folder`` means walk it. Raises on bad input."""
    must_exist(root)
    if root.is_dir():
        forced = LOADERS.get(options.fmt)
        if forced is not None and forced.dataset:
            corpus = next((root / n for n in CORPUS_NAMES if (root / n).is_file()), None)
            if corpus is None:
                reason = f"a {options.fmt} folder holds its documents in {' or '.join(CORPUS_NAMES)}"
                raise FileNotFoundError(errno.ENOENT, reason, str(root))
            return corpus, options.fmt
        corpus = dataset_corpus(root) if options.fmt == "auto" else None
        return (corpus, corpus_format(corpus)) if corpus else (root, "folder")
    return root, detect_format(root) if options.fmt == "auto" else options.fmt


def _as_paths(paths: Iterable[str | Path] | str | Path) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def iter_documents(paths: Iterable[str | Path], options: LoadOptions | None = None) -> Iterator[Document | LoadProblem]:
    """Stream ``Document`` and ``LoadProblem`` records from files and folders, in the order given.

    Paths are checked before anything is read: a missing one raises ``FileNotFoundError``, a file
    of unknown type given directly raises ``UnsupportedFormat``. Folders are walked recursively
    in sorted order (hidden entries skipped; unknown types inside give a warning). A warning
    problem comes just before the record it is about. A single path may be passed without a list.
    """
    options = options if options is not None else LoadOptions()
    plans = [_plan(root, options) for root in _as_paths(paths)]
    return _stream(plans, options)


def _stream(plans: list[tuple[Path, str]], options: LoadOptions) -> Iterator[Record]:
    for path, fmt in plans:
        if fmt == "folder":
            yield from _walk(path, options)
        else:
            yield from _load_file(path, fmt, path.name, options)
