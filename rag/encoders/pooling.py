"""Pooling of token states into one vector per text, and per-text token vectors.

Pure functions on tensors: ``hidden`` is ``[b, t, d]``, ``mask`` is ``[b, t]`` (1 for real
tokens, 0 for padding; right padding). Results are float32 whatever the model dtype, so the
maths after the model runs at full precision.
"""

from __future__ import annotations

import math

import numpy as np
import torch

POOLING_MODES = ("mean", "cls", "max", "lasttoken", "mean_sqrt_len_tokens")


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of the real tokens: ``[b, t, d], [b, t] -> [b, d]``.

    >>> mean_pool(torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]]), torch.tensor([[1, 1, 0]]))
    tensor([[2., 3.]])
    """
    weights = mask.to(torch.float32).unsqueeze(-1)
    total = (hidden.to(torch.float32) * weights).sum(dim=1)
    return total / weights.sum(dim=1).clamp(min=1e-9)


def mean_sqrt_len_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the real tokens over the square root of their count: ``[b, t, d], [b, t] -> [b, d]``.

    >>> mean_sqrt_len_pool(torch.tensor([[[1.0], [3.0], [0.0], [0.0]]]), torch.tensor([[1, 1, 1, 1]]))
    tensor([[2.]])
    """
    weights = mask.to(torch.float32).unsqueeze(-1)
    total = (hidden.to(torch.float32) * weights).sum(dim=1)
    return total / weights.sum(dim=1).clamp(min=1e-9).sqrt()


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The first token's state: ``[b, t, d] -> [b, d]`` (``mask`` unused, kept for a common signature).

    >>> cls_pool(torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]), torch.tensor([[1, 1]]))
    tensor([[1., 2.]])
    """
    return hidden[:, 0].to(torch.float32)


def max_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over the real tokens: ``[b, t, d], [b, t] -> [b, d]``.

    >>> max_pool(torch.tensor([[[1.0, 5.0], [3.0, 4.0], [9.0, 9.0]]]), torch.tensor([[1, 1, 0]]))
    tensor([[3., 5.]])
    """
    hidden = hidden.to(torch.float32).masked_fill(~mask.bool().unsqueeze(-1), -math.inf)
    return hidden.max(dim=1).values


def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The last real token's state (right padding): ``[b, t, d], [b, t] -> [b, d]``.

    >>> last_token_pool(torch.tensor([[[1.0], [2.0], [7.0]]]), torch.tensor([[1, 1, 0]]))
    tensor([[2.]])
    """
    last = (mask.sum(dim=1) - 1).clamp(min=0).to(torch.long)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last].to(torch.float32)


_POOLERS = {
    "mean": mean_pool,
    "cls": cls_pool,
    "max": max_pool,
    "lasttoken": last_token_pool,
    "mean_sqrt_len_tokens": mean_sqrt_len_pool,
}


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Dispatch to one of ``POOLING_MODES``; ``[b, t, d], [b, t] -> [b, d]`` float32."""
    if mode not in _POOLERS:
        raise ValueError(f"pooling mode {mode!r} is not supported; supported: {', '.join(POOLING_MODES)}.")
    return _POOLERS[mode](hidden, mask)


def l2_normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Rows scaled to unit length (zero rows stay zero): ``[..., d] -> [..., d]`` float32.

    >>> l2_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[0.6000, 0.8000],
            [0.0000, 0.0000]])
    """
    return torch.nn.functional.normalize(x.to(torch.float32), p=2.0, dim=-1, eps=eps)


def token_vectors(vectors: torch.Tensor, keep: torch.Tensor) -> list[np.ndarray]:
    """Per-text float32 arrays of the kept token vectors: ``[b, t, d], [b, t] bool -> b x [k_i, d]``.

    >>> [v.tolist() for v in token_vectors(torch.tensor([[[1.0], [2.0], [3.0]]]), torch.tensor([[False, True, True]]))]
    [[[2.0], [3.0]]]
    """
    vectors = vectors.to(torch.float32).cpu()
    keep = keep.bool().cpu()
    return [vectors[i][keep[i]].numpy() for i in range(vectors.shape[0])]
