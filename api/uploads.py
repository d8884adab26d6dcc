"""Multipart uploads streamed straight into a temporary folder inside the index folder, under sanitised names.

The body is parsed as it arrives (``python_multipart``'s streaming parser), so nothing is buffered in memory
or spooled to the system temp folder, and client file names are reduced to a safe base name: no directory part,
no ``..``, only ``[A-Za-z0-9._-]``, an allowed suffix. Each file's SHA-256 is computed as it streams in (kept
PDFs are named by it). The caller removes the folder afterwards.

Each request's folder is ``index/uploads/tmp-<uuid>`` and holds an ``flock`` on its ``.lock`` file while the request
runs (:func:`temp_upload`), so leftovers of a crashed or killed server (a folder whose lock nobody holds) are told
apart from uploads in progress, in this process or another, and removed (:func:`collect_leftovers`: at start-up and
after every commit).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from rag.loaders.options import upload_suffixes

log = logging.getLogger("latte.api")
UPLOADS_DIR = "uploads"
TMP_PREFIX = "tmp-"
LOCK_NAME = ".lock"
ALLOWED_SUFFIXES = upload_suffixes()  # the formats in rag.loaders' LOADERS that accept uploads (not Parquet)
MAX_NAME = 120
MAX_FIELD_BYTES = 4096


@contextmanager
def temp_upload(index: Path) -> Iterator[Path]:
    """A new ``index/uploads/tmp-<uuid>`` folder, locked (flock) while in use and removed afterwards."""
    folder = Path(index) / UPLOADS_DIR / f"{TMP_PREFIX}{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)  # releases the lock (after the folder is gone, so no collector races for it)


def collect_leftovers(index: Path) -> list[Path]:
    """Remove the ``uploads/tmp-*`` folders no running upload holds (left by a crash or a kill); returns them."""
    root = Path(index) / UPLOADS_DIR
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder in sorted(root.iterdir()):
        if not folder.name.startswith(TMP_PREFIX) or not folder.is_dir() or folder.is_symlink():
            continue
        try:
            fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # removed meanwhile by its own request
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # an upload in progress holds it
            os.close(fd)
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            os.close(fd)
    if removed:
        log.info("removed %d upload folder(s) left by an earlier run", len(removed))
    return removed


def allowed_suffix(name: str) -> str | None:
    """The allowed suffix ``name`` ends with (lower case), or None.

    >>> allowed_suffix("Report.PDF"), allowed_suffix("c.jsonl.gz"), allowed_suffix("x.exe")
    ('.pdf', '.jsonl.gz', None)
    """
    low = name.lower()
    for suffix in sorted(ALLOWED_SUFFIXES, key=len, reverse=True):
        if low.endswith(suffix) and len(low) > len(suffix) - 1:
            return suffix
    return None


def safe_filename(name: str) -> str:
    """A base name safe to create in a folder: no directories, no leading dots, only ``[A-Za-z0-9._-]``.

    >>> safe_filename("../../etc/passwd.txt"), safe_filename("C:\\\\x\\\\Q3 report (final).pdf")
    ('passwd.txt', 'Q3_report_final_.pdf')
    >>> safe_filename("..."), safe_filename(".hidden.md"), safe_filename("café.md")
    ('upload', 'hidden.md', 'cafe.md')
    """
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    name = re.sub(r"\.{2,}", ".", name).lstrip("._-")
    if len(name) > MAX_NAME:
        suffix = allowed_suffix(name) or ""
        name = name[: MAX_NAME - len(suffix)] + suffix
    return name or "upload"


@dataclass
class SavedFile:
    original: str  # the name the client sent (for its report only; never used as a path)
    name: str  # the sanitised name it was saved under (a text/PDF document's id)
    path: Path
    size: int = 0
    sha256: str = ""  # hex digest of the content, set when the part ends
    _hash: Any = field(default_factory=hashlib.sha256, repr=False, compare=False)


class _Receiver:
    """Callbacks of the multipart parser: one file per part that has a filename."""

    def __init__(self, dest: Path, max_files: int) -> None:
        self.dest = dest.resolve()
        self.max_files = max_files
        self.files: list[SavedFile] = []
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._out: Any = None
        self._in_field: str | None = None
        self._field_size = 0

    # header assembly
    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field, self._value = b"", b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        filename = opts.get(b"filename")
        field = opts.get(b"name", b"").decode("utf-8", "replace")
        if filename is None:
            self._in_field = field
            self._field_size = 0
            return
        original = filename.decode("utf-8", "replace")
        if len(self.files) >= self.max_files:
            raise HTTPException(
                413, f"more than {self.max_files} files in one upload (LATTE_MAX_UPLOAD_FILES); send them in several requests"
            )
        if allowed_suffix(original) is None:
            raise HTTPException(
                415, f"file {safe_filename(original)!r} has an unsupported type; upload {', '.join(ALLOWED_SUFFIXES)} files"
            )
        name = self._unique(safe_filename(original))
        path = (self.dest / name).resolve()
        if path.parent != self.dest:  # defence in depth: safe_filename already removed every directory part
            raise HTTPException(400, "invalid file name")
        self._out = open(path, "xb")  # noqa: SIM115 (written part by part; closed when the part ends)
        self.files.append(SavedFile(original, name, path))

    def _unique(self, name: str) -> str:
        taken = {f.name for f in self.files}
        if name not in taken:
            return name
        suffix = allowed_suffix(name) or ""
        stem = name[: len(name) - len(suffix)]
        i = 2
        while f"{stem}-{i}{suffix}" in taken:
            i += 1
        return f"{stem}-{i}{suffix}"

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None:
            chunk = data[start:end]
            self._out.write(chunk)
            self.files[-1].size += len(chunk)
            self.files[-1]._hash.update(chunk)
        else:
            self._field_size += end - start
            if self._field_size > MAX_FIELD_BYTES:
                raise HTTPException(413, f"form field {self._in_field!r} is over {MAX_FIELD_BYTES} bytes; send documents as files")

    def on_part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
            self.files[-1].sha256 = self.files[-1]._hash.hexdigest()
        elif self._in_field is not None:
            field, self._in_field = self._in_field, None
            raise HTTPException(
                422, f"unexpected form field {field!r}: send each document as a file part (field name 'files') with a filename"
            )

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def multipart_boundary(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` content type; 415 for anything else."""
    from python_multipart.multipart import parse_options_header

    ctype, opts = parse_options_header(content_type or "")
    boundary = opts.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise HTTPException(
            415, "send files as multipart/form-data (e.g. curl -F files=@report.pdf ...), with a boundary"
        )
    return boundary


async def receive_files(chunks: AsyncIterator[bytes], content_type: str | None, dest: Path, *, max_files: int) -> list[SavedFile]:
    """Stream a multipart body into ``dest`` (created); returns the saved files in order. Raises HTTPException
    (400 malformed, 413 too many files, 415 wrong type, 422 no file or a stray field)."""
    from python_multipart.multipart import MultipartParseError, MultipartParser

    boundary = multipart_boundary(content_type)
    dest.mkdir(parents=True, exist_ok=True)
    rec = _Receiver(dest, max_files)
    callbacks = {n: getattr(rec, n) for n in dir(rec) if n.startswith("on_")}
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise HTTPException(400, f"malformed multipart body ({exc}); let your HTTP client build the form") from None
    except ValueError as exc:  # a boundary the parser rejects
        raise HTTPException(400, f"malformed multipart body ({exc})") from None
    finally:
        rec.close()
    if not rec.files:
        raise HTTPException(422, "the upload has no file: send at least one part with a filename (field name 'files')")
    return rec.files
