"""The index folder, latte's on-disk format: a versioned manifest naming immutable files.

```
index/
  manifest.json      format, committed version, settings, models, counts, and each component's state
  docs/ bm25/ dense/ sparse/ tensors/    one folder per component: immutable segment folders + per-version files
  dedupe/            duplicates table per version (MinHash signatures live with the document segments)
  reports/           one JSONL report per ingest run (every drop with its rule)
```
A commit writes new files beside the old ones, then replaces ``manifest.json`` atomically (temporary file,
fsync, rename). Readers open the version the manifest names, so a crash or ``kill -9`` mid-ingest leaves the
last committed version readable; files no manifest names are garbage, removed by the next writer.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexers.arrays import write_json_atomic
from indexers.component import Component
from indexers.manifest import FORMAT, FORMAT_VERSION, IndexFormatError, Manifest, parse_manifest

# the format's constants, its error and its record live with the manifest (indexers.manifest)
__all__ = ["FORMAT", "FORMAT_VERSION", "IndexFormatError", "Manifest"]

MANIFEST = "manifest.json"
PREVIOUS = "manifest.previous.json"


class IndexNotFound(FileNotFoundError):
    pass


class IndexLocked(RuntimeError):
    pass


#: the table of component kinds: kind -> a function importing its class lazily (importing faiss or numba is slow)
_LOADERS: dict[str, Callable[[], type[Component]]] = {}

def register_component(kind: str, loader: Callable[[], type[Component]]) -> None:
    """Register a component kind (the table every reader of kinds uses); ``loader`` imports its class lazily.

    The class satisfies :class:`indexers.component.Component`; its constructor makes a new, empty component
    (:func:`create_component`), the writer adds batches to it, saves it at commit, and ``Snapshot.open`` loads it."""
    _LOADERS[kind] = loader


def registered_kinds() -> list[str]:
    """Every registered component kind, in registration order."""
    return list(_LOADERS)


def component_class(kind: str) -> type[Component]:
    try:
        return _LOADERS[kind]()
    except KeyError:
        raise IndexFormatError(f"unknown index component {kind!r}; this latte knows {sorted(_LOADERS)}") from None


def create_component(kind: str, **params: Any) -> Component:
    """A new, empty component of a registered kind: its class called with ``params`` (e.g. ``dim`` for ``dense``).

    >>> create_component("docs").kind
    'docs'
    """
    return component_class(kind)(**params)


def _docs() -> type[Component]:
    from indexers.docstore import DocStore

    return DocStore


def _bm25() -> type[Component]:
    from indexers.bm25 import BM25Index

    return BM25Index


def _bm25_passages() -> type[Component]:
    from indexers.passage_bm25 import PassageBM25Index

    return PassageBM25Index


def _dense() -> type[Component]:
    from indexers.dense import DenseIndex

    return DenseIndex


def _sparse() -> type[Component]:
    from indexers.sparse import SparseIndex

    return SparseIndex


def _tensors() -> type[Component]:
    from indexers.tensors import TensorIndex

    return TensorIndex


register_component("docs", _docs)
register_component("bm25", _bm25)
register_component("bm25_passages", _bm25_passages)
register_component("dense", _dense)
register_component("sparse", _sparse)
register_component("tensors", _tensors)


#: hooks run after a local commit of a folder (``indexers.storage`` publishes it to object storage)
_COMMIT_HOOKS: dict[Path, Callable[[Manifest, Manifest | None], None]] = {}


@contextmanager
def on_commit(path: str | Path, hook: Callable[[Manifest, Manifest | None], None]) -> Iterator[None]:
    """Call ``hook(manifest, previous)`` after each commit of the folder at ``path`` while the block runs (after
    the local manifest switch, before old files are collected); an exception in it fails the commit."""
    key = Path(path).resolve()
    _COMMIT_HOOKS[key] = hook
    try:
        yield
    finally:
        _COMMIT_HOOKS.pop(key, None)


def tag_for(version: int) -> str:
    return f"v{version:06d}"


class IndexFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> Manifest:
        """The committed manifest (the one place an index folder's ``manifest.json`` is read)."""
        import json

        if not self.manifest_path.is_file():
            raise IndexNotFound(
                f"no index at {self.path} (no {MANIFEST}); build one with: latte ingest PATH --index {self.path}"
            )
        with open(self.manifest_path, encoding="utf-8") as f:
            return parse_manifest(json.load(f), str(self.manifest_path))

    def read_previous(self) -> Manifest | None:
        """The version before the committed one (kept readable for a reader that raced the switch), or None."""
        import json

        p = self.path / PREVIOUS
        if not p.is_file():
            return None
        with open(p, encoding="utf-8") as f:
            return parse_manifest(json.load(f), str(p))

    @contextmanager
    def write_lock(self, timeout: float = 30.0) -> Iterator[None]:
        """Serialise writers across processes (flock on ``index/LOCK``)."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "LOCK", os.O_CREAT | os.O_RDWR, 0o644)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                        raise IndexLocked(
                            f"another process is writing to {self.path}; wait for it to finish and retry"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def commit(self, manifest: Manifest, previous: Manifest | None) -> None:
        """Make ``manifest`` the committed version (atomic), keep ``previous`` readable, drop older garbage."""
        if previous is not None:
            write_json_atomic(self.path / PREVIOUS, previous.to_dict())
        write_json_atomic(self.manifest_path, manifest.to_dict())
        hook = _COMMIT_HOOKS.get(self.path.resolve()) if _COMMIT_HOOKS else None
        if hook is not None:
            hook(manifest, previous)
        self.collect_garbage([m for m in (manifest, previous) if m is not None])

    def collect_garbage(self, keep: list[Manifest]) -> list[Path]:
        """Remove component files no kept manifest names (left by older versions or a crashed writer)."""
        needed: dict[str, set[str]] = {}
        for m in keep:
            for kind, state in m.components.items():
                needed.setdefault(kind, set()).update(component_class(kind).files_of(state))
            for kind, names in m.extra_files.items():
                needed.setdefault(kind, set()).update(names)
        removed: list[Path] = []
        for kind in set(needed) | {k for k in _LOADERS if (self.path / k).is_dir()}:
            folder = self.path / kind
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.name not in needed.get(kind, set()):
                    (shutil.rmtree if entry.is_dir() else os.remove)(entry)
                    removed.append(entry)
        return removed


@dataclass
class Snapshot:
    """A committed version, opened read-only: the manifest plus each component loaded (arrays memory-mapped)."""

    path: Path
    manifest: Manifest
    components: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.manifest.version

    def __getitem__(self, kind: str) -> Any:
        return self.components[kind]

    def get(self, kind: str) -> Any:
        return self.components.get(kind)

    @classmethod
    def open(cls, path: str | Path, *, mmap: bool = True, retries: int = 3) -> Snapshot:
        folder = IndexFolder(path)
        for attempt in range(retries + 1):
            manifest = folder.read_manifest()
            try:
                comps = {
                    kind: component_class(kind).load(folder.path / kind, state, mmap=mmap)
                    for kind, state in manifest.components.items()
                }
                return cls(folder.path, manifest, comps)
            except FileNotFoundError:
                # a writer committed and collected this version's files between our two reads: read again
                if attempt == retries:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")
