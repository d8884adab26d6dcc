"""TokenStore validation, construction and row gathering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rerank import TokenStore
from rerank.store import gather_rows


def _codes(t: int, width: int = 2) -> np.ndarray:
    return np.zeros((t, width), dtype=np.uint8)


def test_from_passages_builds_offsets() -> None:
    store = TokenStore.from_passages([np.ones((2, 16)), np.zeros((0, 16)), -np.ones((3, 16))])
    assert store.binary and store.dim == 16 and store.n_passages == 3 and store.n_tokens == 5
    assert store.token_offsets.tolist() == [0, 2, 2, 5]
    assert store.codes.tolist() == [[255, 255]] * 2 + [[0, 0]] * 3
    exact = TokenStore.from_passages([np.ones((2, 16))], binary=False)
    assert exact.values.dtype == np.float16 and not exact.binary


def test_empty_store_needs_dim() -> None:
    store = TokenStore.from_passages([], dim=8)
    assert store.n_passages == 0 and store.n_tokens == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(codes=None, values=None), "exactly one"),
        (dict(codes=_codes(2), values=np.zeros((2, 16), np.float16)), "exactly one"),
        (dict(codes=_codes(2, 3), values=None), r"uint8 \[T, 2\]"),
        (dict(codes=_codes(2).astype(np.int8), values=None), "uint8"),
        (dict(codes=None, values=np.zeros((2, 16), np.float32)), "float16"),
        (dict(codes=_codes(2), values=None, token_offsets=np.array([0, 1], np.int64)), "end at"),
        (dict(codes=_codes(2), values=None, token_offsets=np.array([1, 2], np.int64)), "start at 0"),
        (dict(codes=_codes(2), values=None, token_offsets=np.array([0, 2], np.int32)), "int64"),
        (dict(codes=_codes(2), values=None, dim=12), "multiple of 8"),
        (dict(codes=_codes(2), values=None, dim=0), "positive"),
        (dict(codes=[[0, 0]], values=None), "numpy array or torch tensor"),
    ],
)
def test_bad_layout_is_explained(kwargs: dict, message: str) -> None:
    args = dict(token_offsets=np.array([0, 2], np.int64), dim=16) | kwargs
    with pytest.raises(ValueError, match=message):
        TokenStore(**args)


def test_decreasing_offsets_are_caught_by_validate_and_per_query() -> None:
    store = TokenStore(codes=_codes(2), values=None, token_offsets=np.array([0, 2, 1, 2], np.int64), dim=16)
    with pytest.raises(ValueError, match="never decrease"):
        store.validate()  # O(P); construction only checks the ends, as an index builds a store per query
    store.check_candidates(np.array([0, 2]))  # lengths 2 and 1: fine
    with pytest.raises(ValueError, match="decrease at passage 1"):
        store.check_candidates(np.array([0, 1]))
    from rerank import maxsim

    with pytest.raises(ValueError, match="decrease at passage 1"):
        maxsim(np.ones((1, 16), np.float32), store, [1], backend="cpu")
    assert TokenStore.from_passages([np.ones((2, 8))]).validate().n_passages == 1


def test_gather_rows_keeps_candidate_order() -> None:
    data = np.arange(20).reshape(10, 2)
    offsets = np.array([0, 3, 3, 4, 10], np.int64)
    rows, local = gather_rows(data, offsets, np.array([3, 1, 0, 2]))
    assert local.tolist() == [0, 6, 6, 9, 10]
    np.testing.assert_array_equal(rows, np.concatenate([data[4:10], data[0:3], data[3:4]]))
    rows, local = gather_rows(data, offsets, np.array([0, 1, 2]))  # contiguous: a slice, not a copy
    assert np.shares_memory(rows, data) and local.tolist() == [0, 3, 3, 4]
    rows, local = gather_rows(torch.from_numpy(data), offsets, np.array([2, 0]))
    assert rows.tolist() == [[6, 7], [0, 1], [2, 3], [4, 5]]


def test_to_device_copies_to_tensors() -> None:
    store = TokenStore.from_passages([np.ones((2, 16)), -np.ones((1, 16))], binary=False)
    moved = store.to("cpu", values_dtype="bfloat16")
    assert isinstance(moved.values, torch.Tensor) and moved.values.dtype == torch.bfloat16
    assert moved.device == "cpu" and moved.offsets_numpy().tolist() == [0, 2, 3]
    assert moved.token_nbytes() == store.token_nbytes()
