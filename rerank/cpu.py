"""MaxSim on the CPU over binary codes or float16 values, batched over ragged candidates.

Candidates are sorted by length and cut into chunks of about ``chunk_tokens`` padded token rows, so each
chunk's similarities ``[n, longest, n_q]`` stay in cache; padded rows score ``-inf`` and a plain ``amax``
over the token axis gives each passage's per-query-token maximum. Chunks run on a pool of ``threads``
worker threads (each with one torch intra-op thread; the caller's thread settings are restored).

Three kernels for binary codes (``method``):

- ``"fused_lut"`` (default when numba is installed): ``rerank.lut_kernel``, the query byte tables below summed
  and maxed in one compiled loop per passage, with no padded copy and no ``tokens x n_q`` intermediate.
- ``"query_lut"`` (the default without numba): for each byte position ``k`` and each byte value ``b`` the table
  holds the 256 partial sums ``q[:, 8k:8k+8] . bits(b)``; a token's dot product with every query token
  is then the sum of ``d/8`` table rows, which ``torch.nn.functional.embedding_bag(mode="sum")`` does
  in one call (a padded row points at a row of ``-inf``).
- ``"unpack_gemm"``: unpack the bytes with the 256-entry table ``LUT[byte] -> 8 floats`` and multiply
  with one BLAS GEMM ``[rows, d] x [d, n_q]``.

Float16 values (exact mode) are converted to float32 per chunk and multiplied with the same GEMM.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from rerank import lut_kernel
from rerank._lazy import import_torch
from rerank.bits import byte_bit_table, packed_width
from rerank.store import TokenStore, dtype_name, is_tensor

BINARY_METHODS = ("fused_lut", "query_lut", "unpack_gemm")
# benchmarks/bench_maxsim.py: fused_lut about 2.5x less time than query_lut, which takes 2.2-2.9x less than unpack_gemm
DEFAULT_BINARY_METHOD = "fused_lut"


def default_binary_method() -> str:
    """``"fused_lut"`` when numba is installed, else ``"query_lut"``."""
    return DEFAULT_BINARY_METHOD if lut_kernel.available() else "query_lut"
DEFAULT_CHUNK_TOKENS = 4096
#: below this many candidate tokens the fused kernel runs on one thread unless told otherwise: a call that small
#: takes a few milliseconds, and waking a second thread costs as much again on a busy machine (SciFact's rerank of
#: 100 documents is one call of about 40k tokens plus a few of about 1k, one per tensor segment)
PARALLEL_MIN_TOKENS = 16384


def query_byte_table(query: np.ndarray) -> np.ndarray:
    """Partial sums of each query token over each byte of a packed token: float32 ``[(d/8) * 256 + 1, n_q]``.

    Row ``k * 256 + b`` holds ``sum_j bit_j(b) * query[:, 8k + j]`` (little bit order); the last row is ``-inf``
    and marks padding. ``query`` is float32 ``[n_q, d]`` with ``d % 8 == 0``.

    >>> table = query_byte_table(np.array([[1, 2, 3, 4, 5, 6, 7, 8]], dtype=np.float32))
    >>> table.shape, table[[0, 5, 255, 256], 0].tolist()  # 5 = bits 0 and 2: 1 + 3; 255: 1 + ... + 8
    ((257, 1), [0.0, 4.0, 36.0, -inf])
    """
    n_q, d = query.shape
    k = packed_width(d)
    per_bit = query.astype(np.float32).reshape(n_q, k, 8).transpose(1, 2, 0)  # [k, 8, n_q]
    table = np.empty((k * 256 + 1, n_q), dtype=np.float32)
    sums = table[:-1].reshape(k, 256, n_q)
    sums[:, 0] = 0.0
    for j in range(8):  # bytes whose highest set bit is j: the sum of the byte without it, plus q[8k + j]
        sums[:, 1 << j:2 << j] = sums[:, :1 << j] + per_bit[:, j, None, :]
    table[-1] = -np.inf
    return table


_LAST_TABLE: tuple[bytes, np.ndarray] | None = None


def _byte_table(query: np.ndarray) -> np.ndarray:
    """:func:`query_byte_table`, remembered for the last query: a rerank calls the kernel once per tensor segment
    with the same query (0.6 ms a table for 16 tokens of 384 dimensions)."""
    global _LAST_TABLE
    key = query.dtype.str.encode() + bytes(str(query.shape), "ascii") + query.tobytes()
    last = _LAST_TABLE
    if last is not None and last[0] == key:
        return last[1]
    table = query_byte_table(query)
    _LAST_TABLE = (key, table)
    return table


def plan_chunks(lengths: np.ndarray, chunk_tokens: int) -> list[np.ndarray]:
    """Cut candidate positions into chunks of padded size ``count * longest <= chunk_tokens`` (at least 1 each).

    Positions are taken longest first, so a chunk pads little. ``lengths`` must all be positive.

    >>> [c.tolist() for c in plan_chunks(np.array([3, 8, 2, 8]), 16)]
    [[1, 3], [0, 2]]
    """
    order = np.argsort(-lengths, kind="stable")
    chunks, i = [], 0
    while i < len(order):
        count = max(1, chunk_tokens // int(lengths[order[i]]))
        chunks.append(order[i:i + count])
        i += count
    return chunks


def _padded_rows(data: Any, starts: np.ndarray, lengths: np.ndarray) -> tuple[Any, np.ndarray]:
    """Rows of each passage copied into ``[n, longest, width]`` (pads are zero) and the valid mask ``[n, longest]``."""
    longest = int(lengths.max())
    shape = (len(starts), longest, data.shape[1])
    if is_tensor(data):
        buffer = import_torch().zeros(shape, dtype=data.dtype)
    else:
        buffer = np.zeros(shape, dtype=data.dtype)
    for i, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist())):
        buffer[i, :length] = data[start:start + length]
    valid = np.arange(longest)[None, :] < lengths[:, None]
    return buffer, valid


def _lut_chunk(table: Any, rows: np.ndarray, valid: np.ndarray) -> Any:
    """Per-query-token max ``[n, n_q]`` of a chunk of packed rows ``[n, longest, d/8]`` with the query byte table."""
    torch = import_torch()
    n, longest, k = rows.shape
    index = torch.from_numpy(rows).int().add_(torch.arange(0, k * 256, 256, dtype=torch.int32))  # row of byte k
    if not valid.all():
        index[torch.from_numpy(~valid)] = k * 256  # the -inf row
    sims = torch.nn.functional.embedding_bag(index.view(n * longest, k), table, mode="sum")
    return sims.view(n, longest, -1).amax(dim=1)


def _gemm_chunk(query_t: Any, x: Any, valid: np.ndarray) -> Any:
    """Per-query-token max ``[n, n_q]`` from float32 rows ``x [n * longest, d]`` and ``query_t [d, n_q]``."""
    torch = import_torch()
    n, longest = valid.shape
    sims = torch.mm(x, query_t).view(n, longest, -1)
    if not valid.all():
        sims.masked_fill_(torch.from_numpy(~valid)[:, :, None], float("-inf"))
    return sims.amax(dim=1)


def _chunk_kernel(query: np.ndarray, store: TokenStore, method: str) -> Callable[[Any, np.ndarray], Any]:
    """The function ``(rows [n, longest, width], valid [n, longest]) -> [n, n_q]`` for this store and method."""
    torch = import_torch()
    if store.binary and method == "query_lut":
        table = torch.from_numpy(query_byte_table(query))
        return lambda rows, valid: _lut_chunk(table, rows, valid)
    query_t = torch.from_numpy(np.ascontiguousarray(query.T))
    if store.binary:
        lut = byte_bit_table("float32")

        def unpack(rows: np.ndarray, valid: np.ndarray) -> Any:
            x = lut.take(rows.reshape(-1), axis=0).reshape(valid.size, -1)
            return _gemm_chunk(query_t, torch.from_numpy(x), valid)

        return unpack

    def exact(rows: Any, valid: np.ndarray) -> Any:
        x = (rows if is_tensor(rows) else torch.from_numpy(rows)).float()  # torch converts float16 with SIMD
        return _gemm_chunk(query_t, x.reshape(valid.size, -1), valid)

    return exact


def token_max_cpu(
    query: np.ndarray,
    store: TokenStore,
    passage_ids: np.ndarray,
    *,
    method: str = "auto",
    threads: int | None = None,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
) -> np.ndarray:
    """Per query token, the best dot product in each candidate passage, on the CPU.

    ``query`` float32 ``[n_q, d]``; ``passage_ids`` int64 ``[m]`` (in range, any order). Binary stores score
    the bits as 0/1 values. Returns float32 ``[m, n_q]``; the row of an empty passage is ``-inf``.
    ``method``: ``"auto"`` | ``"fused_lut"`` | ``"query_lut"`` | ``"unpack_gemm"`` (binary) | ``"gemm"`` (float values);
    ``threads``: worker threads over chunks (default: torch's intra-op thread count).

    >>> store = TokenStore.from_passages([np.array([[1.0] * 8, [-1.0] * 8]), np.zeros((0, 8))])
    >>> q = np.arange(8, dtype=np.float32)[None] / 8  # token 0 has all bits set: (0 + 1 + ... + 7) / 8 = 3.5
    >>> token_max_cpu(q, store, np.array([0, 1])).tolist()
    [[3.5], [-inf]]
    """
    torch = import_torch()
    if store.device != "cpu":
        raise ValueError(f"the cpu backend reads host memory but the store lives on {store.device}; "
                         "use backend='cuda' or pass a store built from numpy arrays")
    if method == "auto":
        method = default_binary_method() if store.binary else "gemm"
    allowed = BINARY_METHODS if store.binary else ("gemm",)
    if method not in allowed:
        raise ValueError(f"method {method!r} does not apply to a {'binary' if store.binary else 'float'} store; "
                         f"use one of {allowed} or 'auto'")
    if chunk_tokens < 1:
        raise ValueError(f"chunk_tokens must be >= 1, got {chunk_tokens}")
    data = store.data
    if is_tensor(data) and dtype_name(data) != "bfloat16":
        data = data.numpy()
    offsets = store.offsets_numpy()
    starts = offsets[passage_ids]
    lengths = offsets[passage_ids + 1] - starts
    out = np.full((len(passage_ids), query.shape[0]), -np.inf, dtype=np.float32)
    filled = np.flatnonzero(lengths > 0)
    if len(filled) == 0:
        return out
    workers = max(1, threads if threads is not None else torch.get_num_threads())
    if method == "fused_lut":
        if threads is None and int(lengths[filled].sum()) < PARALLEL_MIN_TOKENS:
            workers = 1
        table = _byte_table(np.ascontiguousarray(query, dtype=np.float32))
        codes = data.numpy() if is_tensor(data) else data
        out[filled] = lut_kernel.lut_token_max(codes, starts[filled], lengths[filled], table, threads=workers)
        return out
    kernel = _chunk_kernel(np.ascontiguousarray(query, dtype=np.float32), store, method)

    def run(chunk: np.ndarray) -> None:
        positions = filled[chunk]
        rows, valid = _padded_rows(data, starts[positions], lengths[positions])
        out[positions] = kernel(rows, valid).numpy()

    chunks = plan_chunks(lengths[filled], chunk_tokens)
    caller_threads = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(min(workers, len(chunks)), initializer=torch.set_num_threads, initargs=(1,)) as pool:
            for _ in pool.map(run, chunks):
                pass
    finally:
        torch.set_num_threads(caller_threads)  # set_num_threads in a worker also sets the default of new threads
    return out
