"""Random ragged MaxSim cases shared by the rerank tests (no models, no files); imported by name."""

from __future__ import annotations

import numpy as np

from rerank import TokenStore
from rerank.bits import unpack_bits

# Passage lengths that hit the edge cases: empty passages, one-token passages, lengths around the Triton
# token block (64) and the CPU chunk size used in the tests, and a long passage.
RAGGED_LENGTHS = (3, 0, 1, 17, 64, 65, 0, 130, 2, 1)


def normalised(rng: np.random.Generator, rows: int, d: int) -> np.ndarray:
    x = rng.standard_normal((rows, d)).astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def make_case(d: int = 128, lengths=RAGGED_LENGTHS, n_q: int = 8, seed: int = 0, binary: bool = True):
    """``(query [n_q, d], store, tokens_float [T, d])``: the float tokens the backends must agree with."""
    rng = np.random.default_rng(seed)
    passages = [normalised(rng, n, d) for n in lengths]
    store = TokenStore.from_passages(passages, binary=binary, dim=d)
    if binary:
        tokens = unpack_bits(store.codes, d)
    else:
        tokens = store.values.astype(np.float32)
    return normalised(rng, n_q, d), store, tokens


def naive_token_max(query: np.ndarray, tokens: np.ndarray, offsets: np.ndarray, ids) -> np.ndarray:
    """Float64 loops: the oracle of the oracle. ``-inf`` rows for empty passages."""
    out = np.full((len(ids), len(query)), -np.inf)
    for row, p in enumerate(ids):
        for i, q in enumerate(query.astype(np.float64)):
            for j in range(offsets[p], offsets[p + 1]):
                out[row, i] = max(out[row, i], float(np.dot(q, tokens[j].astype(np.float64))))
    return out
