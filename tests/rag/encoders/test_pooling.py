"""Pooling functions against plain loops, and the pooling-mode reader."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rag.encoders.pooling import POOLING_MODES, l2_normalize, pool, token_vectors


@pytest.fixture()
def batch():
    torch.manual_seed(0)
    hidden = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    return hidden, mask


def test_modes_match_loops(batch):
    hidden, mask = batch
    for row in range(3):
        real = hidden[row][mask[row].bool()]
        expected = {
            "mean": real.mean(0),
            "cls": hidden[row, 0],
            "max": real.max(0).values,
            "lasttoken": real[-1],
            "mean_sqrt_len_tokens": real.sum(0) / len(real) ** 0.5,
        }
        for mode in POOLING_MODES:
            torch.testing.assert_close(pool(hidden, mask, mode)[row], expected[mode])


def test_bf16_input_gives_float32(batch):
    hidden, mask = batch
    assert pool(hidden.to(torch.bfloat16), mask, "mean").dtype == torch.float32


def test_unknown_mode(batch):
    with pytest.raises(ValueError, match="not supported"):
        pool(*batch, "weightedmean")


def test_normalize_and_token_vectors(batch):
    hidden, mask = batch
    vectors = token_vectors(l2_normalize(hidden), mask.bool())
    assert [v.shape for v in vectors] == [(5, 4), (2, 4), (1, 4)]
    for v in vectors:
        assert v.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)
