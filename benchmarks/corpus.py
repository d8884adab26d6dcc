"""Synthetic MLDR-shaped corpora for benchmarks: long documents (about 3,300 words) with a Zipfian vocabulary,
written as MLDR corpus JSONL (``{"docid", "text"}``), generated deterministically and streamed (never held in RAM)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def vocabulary(size: int = 60_000, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = np.clip(rng.poisson(6, size) + 2, 2, 16)
    words = {"".join(rng.choice(letters, n)) for n in lengths}
    return np.array(sorted(words))


def documents(n: int, words_per_doc: int = 3300, seed: int = 11, vocab: np.ndarray | None = None) -> Iterator[tuple[str, str]]:
    """(docid, text) pairs; word frequencies follow Zipf's law like natural text."""
    vocab = vocabulary() if vocab is None else vocab
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, len(vocab) + 1)
    p = 1.0 / ranks**1.05
    p /= p.sum()
    cdf = np.cumsum(p)
    for i in range(n):
        k = max(50, int(rng.normal(words_per_doc, words_per_doc * 0.15)))
        idx = np.searchsorted(cdf, rng.random(k))
        idx = np.minimum(idx, len(vocab) - 1)
        words = vocab[idx]
        # sentences of ~18 words
        parts = []
        for j in range(0, len(words), 18):
            parts.append(" ".join(words[j : j + 18]).capitalize() + ".")
        yield f"doc{i}", " ".join(parts)


def write_corpus(path: Path, n: int, words_per_doc: int = 3300, seed: int = 11) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for docid, text in documents(n, words_per_doc, seed):
            f.write(json.dumps({"docid": docid, "text": text}) + "\n")
    return path


def queries(n: int, seed: int = 5, vocab: np.ndarray | None = None) -> list[str]:
    """Queries of 3-8 words drawn from mid-frequency terms (as real queries are)."""
    vocab = vocabulary() if vocab is None else vocab
    rng = np.random.default_rng(seed)
    return [" ".join(vocab[rng.integers(50, 5000, size=rng.integers(3, 9))]) for _ in range(n)]
