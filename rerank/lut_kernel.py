"""Fused binary MaxSim on the CPU: query byte tables, summed and maxed in registers (compiled with numba).

The same arithmetic as ``rerank.cpu``'s ``"query_lut"`` method (the table row ``k * 256 + b`` holds the
partial dot products of every query token with the 8 bits of byte value ``b`` at byte position ``k``), but
in one compiled loop per passage: for each token, its ``d/8`` table rows are added into a register-sized
accumulator of ``n_q`` floats, which is folded into the running per-query-token maximum at once. Nothing
of size ``tokens x n_q`` is ever written to memory, no padded copy of the candidates is made, and the
table (``d/8 * 256 * n_q`` floats: 512 KiB for d=128, n_q=32) stays in the L2 cache. Passages are spread
over threads with ``numba.prange``.

numba is imported lazily; ``available()`` says whether this kernel can run. The kernel is compiled on first
use (about a second) and cached on disk by numba (``NUMBA_CACHE_DIR`` chooses where).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

#: tokens summed side by side in the kernel (4 beat 1 and 2 here: benchmarks/bench_maxsim.py)
BLOCK = 4

@lru_cache(maxsize=1)
def available() -> bool:
    """True when numba imports (the kernel can run)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _kernel() -> Callable[..., None]:
    try:
        import numba
    except ImportError as exc:
        raise ImportError("the fused CPU MaxSim kernel needs numba: pip install numba "
                          "(or use method='query_lut', the torch implementation)") from exc

    @numba.njit(parallel=True, cache=True, nogil=True, boundscheck=False, error_model="numpy")
    def token_max_lut(codes, starts, lengths, table, out):  # pragma: no cover - compiled, tested via lut_token_max
        m = starts.shape[0]
        width = codes.shape[1]
        n_q = table.shape[1]
        for i in numba.prange(m):
            start = starts[i]
            end = start + lengths[i]
            best = np.full(n_q, -np.inf, dtype=np.float32)
            acc = np.empty((BLOCK, n_q), dtype=np.float32)
            t = start
            while t < end:  # BLOCK tokens at a time: independent sums keep the adders busy while rows load
                n = min(BLOCK, end - t)
                for u in range(n):
                    row = np.int64(codes[t + u, 0])
                    for j in range(n_q):
                        acc[u, j] = table[row, j]
                for k in range(1, width):
                    for u in range(n):
                        row = k * 256 + np.int64(codes[t + u, k])
                        for j in range(n_q):
                            acc[u, j] += table[row, j]
                for u in range(n):
                    for j in range(n_q):
                        best[j] = max(best[j], acc[u, j])
                t += n
            if end > start:
                for j in range(n_q):
                    out[i, j] = best[j]

    return token_max_lut


def lut_token_max(codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray, table: np.ndarray,
                  threads: int | None = None) -> np.ndarray:
    """Per query token, the best dot product in each passage: float32 ``[m, n_q]`` (``-inf`` for an empty passage).

    ``codes`` uint8 ``[tokens, d/8]`` (packed sign bits, may be memory-mapped); ``starts``/``lengths`` int64 ``[m]``
    (each passage's token rows); ``table`` float32 ``[(d/8) * 256 (+1), n_q]`` from ``rerank.cpu.query_byte_table``
    (a trailing padding row is ignored). ``threads``: numba threads for this call (default: numba's count).

    >>> from rerank.cpu import query_byte_table
    >>> codes = np.array([[0b00000101], [0b11111111]], dtype=np.uint8)  # token 0: bits 0 and 2; token 1: all bits
    >>> table = query_byte_table(np.array([[1, 2, 3, 4, 5, 6, 7, 8]], dtype=np.float32))
    >>> lut_token_max(codes, np.array([0, 0, 2]), np.array([1, 2, 0]), table).tolist()
    [[4.0], [36.0], [-inf]]
    """
    kernel = _kernel()
    import numba

    codes = np.asarray(codes)
    if codes.dtype != np.uint8 or codes.ndim != 2:
        raise ValueError(f"codes must be uint8 [tokens, d/8], got {codes.dtype} {codes.shape}")
    n_q = table.shape[1]
    width = codes.shape[1]
    if table.shape[0] < width * 256:
        raise ValueError(f"table has {table.shape[0]} rows but {width} code bytes need {width * 256}")
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    if len(starts) and (int(lengths.min(initial=0)) < 0
                        or int((starts + lengths).max(initial=0)) > codes.shape[0] or int(starts.min()) < 0):
        raise ValueError("passage rows fall outside the codes array")
    out = np.full((len(starts), n_q), -np.inf, dtype=np.float32)
    if len(starts) == 0:
        return out
    table = np.ascontiguousarray(table[: width * 256], dtype=np.float32)
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        kernel(codes, starts, lengths, table, out)
    finally:
        numba.set_num_threads(previous)
    return out


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel now, e.g. in a server's startup, not on the first query."""
    if available():
        lut_token_max(np.zeros((1, 1), np.uint8), np.zeros(1, np.int64), np.ones(1, np.int64),
                      np.zeros((256, 1), np.float32))


def describe() -> dict[str, Any]:
    """Which compiled kernel runs (for ``latte info`` and the benchmark's JSON)."""
    if not available():
        return {"numba": None}
    import numba

    return {"numba": numba.__version__, "threads": numba.get_num_threads(), "layer": numba.config.THREADING_LAYER}
