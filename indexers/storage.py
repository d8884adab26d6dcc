"""An index folder on object storage (``s3://bucket/prefix``, or any fsspec URL), mirrored by a local folder.

latte's components read memory-mapped local files, so a remote index is used through a local mirror:

- **Readers** (:meth:`RemoteIndex.pull`) read the remote ``manifest.json``, download the files it names that the
  mirror lacks (component files are immutable: their names carry the version that wrote them), and only then
  switch the mirror's own manifest atomically. A search on the mirror therefore sees whole versions, and a
  new version costs only its new segments.
- **The writer** works in a local staging mirror and, after each local commit, :meth:`RemoteIndex.push` uploads
  the new files, then claims the version with a conditional put (``versions/manifest-vNNNNNN.json``, created
  only if absent: ``If-None-Match: *`` on S3), and writes ``manifest.json`` **last**. An S3 PUT replaces an
  object whole, so readers see the old manifest or the new one, each naming files that are all there. Files no
  longer named by the current or previous manifest are deleted after the switch (a reader that raced them
  re-reads the manifest and retries).
- Writers are serialised by a ``LOCK`` object created with the same conditional put; a killed writer leaves it
  behind, and the error names it (delete it when no writer runs).

Needs ``fsspec`` (and ``s3fs`` for ``s3://``): ``pip install 'latte[s3]'``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from indexers.arrays import write_json_atomic
from indexers.folder import (
    MANIFEST,
    PREVIOUS,
    IndexFolder,
    IndexLocked,
    component_class,
    on_commit,
)
from indexers.manifest import Manifest, parse_manifest

LOCK = "LOCK"
VERSIONS = "versions"
#: where local mirrors live unless ``LATTE_CACHE_DIR`` says otherwise
CACHE_ENV = "LATTE_CACHE_DIR"


def is_url(index: str | os.PathLike) -> bool:
    """True for ``scheme://...`` (other than ``file://``): an index on object storage."""
    s = str(index)
    return "://" in s and not s.startswith("file://")


def mirror_dir(url: str, role: str = "reader") -> Path:
    """The local folder that mirrors ``url`` for a ``reader`` or the ``writer`` (one per URL and role)."""
    base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "latte" / "indexes")
    key = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return base / f"{key}-{role}"


def _filesystem(url: str, storage_options: dict[str, Any] | None) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise ImportError("an index on object storage needs fsspec (and s3fs for s3://): pip install 'latte[s3]'") from None
    try:
        fs, root = url_to_fs(url, **(storage_options or {}))
    except (ImportError, ValueError) as exc:
        raise ImportError(f"cannot open {url}: {exc}. For s3:// install s3fs: pip install 'latte[s3]'") from None
    return fs, root.rstrip("/")


def manifest_files(manifest: Manifest) -> list[tuple[str, str]]:
    """Every (component folder, entry name) a committed manifest needs."""
    out: list[tuple[str, str]] = []
    for kind, state in manifest.components.items():
        out.extend((kind, name) for name in sorted(component_class(kind).files_of(state)))
    for kind, names in manifest.extra_files.items():
        out.extend((kind, name) for name in names)
    return out


