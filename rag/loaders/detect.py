"""Which loader reads a path: from its name, and for JSON lines from its first record."""

from __future__ import annotations

import codecs
import errno
import json
import os
from pathlib import Path

from rag.loaders.jsonl import _GZIP_ERRORS, open_binary
from rag.loaders.options import SUPPORTED_HELP, UnsupportedFormat

SUFFIXES = {
    "jsonl": (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json.gz"),
    "parquet": (".parquet", ".pq"),
    "text": (".txt", ".text", ".md", ".markdown"),
    "pdf": (".pdf",),
}
CORPUS_NAMES = ("corpus.jsonl", "corpus.jsonl.gz")
# Files beside a corpus that mark a dataset folder: BEIR (queries, qrels/) or MLDR (train/dev/test splits).
DATASET_MARKERS = ("queries.jsonl", "queries.jsonl.gz", "qrels", *(f"{s}.jsonl.gz" for s in ("train", "dev", "test")))
SNIFF_BYTES = 1 << 20


def must_exist(path: Path) -> None:
    """Raise ``FileNotFoundError`` naming ``path`` when nothing is there."""
    if not path.exists():
        reason = "No such file or directory (check the path given to the loader)"
        raise FileNotFoundError(errno.ENOENT, reason, str(path))


def format_from_name(path: Path) -> str | None:
    """``jsonl``, ``parquet``, ``text``, ``pdf`` from the file name, or None.

    >>> format_from_name(Path("a/corpus.JSONL.gz")), format_from_name(Path("notes.md")), format_from_name(Path("x.doc"))
    ('jsonl', 'text', None)
    """
    name = path.name.lower()
    return next((fmt for fmt, suffixes in SUFFIXES.items() if name.endswith(suffixes)), None)


def dataset_corpus(folder: Path) -> Path | None:
    """The ``corpus.jsonl[.gz]`` of a BEIR or MLDR dataset folder, or None for any other folder.

    A folder counts as a dataset when it holds a corpus file and a queries file, ``qrels/`` or
    MLDR split files; then only the corpus holds documents.
    """
    corpus = next((folder / n for n in CORPUS_NAMES if (folder / n).is_file()), None)
    if corpus is None or not any((folder / marker).exists() for marker in DATASET_MARKERS):
        return None
    return corpus


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


def detect_format(path: Path) -> str:
    """The loader for ``path``: ``beir``, ``mldr``, ``jsonl``, ``parquet``, ``text``, ``pdf`` or ``folder``.

    A BEIR/MLDR dataset folder reports its corpus's format; any other folder is ``folder`` (its
    files are detected one by one). Raises ``FileNotFoundError`` for a missing path and
    ``UnsupportedFormat`` (a ``ValueError``) for a file of unknown type, listing what is supported.
    """
    path = Path(path)
    must_exist(path)
    if path.is_dir():
        corpus = dataset_corpus(path)
        return sniff_jsonl(corpus) if corpus else "folder"
    fmt = format_from_name(path)
    if fmt is None:
        suffix = "".join(path.suffixes[-2:]) or "no extension"
        raise UnsupportedFormat(
            f"{path}: unsupported file type ({suffix}). Supported: {SUPPORTED_HELP}. "
            "To read it anyway, force a loader with LoadOptions(fmt=...)."
        )
    return sniff_jsonl(path) if fmt == "jsonl" else fmt


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
