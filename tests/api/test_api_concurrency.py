"""16 client threads search while a large ingest runs through the API: no error, and every result is a whole
committed version (its hit count is exactly the documents that version holds)."""

from __future__ import annotations

import threading
import time

import httpx

from api_live import KEY, build_index, live_server, make_rows

BATCH = 50  # the index commits every 50 documents
MARK = "sharedmarker"


def test_searches_during_a_large_ingest_see_whole_versions(tmp_path):
    from api.settings import Settings

    index = build_index(tmp_path / "c", make_rows(BATCH, extra=MARK), batch_docs=BATCH)  # version 1: 100 documents
    new_docs = [{"id": r["_id"], "text": r["text"], "title": r["title"]} for r in make_rows(10 * BATCH, start=BATCH, extra=MARK)]
    settings = Settings(index=index, api_keys=[KEY], max_batch_docs=5000, max_k=5000)
    with live_server(settings) as live:
        stop = threading.Event()
        results: list[tuple[int, int, list[str]]] = []
        errors: list[str] = []
        lock = threading.Lock()

        def searcher() -> None:
            with httpx.Client(base_url=live.url, timeout=120) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/v1/search", json={"query": MARK, "k": 11 * BATCH, "depth": 11 * BATCH})
                    except httpx.HTTPError as exc:
                        with lock:
                            errors.append(repr(exc))
                        continue
                    with lock:
                        if r.status_code != 200:
                            errors.append(f"{r.status_code} {r.text[:200]}")
                        else:
                            body = r.json()
                            results.append((body["version"], len(body["hits"]), [h["doc_id"] for h in body["hits"]]))

        threads = [threading.Thread(target=searcher, daemon=True) for _ in range(16)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        with httpx.Client(base_url=live.url, timeout=600, headers={"Authorization": f"Bearer {KEY}"}) as c:
            r = c.post("/v1/documents", json={"documents": new_docs})
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(120)

    assert r.status_code == 200, r.text
    assert r.json()["version"] == 11 and r.json()["counts"]["indexed"] == 10 * BATCH
    assert errors == []
    seen = sorted({v for v, _, _ in results})
    print(f"{len(results)} searches, versions seen {seen}, ingest {r.json()['seconds']} s")
    assert len(results) >= 32
    versions = sorted({v for v, _, _ in results})
    assert versions[0] >= 1 and versions[-1] == 11 and len(versions) >= 3, versions
    for version, n_hits, ids in results:
        assert n_hits == BATCH * version, (version, n_hits)  # a whole committed version, never part of a batch
        assert len(set(ids)) == n_hits
        assert set(ids) == {f"doc{i}" for i in range(BATCH * version)}
