"""Length-sorted batching, padding and encode-request validation."""

from __future__ import annotations

import numpy as np
import pytest

from rag.encoders.batching import check_request, length_sorted_batches, model_token_limit, pad_right


def test_batches_cover_every_position_once_longest_first():
    lengths = [5, 1, 9, 9, 3, 7, 2]
    batches = length_sorted_batches(lengths, 3)
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(len(lengths)))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True)
    restored = np.empty(len(lengths), dtype=int)
    restored[order] = [lengths[i] for i in order]
    assert restored.tolist() == lengths


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        length_sorted_batches([1, 2], 0)


def test_pad_right_empty():
    ids, mask = pad_right([], 0)
    assert tuple(ids.shape) == (0, 0) and tuple(mask.shape) == (0, 0)


def test_check_request_errors():
    with pytest.raises(TypeError, match="wrap it in a list"):
        check_request("one text", "query", ["dense"])
    with pytest.raises(TypeError, match="item 1"):
        check_request(["a", 3], "query", ["dense"])
    with pytest.raises(ValueError, match="'query' or 'document'"):
        check_request(["a"], "passage", ["dense"])
    with pytest.raises(ValueError, match="unknown representation"):
        check_request(["a"], "query", ["colbert"])
    with pytest.raises(TypeError, match="not a string"):
        check_request(["a"], "query", "dense")


class _Config:
    def __init__(self, model_type, positions, pad=1):
        self.model_type, self.max_position_embeddings, self.pad_token_id = model_type, positions, pad


class _Tokenizer:
    def __init__(self, limit):
        self.model_max_length = limit


def test_model_token_limit():
    assert model_token_limit(_Config("xlm-roberta", 8194), _Tokenizer(8192)) == 8192
    assert model_token_limit(_Config("xlm-roberta", 514), _Tokenizer(int(1e30))) == 512
    assert model_token_limit(_Config("bert", 512, pad=0), _Tokenizer(256)) == 256
