"""rag.prepare: the one preparation path of ingest (clean, quality, fingerprints, passages) per chunk, in order,
with or without worker processes."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from rag.clean import check_quality, normalize_text
from rag.dedupe import Deduper, MinHasher, document_fingerprint
from rag.ingest import IngestSettings
from rag.prepare import prepare_documents, prepare_stream
from rag.records import Document


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


def documents() -> list[Document]:
    return [Document(f"d{i}", t, f"  Title {i % 4}" if i % 3 else "") for i, t in enumerate(texts())]


def one_by_one(items: list[Document], settings: IngestSettings) -> list[tuple]:
    dd = Deduper()
    out = []
    for d in items:
        text, title = normalize_text(d.text), normalize_text(d.title)
        verdict = check_quality(text, settings.quality)
        if verdict is not None:
            out.append((text, verdict, None))
            continue
        res = dd.check(text, title)
        if res.kind is None:
            dd.add(d.id, res.exact_key, res.signature)
        out.append((text, None, res.kind, res.duplicate_of))
    return out


def decide(prepared, items: list[Document]) -> list[tuple]:
    dd = Deduper()
    out = []
    for d, p in zip(items, prepared, strict=True):
        if p.verdict is not None:
            assert p.exact_key is None and p.signature is None
            out.append((normalize_text(d.text), p.verdict, None))
            continue
        res = dd.match(p.exact_key, p.signature)
        if res.kind is None:
            dd.add(d.id, p.exact_key, p.signature)
        out.append((p.doc.text, None, res.kind, res.duplicate_of))
    return out


@pytest.mark.parametrize("chunk_size, in_flight", [(1, 1), (4, 2), (1000, 3)])
def test_stream_equals_one_document_at_a_time(chunk_size: int, in_flight: int) -> None:
    items, settings, hasher = documents(), IngestSettings(), MinHasher()
    want = one_by_one(items, settings)
    assert {w[2] for w in want if w[1] is None} >= {None, "exact"}
    got = decide(prepare_stream(items, settings, hasher, chunk_size=chunk_size, in_flight=in_flight), items)
    assert got == want


def test_worker_processes_give_the_same_results() -> None:
    items, settings, hasher = documents(), IngestSettings(), MinHasher()
    here = list(prepare_stream(items, settings, hasher, chunk_size=3))
    with ProcessPoolExecutor(max_workers=2) as pool:
        there = list(prepare_stream(iter(items), settings, hasher, executor=pool, chunk_size=3, in_flight=3))
    assert decide(there, items) == one_by_one(items, settings)
    for a, b in zip(here, there, strict=True):
        assert (a.doc, a.verdict, a.exact_key) == (b.doc, b.verdict, b.exact_key)
        assert (a.signature is None and b.signature is None) or np.array_equal(a.signature, b.signature)
    # in worker processes the passages are split there (and travel as spans); here they are left for later
    assert all(p.passages is None for p in here)
    assert all(p.passages is not None and p.spans is None for p in there if p.verdict is None)


def test_signatures_equal_the_hashers() -> None:
    hasher = MinHasher()
    (p,) = prepare_documents([Document("x", "some words to fingerprint here and there", "A title")],
                             IngestSettings(), hasher, transfer=False)
    key, words = document_fingerprint("A title", p.doc.text)
    assert p.exact_key == key and np.array_equal(p.signature, hasher.signature_of_words(words))
    assert np.array_equal(p.signature, hasher.signature("A title\n" + p.doc.text))


def test_bad_chunking_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        list(prepare_stream([Document("x", "x")], IngestSettings(), MinHasher(), chunk_size=0))


@pytest.mark.parametrize("name", ["rag.prepare", "rag.textscan", "rag.clean", "rag.dedupe"])
def test_module_doctests(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
