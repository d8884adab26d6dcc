"""Small helpers for indexes stored as folders of arrays: durable writes and memory-mapped loads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc


def fit_mask(mask: np.ndarray, n: int) -> np.ndarray:
    """A bool mask cut or padded (with False) to length ``n``: filters built before later adds still apply."""
    mask = np.asarray(mask, dtype=bool)
    return mask[:n] if len(mask) >= n else np.concatenate([mask, np.zeros(n - len(mask), dtype=bool)])


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write an array and fsync it (the commit that names it comes later)."""
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def load_npy(path: Path, mmap: bool = True) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON beside ``path``, fsync, then rename over it: readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=_json_default)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_arrow(path: Path, table: pa.Table) -> None:
    with open(path, "wb") as f:
        with ipc.new_file(f, table.schema) as w:
            w.write_table(table)
        f.flush()
        os.fsync(f.fileno())


def read_arrow(path: Path, mmap: bool = True) -> pa.Table:
    """Read an Arrow IPC file; with ``mmap`` the columns point into the page cache (zero copy)."""
    source = pa.memory_map(str(path), "r") if mmap else pa.OSFile(str(path), "r")
    return ipc.open_file(source).read_all()