class RemoteIndex:
    """An index folder at ``url`` (``s3://bucket/prefix``; S3-compatible servers through ``storage_options``,
    e.g. ``{"endpoint_url": "http://127.0.0.1:9000"}``, or the usual ``AWS_*`` / ``FSSPEC_S3_*`` variables)."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = _filesystem(self.url, storage_options)
        self._uploaded: set[tuple[str, str]] = set()

    def _path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    # -- reading ---------------------------------------------------------------------------------------------------
    def read_manifest(self) -> Manifest | None:
        """The committed manifest, or None when the URL holds no index yet."""
        try:
            with self.fs.open(self._path(MANIFEST), "rb") as f:
                return parse_manifest(json.loads(f.read()), self._path(MANIFEST))
        except FileNotFoundError:
            return None

    def pull(self, local: str | Path, *, retries: int = 5) -> int | None:
        """Mirror the committed version into ``local``: download what it lacks, then switch its manifest.
        Returns the version now in ``local`` (None when the remote has no index)."""
        local = Path(local)
        for attempt in range(retries + 1):
            manifest = self.read_manifest()
            if manifest is None:
                return None
            current = _read_manifest(local / MANIFEST)
            if current == manifest:
                return manifest.version
            try:
                for kind, name in manifest_files(manifest):
                    if not (local / kind / name).exists():
                        self._download(kind, name, local / kind)
            except FileNotFoundError:
                if attempt == retries:  # a writer kept collecting the versions we read: give up with the error
                    raise
                time.sleep(0.1 * (attempt + 1))
                continue
            if current is not None and current.version != manifest.version:
                write_json_atomic(local / PREVIOUS, current.to_dict())
            write_json_atomic(local / MANIFEST, manifest.to_dict())
            IndexFolder(local).collect_garbage([m for m in (manifest, current) if m is not None])
            return manifest.version
        return None

    def _download(self, kind: str, name: str, dest: Path) -> None:
        """One component entry (a file or a segment folder), into a temporary name first, then renamed."""
        src = self._path(kind, name)
        dest.mkdir(parents=True, exist_ok=True)
        tmp = dest / f".dl-{name}-{uuid.uuid4().hex[:8]}"
        try:
            if self.fs.isdir(src):
                files = self.fs.find(src)
                if not files:
                    raise FileNotFoundError(src)
                for f in files:
                    target = tmp / f[len(src) + 1:]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    self.fs.get_file(f, str(target))
            else:
                self.fs.get_file(src, str(tmp))
            os.replace(tmp, dest / name)
        finally:
            if tmp.exists():
                (shutil.rmtree if tmp.is_dir() else os.remove)(tmp)

    # -- writing ---------------------------------------------------------------------------------------------------
    def push(self, local: Path, manifest: Manifest, previous: Manifest | None) -> None:
        """Publish a version committed in the staging mirror ``local``: new files, the version claim, then
        ``manifest.json`` last; then delete remote files neither this nor the previous version names."""
        for kind, name in manifest_files(manifest):
            if (kind, name) not in self._uploaded:
                self._upload(local / kind / name, self._path(kind, name))
                self._uploaded.add((kind, name))
        version = manifest.version
        claim = self._path(VERSIONS, f"manifest-v{version:06d}.json")
        data = (local / MANIFEST).read_bytes()  # what the local commit wrote (hook runs after it)
        try:
            with self.fs.open(claim, "xb") as f:  # conditional put: exactly one writer gets version N
                f.write(data)
        except FileExistsError:
            raise IndexLocked(
                f"another writer already committed version {version} of {self.url}; nothing of this run past "
                f"version {version - 1} was published. Re-run the ingest: it resumes from the committed version"
            ) from None
        if previous is not None:
            self.fs.pipe_file(self._path(PREVIOUS), (local / PREVIOUS).read_bytes())
        self.fs.pipe_file(self._path(MANIFEST), data)  # the pointer, written last
        self.collect_garbage([m for m in (manifest, previous) if m is not None])

    def _upload(self, src: Path, dest: str) -> None:
        if src.is_dir():
            for f in sorted(p for p in src.rglob("*") if p.is_file()):
                self.fs.put_file(str(f), dest + "/" + f.relative_to(src).as_posix())
        else:
            self.fs.put_file(str(src), dest)

    def collect_garbage(self, keep: list[Manifest]) -> int:
        """Delete remote component entries no kept manifest names, and version claims older than them."""
        needed = {pair for m in keep for pair in manifest_files(m)}
        kinds = {kind for kind, _ in needed} | {k for m in keep for k in m.components}
        removed = 0
        for kind in kinds:
            try:
                entries = self.fs.ls(self._path(kind), detail=False)
            except FileNotFoundError:
                continue
            for entry in entries:
                name = entry.rstrip("/").rsplit("/", 1)[-1]
                if (kind, name) not in needed:
                    self.fs.rm(entry, recursive=True)
                    self._uploaded.discard((kind, name))
                    removed += 1
        oldest = min(m.version for m in keep)
        try:
            claims = self.fs.ls(self._path(VERSIONS), detail=False)
        except FileNotFoundError:
            claims = []
        for c in claims:
            stem = c.rsplit("/", 1)[-1]
            if stem.startswith("manifest-v") and int(stem[10:16]) < oldest:
                self.fs.rm(c)
        self.fs.invalidate_cache()
        return removed

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise writers: ``LOCK`` is created only if absent (conditional put) and deleted at the end."""
        path = self._path(LOCK)
        info = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        try:
            with self.fs.open(path, "xb") as f:
                f.write(json.dumps(info).encode())
        except FileExistsError:
            try:
                holder = json.loads(self.fs.cat_file(path))
            except (FileNotFoundError, ValueError):
                holder = {}
            raise IndexLocked(
                f"another process is writing to {self.url} (LOCK held by {holder.get('host', '?')} pid "
                f"{holder.get('pid', '?')} since {time.ctime(holder.get('since', 0))}); wait for it to finish and "
                f"retry. If no writer runs (one was killed), delete {self.url}/{LOCK}"
            ) from None
        try:
            yield
        finally:
            self.fs.rm(path)

    @contextmanager
    def staging(self, local: Path | None = None) -> Iterator[Path]:
        """A local folder holding the committed version, whose commits are published here, while this process
        holds the remote lock: ``with remote.staging() as folder: IndexWriter(folder) ...``."""
        local = Path(local) if local is not None else mirror_dir(self.url, "writer")
        with self.lock():
            if self.read_manifest() is None and local.exists():
                shutil.rmtree(local)  # a stale mirror of an index that is gone (or never got published)
            local.mkdir(parents=True, exist_ok=True)
            self.pull(local)
            committed = _read_manifest(local / MANIFEST)
            self._uploaded = set(manifest_files(committed)) if committed else set()
            with on_commit(local, lambda m, prev: self.push(local, m, prev)):
                yield local


def _read_manifest(path: Path) -> Manifest | None:
    try:
        with open(path, encoding="utf-8") as f:
            return parse_manifest(json.load(f), str(path))
    except FileNotFoundError:
        return None
