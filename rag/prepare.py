"""The per-document CPU work of ingestion that needs no shared state, optionally spread over worker processes.

Cleaning (``normalize_text``), the quality rules (``check_quality``) and dedupe fingerprints (exact key and
MinHash signature) depend on one document only; only the dedupe *decision* (``Deduper.match``/``add``) depends
on the documents before it. ``prepare_stream`` runs the independent part in chunks, in this process or in an
executor's workers, and yields the results in input order with a bounded number of chunks in flight, so
memory stays bounded on a stream of any length and decisions taken in order are the ones one process takes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from itertools import islice

import numpy as np

from rag.clean import QualityRules, check_quality, normalize_text
from rag.dedupe import MinHasher, _analyse, shingle_hashes

__all__ = ["Prepared", "prepare_texts", "prepare_stream"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """One cleaned text: the rule that drops it (``verdict``), or its exact key and MinHash signature."""

    text: str
    verdict: tuple[str, str] | None
    exact_key: bytes | None
    signature: np.ndarray | None


def prepare_texts(texts: Sequence[str], rules: QualityRules, hasher: MinHasher) -> list[Prepared]:
    """Clean, check and fingerprint ``texts`` (one chunk; a picklable top-level function for worker processes).

    Dropped texts get no fingerprint. Signatures of a chunk come from one rensa call.
    """
    cleaned = [normalize_text(t) for t in texts]
    verdicts = [check_quality(t, rules) for t in cleaned]
    keys: list[bytes] = []
    shingles: list[np.ndarray] = []
    for text, verdict in zip(cleaned, verdicts):
        if verdict is None:
            key, words = _analyse(text)
            keys.append(key)
            shingles.append(shingle_hashes(words, hasher.shingle_size))
    sigs = iter(hasher._digest(shingles)) if shingles else iter(())
    keys_it = iter(keys)
    return [
        Prepared(text, None, next(keys_it), next(sigs)) if verdict is None else Prepared(text, verdict, None, None)
        for text, verdict in zip(cleaned, verdicts)
    ]


def prepare_stream(
    texts: Iterable[str],
    rules: QualityRules,
    hasher: MinHasher,
    *,
    executor: Executor | None = None,
    chunk_size: int = 64,
    in_flight: int = 4,
) -> Iterator[Prepared]:
    """``prepare_texts`` over a stream, in order; with an ``executor``, ``in_flight`` chunks run at once.

    >>> [p.verdict or p.exact_key.hex()[:8] for p in prepare_stream(["Hello  World", " ", "hello world"],
    ...                                                             QualityRules(), MinHasher())]
    ['1305d9c1', ('empty', 'no text after cleaning'), '1305d9c1']
    """
    if chunk_size < 1 or in_flight < 1:
        raise ValueError(f"chunk_size and in_flight must be >= 1 (got {chunk_size}, {in_flight})")
    it = iter(texts)
    chunks = iter(lambda: list(islice(it, chunk_size)), [])
    if executor is None:
        for chunk in chunks:
            yield from prepare_texts(chunk, rules, hasher)
        return
    pending: deque[Future[list[Prepared]]] = deque()
    for chunk in chunks:
        pending.append(executor.submit(prepare_texts, chunk, rules, hasher))
        if len(pending) >= in_flight:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()
