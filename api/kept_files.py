"""Uploaded PDFs kept in the index folder, content-addressed: ``index/files/<sha256 of the content>.pdf``.

A kept PDF is its document's ``source``, so page images (``GET /v1/documents/{id}/pages/{n}.png``) and page-image
encoders (the ColPali profile) can render it after the upload request has ended. Named by content, the same bytes
uploaded again, under any name, keep one file. ``files/`` is outside every versioned component, so the index's
garbage collection never touches it; files that no live document uses any more (deleted or replaced documents)
are listed, and removed with ``--delete``, by::

    python -m api.kept_files --index /data/index [--delete]

>>> is_kept_name("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.pdf"), is_kept_name("../x.pdf")
(True, False)
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

FILES_DIR = "files"
_KEPT_NAME = re.compile(r"^[0-9a-f]{64}\.pdf$")


def is_kept_name(name: str) -> bool:
    """Whether ``name`` is a kept file's name (64 lower-case hex digits, ``.pdf``)."""
    return bool(_KEPT_NAME.match(name))


def files_dir(index: Path) -> Path:
    return Path(index) / FILES_DIR


def kept_path(index: Path, sha256: str) -> Path:
    """Where the PDF with this content digest is kept; ValueError for anything but 64 lower-case hex digits."""
    name = f"{sha256}.pdf"
    if not is_kept_name(name):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return files_dir(index) / name


def keep_file(src: Path, index: Path, sha256: str) -> tuple[Path, bool]:
    """Move ``src`` (a file inside the index folder whose content hashes to ``sha256``) to its kept place.

    Returns ``(kept path, created)``; when the content is kept already, ``src`` is left where it is and
    ``created`` is False. The file appears atomically (a rename), never half written.
    """
    dest = kept_path(index, sha256)
    if dest.is_file():
        return dest, False
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # only a folder on another file system needs a copy
            raise
        part = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(src, part)
        os.replace(part, dest)
    return dest, True


def resolve_source(source: str, index: Path) -> Path | None:
    """The file behind a document's ``source``: the path itself when it is a file, else, for a kept upload whose
    index folder was moved, ``index/files/<name>``; None when neither exists (or the source is not a path)."""
    if not source or ":" in source.split("/", 1)[0]:  # "api", "upload:notes.md": not a file
        return None
    path = Path(source)
    if path.is_file():
        return path
    if is_kept_name(path.name):
        moved = files_dir(index) / path.name
        if moved.is_file():
            return moved
    return None


def public_source(source: str, index: Path) -> str:
    """A document's source as clients see it: a kept file as ``files/<name>``, another path as its base name
    (never a server path), anything else as stored.

    >>> public_source("/srv/idx/files/" + "a" * 64 + ".pdf", Path("/srv/idx")) == "files/" + "a" * 64 + ".pdf"
    True
    >>> public_source("/home/me/reports/q1.pdf", Path("idx")), public_source("upload:notes.md", Path("idx"))
    ('q1.pdf', 'upload:notes.md')
    """
    path = Path(source)
    if not path.is_absolute():
        return source
    if is_kept_name(path.name) and path.parent.name == FILES_DIR:
        return f"{FILES_DIR}/{path.name}"
    return path.name


def used_names(index: Path) -> set[str]:
    """Names of the kept files that live documents of the committed version use as their source."""
    from indexers.folder import IndexFolder, Snapshot

    if not IndexFolder(index).exists():
        return set()
    docs = Snapshot.open(index)["docs"]
    names: set[str] = set()
    sources: dict[int, list[str]] = {}
    for _docno, seg, row in docs.iter_live():
        column = sources.get(id(seg))
        if column is None:
            column = sources[id(seg)] = seg.docs.column("source").to_pylist()
        name = Path(column[row] or "").name
        if is_kept_name(name):
            names.add(name)
    return names


def unused_files(index: Path) -> list[Path]:
    """Kept files no live document of the committed version uses (sorted). Hold the index's write lock while
    acting on the answer, or an upload in progress may have kept a file it has not committed yet."""
    folder = files_dir(index)
    if not folder.is_dir():
        return []
    used = used_names(index)
    return sorted(p for p in folder.iterdir() if p.is_file() and is_kept_name(p.name) and p.name not in used)


def prune(index: Path, *, delete: bool = False, lock_timeout: float = 30.0) -> list[Path]:
    """The unused kept files, removed when ``delete``; runs under the index's write lock (IndexLocked when another
    writer holds it longer than ``lock_timeout`` seconds)."""
    from indexers.folder import IndexFolder

    index = Path(index)
    with IndexFolder(index).write_lock(timeout=lock_timeout):
        unused = unused_files(index)
        if delete:
            for p in unused:
                p.unlink(missing_ok=True)
    return unused


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m api.kept_files",
        description="List (or delete) uploaded PDFs kept in INDEX/files that no live document uses any more.",
    )
    p.add_argument("--index", "-i", required=True, help="index folder")
    p.add_argument("--delete", action="store_true", help="remove them (default: only list them)")
    p.add_argument("--lock-timeout", type=float, default=30.0, help="seconds to wait for the index's write lock")
    args = p.parse_args(argv)
    from indexers.folder import IndexLocked

    try:
        unused = prune(Path(args.index), delete=args.delete, lock_timeout=args.lock_timeout)
    except IndexLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    total = sum(f.stat().st_size for f in unused if f.exists())
    for f in unused:
        print(f)
    verb = "removed" if args.delete else "unused (run again with --delete to remove them)"
    print(f"{len(unused)} kept file(s) {verb}" + ("" if args.delete else f", {total} bytes"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
