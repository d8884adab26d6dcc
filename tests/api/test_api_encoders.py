"""The shared encoder's lock: waiting queries before waiting document chunks, but never more than a burst of them
in a row, so searches in a closed loop cannot starve an ingest (measured: benchmarks/bench_query_during_ingest.py)."""

from __future__ import annotations

import threading
import time

from api.encoders import QueryFirstLock


def _order(lock: QueryFirstLock, kinds: list[str]) -> list[str]:
    """The lock is held (as a query); threads of ``kinds`` queue for it; the order in which they get it."""
    got: list[str] = []
    mutex = threading.Lock()

    def take(kind: str) -> None:
        lock.acquire(query=kind == "q")
        with mutex:
            got.append(kind)
        lock.release()

    lock.acquire(query=True)
    threads = []
    for kind in kinds:
        t = threading.Thread(target=take, args=(kind,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 60  # wait until it queues (no timing assumption: it only bounds a hang)
        while (lock._queries_waiting + lock._documents_waiting) < len(threads) and time.monotonic() < deadline:
            time.sleep(0.001)
    lock.release()
    for t in threads:
        t.join(60)
    return got


def test_queries_go_first_but_at_most_a_burst_in_a_row():
    got = _order(QueryFirstLock(burst=3), ["d"] + ["q"] * 8)
    # the holder was query 1 of the burst: two more queries, then the waiting document, then the rest
    assert got[:3] == ["q", "q", "d"] and got.count("q") == 8


def test_without_queries_first_a_document_is_not_held_back():
    lock = QueryFirstLock(queries_first=False)
    got = _order(lock, ["d", "q"])
    assert sorted(got) == ["d", "q"]


def test_documents_alone_and_queries_alone_just_take_turns():
    assert _order(QueryFirstLock(burst=2), ["d", "d", "d"]) == ["d", "d", "d"]
    assert _order(QueryFirstLock(burst=2), ["q"] * 5) == ["q"] * 5
