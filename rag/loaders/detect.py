"""Which loader reads a path: from its name (the suffixes in ``LOADERS``), refined by the entry's sniffer (JSON lines
from the first record), and BEIR/MLDR dataset folders."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from rag.loaders.options import LOADERS, UnsupportedFormat, supported_help

CORPUS_NAMES = ("corpus.jsonl", "corpus.jsonl.gz")
# Files beside a corpus that mark a dataset folder: BEIR (queries, qrels/) or MLDR (train/dev/test splits).
DATASET_MARKERS = ("queries.jsonl", "queries.jsonl.gz", "qrels", *(f"{s}.jsonl.gz" for s in ("train", "dev", "test")))


def must_exist(path: Path) -> None:
    """Raise ``FileNotFoundError`` naming ``path`` when nothing is there."""
    if not path.exists():
        reason = "No such file or directory (check the path given to the loader)"
        raise FileNotFoundError(errno.ENOENT, reason, str(path))


def format_from_name(path: Path) -> str | None:
    """The first format in ``LOADERS`` with a suffix the file name ends with (any case), or None.

    >>> format_from_name(Path("a/corpus.JSONL.gz")), format_from_name(Path("notes.md")), format_from_name(Path("x.doc"))
    ('jsonl', 'text', None)
    """
    name = path.name.lower()
    return next((fmt for fmt, entry in LOADERS.items() if entry.suffixes and name.endswith(entry.suffixes)), None)


def file_format(path: Path, forced: str | None = None) -> str | None:
    """The format a file met in a folder is read with: ``forced`` when given, else the one its name says, as its
    entry's sniffer refines it from the content (a ``.jsonl`` file whose first record has ``_id`` is ``beir``);
    None for an unknown type."""
    if forced is not None:
        return forced
    fmt = format_from_name(path)
    return None if fmt is None else LOADERS[fmt].sniffed(path)


def dataset_corpus(folder: Path) -> Path | None:
    """The ``corpus.jsonl[.gz]`` of a BEIR or MLDR dataset folder, or None for any other folder.

    A folder counts as a dataset when it holds a corpus file and a queries file, ``qrels/`` or
    MLDR split files; then only the corpus holds documents.
    """
    corpus = next((folder / n for n in CORPUS_NAMES if (folder / n).is_file()), None)
    if corpus is None or not any((folder / marker).exists() for marker in DATASET_MARKERS):
        return None
    return corpus


def corpus_format(corpus: Path) -> str:
    """The format of a dataset folder's corpus (``beir``, ``mldr`` or ``jsonl``, from its first record)."""
    return file_format(corpus) or "jsonl"


def detect_format(path: Path) -> str:
    """The loader for ``path``: a format of ``LOADERS`` (``beir``, ``mldr``, ``jsonl``, ``parquet``, ``text``,
    ``pdf``...) or ``folder``.

    A BEIR/MLDR dataset folder reports its corpus's format; any other folder is ``folder`` (its
    files are detected one by one). Raises ``FileNotFoundError`` for a missing path and
    ``UnsupportedFormat`` (a ``ValueError``) for a file of unknown type, listing what is supported.
    """
    path = Path(path)
    must_exist(path)
    if path.is_dir():
        corpus = dataset_corpus(path)
        return corpus_format(corpus) if corpus else "folder"
    fmt = file_format(path)
    if fmt is None:
        suffix = "".join(path.suffixes[-2:]) or "no extension"
        raise UnsupportedFormat(
            f"{path}: unsupported file type ({suffix}). Supported: {supported_help()}. "
            "To read it anyway, force a loader with LoadOptions(fmt=...)."
        )
    return fmt


def walk_files(root: Path, datasets: bool) -> list[Path]:
    """Every non-hidden file under ``root``, sorted by relative path; hidden files and folders are skipped.

    With ``datasets``, a BEIR/MLDR dataset folder below ``root`` contributes only its corpus file.
    """
    found = []
    for folder, dirnames, filenames in os.walk(root):
        here = Path(folder)
        corpus = dataset_corpus(here) if datasets else None
        if corpus is not None:
            dirnames[:] = []
            found.append(corpus)
            continue
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(here / f for f in filenames if not f.startswith("."))
    return sorted(found, key=lambda p: p.relative_to(root).parts)
