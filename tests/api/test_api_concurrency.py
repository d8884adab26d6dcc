"""16 client threads search while a large ingest runs through the API: no error, and every result is a whole
committed version (its hit count is exactly the documents that version holds).

No timing assumption: the ingest starts once a search has answered, and the searchers go on until one of them has
seen the final version (with a generous deadline), however slowly a loaded machine runs them."""

from __future__ import annotations

import threading

import httpx
from api_live import KEY, build_index, live_server, make_rows

BATCH = 50  # the index commits every 50 documents
MARK = "sharedmarker"
DEADLINE_S = 300.0


def test_searches_during_a_large_ingest_see_whole_versions(tmp_path):
    from api.settings import Settings

    index = build_index(tmp_path / "c", make_rows(BATCH, extra=MARK), batch_docs=BATCH)  # version 1: 100 documents
    new_docs = [{"id": r["_id"], "text": r["text"], "title": r["title"]} for r in make_rows(10 * BATCH, start=BATCH, extra=MARK)]
    settings = Settings(index=index, api_keys=[KEY], max_batch_docs=5000, max_k=5000)
    with live_server(settings) as live:
        stop = threading.Event()
        first_seen, final_seen = threading.Event(), threading.Event()
        final: list[int] = []  # the version the write acknowledged (commits, plus any segment merges after them)
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
                            first_seen.set()
                            if final and body["version"] >= final[0]:
                                final_seen.set()

        threads = [threading.Thread(target=searcher, daemon=True) for _ in range(16)]
        for t in threads:
            t.start()
        assert first_seen.wait(DEADLINE_S), "no search answered"
        with httpx.Client(base_url=live.url, timeout=600, headers={"Authorization": f"Bearer {KEY}"}) as c:
            r = c.post("/v1/documents", json={"documents": new_docs})
        if r.status_code == 200:
            with lock:
                final.append(r.json()["version"])
        final_seen.wait(DEADLINE_S)  # the server serves the final version once the write is acknowledged
        stop.set()
        for t in threads:
            t.join(120)

    assert r.status_code == 200, r.text
    assert r.json()["version"] >= 11 and r.json()["counts"]["indexed"] == 10 * BATCH  # 10 commits, maybe merges
    assert errors == []
    versions = sorted({v for v, _, _ in results})
    print(f"{len(results)} searches, versions seen {versions}, ingest {r.json()['seconds']} s")
    assert versions[0] == 1 and versions[-1] == final[0], versions
    hits_at: dict[int, int] = {}
    for version, n_hits, ids in results:
        assert n_hits % BATCH == 0 and n_hits > 0, (version, n_hits)  # a whole committed version, never part of a batch
        assert len(set(ids)) == n_hits
        assert set(ids) == {f"doc{i}" for i in range(n_hits)}
        assert hits_at.setdefault(version, n_hits) == n_hits, version  # one version, one content
    assert hits_at[1] == BATCH and hits_at[final[0]] == 11 * BATCH


def test_a_write_waiting_for_this_servers_write_lock_gives_409_with_retry_after(tmp_path):
    """The in-process write lock has the same timeout as the lock between processes (LATTE_WRITE_LOCK_TIMEOUT):
    a DELETE behind a write that never ends is refused with 409 + Retry-After instead of waiting forever."""
    from api.settings import Settings

    index = build_index(tmp_path / "l", make_rows(5))
    with live_server(Settings(index=index, api_keys=[KEY], write_lock_timeout=0.2)) as live:
        state = live.state

        async def hold() -> dict:  # a write in progress, as long as the test wants (runs on the server's loop)
            await state.write_lock.acquire()
            return {"held": True}

        async def release() -> dict:
            state.write_lock.release()
            return {"held": False}

        live.app.add_api_route("/test/hold", hold, methods=["POST"])
        live.app.add_api_route("/test/release", release, methods=["POST"])
        auth = {"Authorization": f"Bearer {KEY}"}
        with live.client(headers=auth) as c:
            assert c.post("/test/hold").json() == {"held": True}
            r = c.delete("/v1/documents/doc1")
            assert r.status_code == 409 and r.headers["retry-after"] == "10", r.text
            assert "LATTE_WRITE_LOCK_TIMEOUT" in r.json()["detail"]
            r = c.post("/v1/documents", json={"documents": [{"id": "n", "text": "a new text of some words"}]})
            assert r.status_code == 409
            assert c.post("/v1/search", json={"query": "x"}).status_code == 200  # reads never wait for the lock
            c.post("/test/release")
            r = c.delete("/v1/documents/doc1")
            assert r.status_code == 200 and r.json()["deleted"] is True
