"""POST /v1/search against a live server: the hit record and its trace, filters, limits, modes, versions."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from api_live import make_rows, make_text, write_jsonl

ALL_WORDS = " ".join(make_text(i).split()[0].rstrip(".").lower() for i in range(60))


def test_search_returns_hits_with_trace_and_version(server):
    with server.client() as c:
        text = c.get("/v1/documents/doc7").json()["text"]
        query = " ".join(text.split()[:3]).rstrip(".")
        r = c.post("/v1/search", json={"query": query, "k": 5})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["query"] == query
        assert body["version"] == 1 and body["retrievers"] == ["bm25"]
        assert {"encode", "bm25", "fusion", "hits"} <= set(body["timings_ms"])
        hits = body["hits"]
        assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1)) and len(hits) == 5
        assert hits[0]["doc_id"] == "doc7"
        top = hits[0]
        assert top["title"] == "Document 7" and top["metadata"] == {"year": 2007}
        assert top["retrievers"]["bm25"]["rank"] == 1 and top["retrievers"]["bm25"]["score"] == top["score"]
        assert top["rerank_score"] is None
        p = top["passage"]
        assert p["ordinal"] == 0 and p["page"] is None and text[p["start"] : p["end"]] == p["text"]
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_filters_restrict_hits(server):
    with server.client() as c:
        r = c.post("/v1/search", json={"query": ALL_WORDS, "k": 50, "depth": 100, "filters": {"year": {"gte": 2007}}})
        assert r.status_code == 200
        years = [h["metadata"]["year"] for h in r.json()["hits"]]
        assert years and all(y >= 2007 for y in years)
        r = c.post("/v1/search", json={"query": ALL_WORDS, "k": 50, "filters": {"year": [2001, 2002]}})
        assert r.json()["hits"] and {h["metadata"]["year"] for h in r.json()["hits"]} <= {2001, 2002}


def test_bad_filters_and_modes_are_422_with_a_message(server):
    with server.client() as c:
        r = c.post("/v1/search", json={"query": "x", "filters": {"year": {"between": [1, 2]}}})
        assert r.status_code == 422
        r = c.post("/v1/search", json={"query": "x", "filters": {"year": {"in": 5}}})
        assert r.status_code == 422 and "'in' takes a list" in json.dumps(r.json())
        r = c.post("/v1/search", json={"query": "kaloni", "mode": "dense"})
        assert r.status_code == 422 and "available: bm25" in r.json()["detail"]
        r = c.post("/v1/search", json={"query": "kaloni", "mode": "bm25;drop"})
        assert r.status_code == 422
        r = c.post("/v1/search", json={"query": "kaloni", "rerank": True})
        assert r.status_code == 422 and "no tensor arrays" in r.json()["detail"]


def test_limits_name_the_setting(server):
    with server.client() as c:
        cases = [
            ({"k": 101}, "LATTE_MAX_K"),
            ({"depth": 10_001}, "LATTE_MAX_DEPTH"),
            ({"rerank_depth": 1001}, "LATTE_MAX_RERANK_DEPTH"),
            ({"query": "word " * 500}, "LATTE_MAX_QUERY_CHARS"),
        ]
        for extra, setting in cases:
            r = c.post("/v1/search", json={"query": "kaloni", **extra})
            assert r.status_code == 422, extra
            msg = r.json()["detail"][0]["msg"]
            assert setting in msg and "this server" in msg, msg
        bad_bodies = [
            {"query": "kaloni", "k": 0},
            {"query": "kaloni", "k": "ten"},
            {"query": ""},
            {"query": "   "},
            {"query": "kaloni", "depth": -1},
            {"query": "kaloni", "unknown": 1},
            {},
        ]
        for bad in bad_bodies:
            r = c.post("/v1/search", json=bad)
            assert r.status_code == 422, (bad, r.text)
            assert r.json()["request_id"] == r.headers["x-request-id"]
        r = c.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422


def test_server_follows_commits_by_another_process(tmp_path):
    """A CLI ingest (another process, the index's flock) commits; the running server serves the new version."""
    from api_live import build_index, live_server

    from api.settings import Settings

    index = build_index(tmp_path / "a", make_rows(10))
    extra = write_jsonl(tmp_path / "more.jsonl", make_rows(5, start=100, extra="zebraword"))
    with live_server(Settings(index=index)) as live, live.client() as c:
        assert c.post("/v1/search", json={"query": "zebraword"}).json()["hits"] == []
        out = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", str(extra), "--index", str(index), "--json"],
            capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, out.stderr
        deadline = time.monotonic() + 20
        while True:
            body = c.post("/v1/search", json={"query": "zebraword", "k": 10}).json()
            if body["version"] == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert body["version"] == 2
        assert sorted(h["doc_id"] for h in body["hits"]) == [f"doc{i}" for i in range(100, 105)]


def test_search_at_the_passage_unit_and_a_bad_unit(server):
    with server.client() as c:
        text = c.get("/v1/documents/doc7").json()["text"]
        query = " ".join(text.split()[:3]).rstrip(".")
        r = c.post("/v1/search", json={"query": query, "k": 5, "unit": "passage"})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert {h["unit"] for h in hits} == {"passage"} and hits[0]["doc_id"] == "doc7"
        p = hits[0]["passage"]
        assert text[p["start"] : p["end"]] == p["text"]
        assert "title" in r.json()["timings_ms"]  # the title prior runs below the document unit
        bad = c.post("/v1/search", json={"query": query, "unit": "chapter"})
        assert bad.status_code == 422 and "unit" in bad.text
        doc = c.post("/v1/search", json={"query": query, "k": 3}).json()["hits"]
        assert {h["unit"] for h in doc} == {"document"}


def test_answer_defaults_to_the_best_passages(server):
    with server.client() as c:
        r = c.post("/v1/answer", json={"question": ALL_WORDS, "k": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["generator"] == "extractive"
        assert all("passage_ordinals" in s and s["passage_ordinals"] for s in body["sources"])


def test_the_query_language_is_a_field(tmp_path):
    """`lang` analyzes the query in that language only: German 'Häuser' meets the German stem 'haus' of a German
    document, and as English it does not; an unknown language is a 422 naming the known codes."""
    from api_live import build_index, live_server

    from api.settings import Settings

    rows = [
        {"_id": "de1", "title": "", "text": "Die alten Häuser stehen am Fluss und das Haus am Berg.", "lang": "de"},
        {"_id": "en1", "title": "", "text": "The old mill stands by the river near the bridge.", "lang": "en"},
    ]
    index = build_index(tmp_path, rows)
    with live_server(Settings(index=index)) as live, live.client() as c:
        ids = {lang: [h["doc_id"] for h in c.post("/v1/search", json={"query": "Häuser", "lang": lang}).json()["hits"]]
               for lang in ("de", "English")}
        assert ids == {"de": ["de1"], "English": []}
        auto = c.post("/v1/search", json={"query": "Häuser"}).json()["hits"]  # the index's Latin languages: en and de
        assert [h["doc_id"] for h in auto] == ["de1"]
        bad = c.post("/v1/search", json={"query": "Häuser", "lang": "klingon tongue"})
        assert bad.status_code == 422 and "ISO 639-1" in bad.text
