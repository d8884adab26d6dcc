"""Length-sorted batching: texts of similar length share a batch, so little compute goes to padding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Split positions ``0..n-1`` into batches of at most ``batch_size``, longest texts first.

    The sort is stable, so equal lengths keep their input order. Concatenating the batches gives
    a permutation ``order``; results computed in that order go back with ``out[order] = results``.

    >>> [b.tolist() for b in length_sorted_batches([3, 9, 1, 9], 2)]
    [[1, 3], [0, 2]]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_right(sequences: Sequence[Sequence[int]], pad_value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad integer sequences: ``b`` lists -> ``(values [b, t] long, mask [b, t] long)``.

    >>> ids, mask = pad_right([[5, 6, 7], [8]], pad_value=0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]])
    """
    width = max((len(s) for s in sequences), default=0)
    values = torch.full((len(sequences), width), pad_value, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        values[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = 1
    return values, mask


REPRESENTATIONS = ("dense", "sparse", "multivector")
KINDS = ("query", "document")


def check_request(texts: Sequence[str], kind: str, want: Sequence[str]) -> list[str]:
    """Validate an ``encode`` call's arguments and return the texts as a list.

    >>> check_request(("a", "b"), "query", ["dense"])
    ['a', 'b']
    """
    if isinstance(texts, str):
        raise TypeError("encode() takes a sequence of texts, not one string: wrap it in a list, e.g. [text].")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"encode() takes strings; item {bad[0]} is {type(texts[bad[0]]).__name__}.")
    if kind not in KINDS:
        raise ValueError(f"kind must be 'query' or 'document', got {kind!r}.")
    if isinstance(want, str):
        raise TypeError(f"want must be a sequence of representations, e.g. [{want!r}], not a string.")
    unknown = [w for w in want if w not in REPRESENTATIONS]
    if unknown:
        raise ValueError(f"unknown representation(s) {unknown}; choose from {', '.join(REPRESENTATIONS)}.")
    return texts


def model_token_limit(config, tokenizer) -> int:
    """Most tokens one text may have for this model (position table and tokenizer limit).

    RoBERTa-family models start positions after the padding index, so their table holds
    ``max_position_embeddings - pad_token_id - 1`` usable positions (514 -> 512, 8194 -> 8192).
    """
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "xlm-roberta-xl"):
            positions -= (getattr(config, "pad_token_id", 1) or 0) + 1
        limits.append(int(positions))
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if tokenizer_limit and tokenizer_limit < 1_000_000:
        limits.append(int(tokenizer_limit))
    return min(limits) if limits else 512


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids and special-token masks per text (with the model's special tokens, truncated, unpadded)."""
    if not texts:
        return [], []
    enc = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        padding=False,
        return_special_tokens_mask=True,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return list(enc["input_ids"]), list(enc["special_tokens_mask"])
