"""The per-document CPU work of ingestion that needs no shared state, optionally spread over worker processes.

Cleaning (``normalize_text``), the quality rules (``check_quality``) and dedupe fingerprints (exact key and
MinHash signature) depend on one document only; only the dedupe *decision* (``Deduper.match``/``add``) depends
on the documents before it. ``prepare_stream`` runs the independent part in chunks, in this process or in an
executor's workers, and yields the results in input order with a bounded number of chunks in flight
(``ordered_map``, which ``rag.ingest`` uses too), so memory stays bounded on a stream of any length and
decisions taken in order are the ones one process takes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import TypeVar

import numpy as np

from rag.clean import QualityRules, check_quality, normalize_text
from rag.dedupe import MinHasher, _analyse, shingle_hashes

__all__ = ["Prepared", "ordered_map", "prepare_texts", "prepare_stream"]

T = TypeVar("T")
R = TypeVar("R")


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
    tasks = ((None, partial(prepare_texts, chunk, rules, hasher)) for chunk in chunks)
    for _, prepared in ordered_map(tasks, executor=executor, in_flight=in_flight):
        yield from prepared


def ordered_map(
    tasks: Iterable[tuple[T, Callable[[], R]]], *, executor: Executor | None = None, in_flight: int = 4
) -> Iterator[tuple[T, R]]:
    """Run each task's call (a picklable ``functools.partial`` for a process pool) and yield ``(tag, result)`` in
    task order. With an ``executor`` at most ``in_flight`` calls are submitted ahead of the one being yielded;
    ``tasks`` is read lazily, so work done while producing a task (e.g. checks in input order) stays in order.

    >>> [r for _, r in ordered_map((i, partial(pow, i, 2)) for i in range(4))]
    [0, 1, 4, 9]
    """
    if in_flight < 1:
        raise ValueError(f"in_flight must be >= 1 (got {in_flight})")
    if executor is None:
        for tag, call in tasks:
            yield tag, call()
        return
    pending: deque[tuple[T, Future[R]]] = deque()
    for tag, call in tasks:
        pending.append((tag, executor.submit(call)))
        if len(pending) >= in_flight:
            done_tag, future = pending.popleft()
            yield done_tag, future.result()
    while pending:
        done_tag, future = pending.popleft()
        yield done_tag, future.result()
