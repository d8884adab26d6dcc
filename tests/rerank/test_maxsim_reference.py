"""The PyTorch reference against float64 loops, and a case worked by hand."""

from __future__ import annotations

import numpy as np
import torch
from maxsim_cases import make_case, naive_token_max

from rerank.reference import maxsim_reference, token_max_reference


def test_hand_worked_example() -> None:
    # query tokens a = (1, 0), b = (0, 1); passage 0 = {(0.5, 0.5), (1, -1)}, passage 1 = {(0, 2)}, passage 2 empty
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    tokens = np.array([[0.5, 0.5], [1.0, -1.0], [0.0, 2.0]])
    offsets = np.array([0, 2, 3, 3])
    scores = maxsim_reference(q, tokens, offsets, np.array([0, 1, 2, 0]))
    # passage 0: max(0.5, 1) + max(0.5, -1) = 1.5; passage 1: 0 + 2 = 2; passage 2 (empty): 0
    assert scores.dtype == torch.float32
    assert scores.tolist() == [1.5, 2.0, 0.0, 1.5]


def test_matches_float64_loops_on_ragged_input() -> None:
    query, store, tokens = make_case(d=16, lengths=(3, 0, 1, 9, 2), n_q=3, seed=1, binary=False)
    ids = np.array([4, 0, 1, 3, 3, 2])
    got = token_max_reference(query, tokens, store.token_offsets, ids).numpy()
    want = naive_token_max(query, tokens, store.token_offsets, ids)
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-6, atol=1e-6)


def test_batches_do_not_change_results(monkeypatch) -> None:
    import rerank.reference as reference

    query, store, tokens = make_case(d=32, lengths=(5, 40, 0, 7, 33), n_q=4, seed=2, binary=False)
    ids = np.arange(5)
    whole = maxsim_reference(query, tokens, store.token_offsets, ids)
    monkeypatch.setattr(reference, "_BATCH_ROWS", 16)  # forces one candidate per batch
    np.testing.assert_allclose(maxsim_reference(query, tokens, store.token_offsets, ids), whole, rtol=1e-6)
