"""Learned-sparse pooling: max weight per vocabulary id, checked against a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from rag.encoders.sparse import max_weight_per_token


def hand_loop(weights, ids, mask, drop, vocab):
    out = np.zeros((weights.shape[0], vocab), dtype=np.float32)
    for row in range(weights.shape[0]):
        for w, i, m in zip(weights[row], ids[row], mask[row]):
            if m and i not in drop and w > 0 and w > out[row, i]:
                out[row, i] = w
    return out


def test_matches_hand_loop_on_random_batches():
    rng = np.random.default_rng(0)
    vocab, drop = 17, {0, 2}
    weights = rng.normal(size=(6, 30)).astype(np.float32)
    ids = rng.integers(0, vocab, size=(6, 30))  # 30 draws from 17 ids: many repeats
    mask = (np.arange(30)[None, :] < rng.integers(0, 31, size=(6, 1))).astype(np.int64)
    got = max_weight_per_token(weights, ids, vocab, drop_ids=drop, mask=mask)
    np.testing.assert_array_equal(got.toarray(), hand_loop(weights, ids, mask, drop, vocab))
    assert got.dtype == np.float32 and got.shape == (6, vocab) and got.has_sorted_indices
    assert not np.isin(got.indices, list(drop)).any()


def test_worked_example():
    # text 0: id 4 twice (0.3, 0.7) -> 0.7; id 1 negative -> dropped; text 1: only padding -> empty row
    m = max_weight_per_token(np.array([[0.3, -1.0, 0.7], [0.9, 0.0, 0.0]]), np.array([[4, 1, 4], [5, 0, 0]]), 6,
                             mask=np.array([[1, 1, 1], [0, 0, 0]]))
    assert m.toarray().tolist() == [[0, 0, 0, 0, np.float32(0.7), 0], [0, 0, 0, 0, 0, 0]]


def test_empty_batch():
    m = max_weight_per_token(np.zeros((0, 0)), np.zeros((0, 0), dtype=np.int64), 9)
    assert m.shape == (0, 9) and m.nnz == 0


def test_bad_shapes_and_ids():
    with pytest.raises(ValueError, match="must both be"):
        max_weight_per_token(np.zeros((2, 3)), np.zeros((2, 4), dtype=int), 5)
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        max_weight_per_token(np.ones((1, 2)), np.array([[1, 5]]), 5)
