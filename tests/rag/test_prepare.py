"""rag.prepare: cleaning, quality and fingerprints per chunk, in order, with or without worker processes."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from rag.clean import QualityRules, check_quality, normalize_text
from rag.dedupe import Deduper, MinHasher
from rag.prepare import prepare_stream, prepare_texts


def texts() -> list[str]:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(400)]
    out = []
    for i in range(30):
        out.append(" ".join(rng.choice(words, size=int(rng.integers(20, 80)))) + " caf\u00c3\u00a9  \u2026")
        if i % 7 == 0:
            out.append("   ")  # dropped: empty
        if i % 5 == 0:
            out.append(out[-1].upper())  # an exact duplicate after case folding
    return out


def one_by_one(items: list[str], rules: QualityRules) -> list[tuple]:
    dd = Deduper()
    out = []
    for i, raw in enumerate(items):
        text = normalize_text(raw)
        verdict = check_quality(text, rules)
        if verdict is not None:
            out.append((text, verdict, None))
            continue
        res = dd.check(text)
        if res.kind is None:
            dd.add(str(i), res.exact_key, res.signature)
        out.append((text, None, res.kind, res.duplicate_of))
    return out


def decide(prepared, hasher: MinHasher) -> list[tuple]:
    dd = Deduper()
    out = []
    for i, p in enumerate(prepared):
        if p.verdict is not None:
            assert p.exact_key is None and p.signature is None
            out.append((p.text, p.verdict, None))
            continue
        res = dd.match(p.exact_key, p.signature)
        if res.kind is None:
            dd.add(str(i), p.exact_key, p.signature)
        out.append((p.text, None, res.kind, res.duplicate_of))
    return out


@pytest.mark.parametrize("chunk_size, in_flight", [(1, 1), (4, 2), (1000, 3)])
def test_stream_equals_one_document_at_a_time(chunk_size: int, in_flight: int) -> None:
    items, rules, hasher = texts(), QualityRules(), MinHasher()
    want = one_by_one(items, rules)
    assert {w[2] for w in want if w[1] is None} >= {None, "exact"}
    got = decide(prepare_stream(items, rules, hasher, chunk_size=chunk_size, in_flight=in_flight), hasher)
    assert got == want


def test_worker_processes_give_the_same_results() -> None:
    items, rules, hasher = texts(), QualityRules(), MinHasher()
    with ProcessPoolExecutor(max_workers=2) as pool:
        got = decide(prepare_stream(iter(items), rules, hasher, executor=pool, chunk_size=3, in_flight=3), hasher)
    assert got == one_by_one(items, rules)


def test_signatures_equal_the_hashers() -> None:
    hasher = MinHasher()
    (p,) = prepare_texts(["some words to fingerprint here and there"], QualityRules(), hasher)
    assert np.array_equal(p.signature, hasher.signature(p.text))


def test_bad_chunking_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        list(prepare_stream(["x"], QualityRules(), MinHasher(), chunk_size=0))


@pytest.mark.parametrize("name", ["rag.prepare", "rag.textscan", "rag.clean", "rag.dedupe"])
def test_module_doctests(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
