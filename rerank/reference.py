"""Plain PyTorch MaxSim (einsum, max, sum): the oracle every backend is tested against.

``MaxSim(q, p) = sum_i max_j q_i . x_j`` over the query tokens ``i`` and the passage tokens ``j``.
Candidates are padded to the longest one in a batch and padded positions are masked with ``-inf``;
an empty passage (0 tokens) scores 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rerank._lazy import import_torch
from rerank.bits import _as_numpy
from rerank.store import to_tensor

# A batch of candidates is cut so that the padded tokens [batch, longest, d] stay below this many rows: on the
# CPU 16 MiB of float32 at d = 128 (small enough for the allocator to reuse, so no page faults per batch); on a
# GPU larger batches keep the launch count low.
_BATCH_ROWS = 1 << 15
_BATCH_ROWS_GPU = 1 << 20


def _as_float_tensor(x: Any, name: str) -> Any:
    torch = import_torch()
    tensor = x if isinstance(x, torch.Tensor) else to_tensor(np.asarray(x))
    if tensor.ndim != 2 or not tensor.is_floating_point():
        raise ValueError(f"{name} must be a 2-D float array, got {tensor.dtype} {tuple(tensor.shape)}")
    return tensor.float()


def token_max_reference(query: Any, tokens_float: Any, token_offsets: Any, passage_ids: Any) -> Any:
    """Per query token, the best dot product in each candidate passage.

    Shapes: ``query`` float ``[n_q, d]``, ``tokens_float`` float ``[T, d]``, ``token_offsets`` int64 ``[P + 1]``,
    ``passage_ids`` int ``[m]``. Returns a float32 tensor ``[m, n_q]`` on the tokens' device; the row of an
    empty passage is ``-inf``.

    >>> q = [[1.0, 0.0], [0.0, 1.0]]
    >>> x = [[0.5, 0.5], [1.0, -1.0]]
    >>> token_max_reference(np.array(q), np.array(x), np.array([0, 2, 2]), np.array([0, 1])).tolist()
    [[1.0, 0.5], [-inf, -inf]]
    """
    torch = import_torch()
    tokens = _as_float_tensor(tokens_float, "tokens_float")
    q = _as_float_tensor(query, "query").to(tokens.device)
    if q.shape[1] != tokens.shape[1]:
        raise ValueError(f"query dim {q.shape[1]} != token dim {tokens.shape[1]}")
    offsets = _as_numpy(token_offsets).astype(np.int64)
    ids = _as_numpy(passage_ids).astype(np.int64).reshape(-1)
    starts, lengths = offsets[ids], offsets[ids + 1] - offsets[ids]
    out = torch.full((len(ids), q.shape[0]), float("-inf"), dtype=torch.float32, device=tokens.device)
    batch_rows = _BATCH_ROWS if tokens.device.type == "cpu" else _BATCH_ROWS_GPU
    lo = 0
    while lo < len(ids):
        hi, longest = lo + 1, int(lengths[lo])  # grow the batch while the padded block stays small
        while hi < len(ids) and (hi + 1 - lo) * max(longest, int(lengths[hi]), 1) <= batch_rows:
            longest = max(longest, int(lengths[hi]))
            hi += 1
        if longest > 0:
            positions = torch.arange(longest, device=tokens.device)
            batch_starts = torch.from_numpy(starts[lo:hi]).to(tokens.device)
            batch_lengths = torch.from_numpy(lengths[lo:hi]).to(tokens.device)
            valid = positions[None, :] < batch_lengths[:, None]  # [b, longest]
            rows = torch.where(valid, batch_starts[:, None] + positions[None, :], 0)
            x = tokens[rows]  # [b, longest, d]
            sims = torch.einsum("bjd,id->bji", x, q)  # [b, longest, n_q]
            sims = sims.masked_fill(~valid[:, :, None], float("-inf"))
            out[lo:hi] = sims.amax(dim=1)
        lo = hi
    return out


def maxsim_reference(query: Any, tokens_float: Any, token_offsets: Any, passage_ids: Any) -> Any:
    """MaxSim of ``query`` against each candidate passage: float32 tensor ``[m]``; an empty passage scores 0.

    Shapes as in ``token_max_reference``. Worked example: query tokens (1, 0) and (0, 1); passage 0 has
    tokens (0.5, 0.5) and (1, -1): max(0.5, 1) + max(0.5, -1) = 1.5; passage 1 is empty: 0.

    >>> q = [[1.0, 0.0], [0.0, 1.0]]
    >>> x = [[0.5, 0.5], [1.0, -1.0]]
    >>> maxsim_reference(np.array(q), np.array(x), np.array([0, 2, 2]), np.array([0, 1, 0])).tolist()
    [1.5, 0.0, 1.5]
    """
    best = token_max_reference(query, tokens_float, token_offsets, passage_ids)
    return scores_from_token_max(best)


def scores_from_token_max(best: Any) -> Any:
    """Sum ``[m, n_q]`` per-query-token maxima into passage scores ``[m]``; rows of ``-inf`` (empty passages) give 0.

    >>> torch = import_torch()
    >>> scores_from_token_max(torch.tensor([[1.0, 2.0], [float("-inf"), float("-inf")]])).tolist()
    [3.0, 0.0]
    """
    torch = import_torch()
    empty = torch.isneginf(best[:, 0]) if best.shape[1] else torch.ones(best.shape[0], dtype=torch.bool)
    return best.sum(dim=1).masked_fill(empty, 0.0).float()
