"""Writes through the API: per-document outcomes, read-your-writes, uploads (names sanitised, kept inside the
index folder), the shared SEC PDFs, GET and DELETE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_live import DATA, KEY, build_index, live_server, make_rows, make_text

AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def writable(tmp_path):
    from api.settings import Settings

    index = build_index(tmp_path / "w", make_rows(20))
    with live_server(Settings(index=index, api_keys=[KEY], max_upload_files=4)) as live:
        yield live


def test_batch_outcomes_and_read_your_writes(writable):
    new_text = make_text(500, extra="quokkaword")
    docs = [
        {"id": "new-1", "text": new_text, "title": "New", "metadata": {"year": 2024, "tags": ["a"]}},
        {"id": "doc1", "text": make_text(1), "title": "Document 1", "metadata": {"year": 2001}},  # as ingested
        {"id": "doc2", "text": make_text(2, extra="changedword"), "title": "Document 2", "metadata": {"year": 2002}},
        {"id": "empty", "text": "   "},
        {"id": "copy", "text": new_text, "title": "New", "metadata": {"year": 2024, "tags": ["a"]}},
        {"id": "new-1", "text": "the same id again"},
    ]
    with writable.client(headers=AUTH) as c:
        r = c.post("/v1/documents", json={"documents": docs})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["version"] == 2
        got = [(o["id"], o["status"], o["rule"], o["duplicate_of"]) for o in body["results"]]
        assert got == [
            ("new-1", "indexed", None, None),
            ("doc1", "unchanged", None, None),
            ("doc2", "replaced", None, None),
            ("empty", "dropped", "empty", None),
            ("copy", "duplicate", "exact_duplicate", "new-1"),
            ("new-1", "dropped", "duplicate_id", None),
        ]
        assert body["results"][3]["detail"]  # the measured reason, from the ingest report
        assert body["counts"] == {"indexed": 1, "replaced": 1, "unchanged": 1, "dropped": 2, "duplicate": 1}
        # acknowledged after the commit, and already served: the next search sees it
        hits = c.post("/v1/search", json={"query": "quokkaword changedword"}).json()
        assert hits["version"] == 2 and {h["doc_id"] for h in hits["hits"]} == {"new-1", "doc2"}
        doc = c.get("/v1/documents/new-1").json()
        assert doc["metadata"] == {"year": 2024, "tags": ["a"]} and doc["title"] == "New" and doc["version"] == 2
        assert all(doc["text"][p["start"] : p["end"]] == p["text"] for p in doc["passages"])
        # posting the same batch again changes nothing and commits nothing
        again = c.post("/v1/documents", json={"documents": docs[:3]}).json()
        assert [o["status"] for o in again["results"]] == ["unchanged"] * 3 and again["version"] == 2


def test_get_and_delete(writable):
    with writable.client(headers=AUTH) as c:
        assert c.get("/v1/documents/doc5").status_code == 200
        r = c.get("/v1/documents/nope")
        assert r.status_code == 404 and "nope" in r.json()["detail"]
        r = c.delete("/v1/documents/doc5")
        assert r.status_code == 200 and r.json() == {"id": "doc5", "deleted": True, "version": 2}
        assert c.get("/v1/documents/doc5").status_code == 404
        words = " ".join(make_text(5).split()[:6])
        assert "doc5" not in {h["doc_id"] for h in c.post("/v1/search", json={"query": words, "k": 50}).json()["hits"]}
        r = c.delete("/v1/documents/doc5")
        assert r.status_code == 404 and "nothing was deleted" in r.json()["detail"]
        assert c.delete("/v1/documents/never-there").status_code == 404
        assert c.get("/v1/index").json()["counts"]["documents"] == 19


def test_upload_text_markdown_jsonl_with_hostile_names(writable, tmp_path):
    index = Path(writable.state.settings.index)
    rows = [{"_id": "j1", "text": make_text(601)}, {"_id": "j2", "text": make_text(602), "title": "J2"}]
    files = [
        ("files", ("../../escape.txt", make_text(600).encode(), "text/plain")),
        ("files", ("/etc/notes.md", ("# Notes title\n\n" + make_text(603)).encode(), "text/markdown")),
        ("files", ("C:\\Users\\x\\batch.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode(), "application/json")),
    ]
    with writable.client(headers=AUTH) as c:
        r = c.post("/v1/documents/upload", files=files)
        assert r.status_code == 200, r.text
        body = r.json()
    saved = [(f["filename"], f["saved_as"], f["documents"]) for f in body["files"]]
    assert saved == [
        ("../../escape.txt", "escape.txt", ["escape.txt"]),
        ("/etc/notes.md", "notes.md", ["notes.md"]),
        ("batch.jsonl", "batch.jsonl", ["j1", "j2"]),  # the multipart parser itself drops a Windows path
    ]
    assert [o["status"] for o in body["results"]] == ["indexed"] * 4
    assert all(o["source"].startswith("upload:") for o in body["results"])
    # nothing was written beside or above the index, and the temporary upload folder is gone
    assert not (index.parent / "escape.txt").exists() and not (index.parent.parent / "escape.txt").exists()
    assert list((index / "uploads").iterdir()) == []
    assert not (index / "files").exists()  # only PDFs are kept (for their page images)
    with writable.client() as c:
        doc = c.get("/v1/documents/notes.md").json()
        assert doc["title"] == "Notes title" and doc["source"] == "upload:notes.md"
        assert doc["metadata"] == {"path": "upload:notes.md"}  # not the temporary path it was read from


def test_upload_refusals(writable):
    index = Path(writable.state.settings.index)
    with writable.client(headers=AUTH) as c:
        r = c.post("/v1/documents/upload", files=[("files", ("tool.exe", b"MZ...", "application/octet-stream"))])
        assert r.status_code == 415 and ".pdf" in r.json()["detail"]
        r = c.post("/v1/documents/upload", json={"documents": []})
        assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]
        r = c.post("/v1/documents/upload", data={"note": "hello"}, files=[("files", ("a.txt", b"alpha beta", "text/plain"))])
        assert r.status_code == 422 and "unexpected form field" in r.json()["detail"]
        many = [("files", (f"f{i}.txt", make_text(700 + i).encode(), "text/plain")) for i in range(5)]
        r = c.post("/v1/documents/upload", files=many)
        assert r.status_code == 413 and "LATTE_MAX_UPLOAD_FILES" in r.json()["detail"]
        r = c.post(
            "/v1/documents/upload", content=b"--xx\r\nbroken", headers={"content-type": "multipart/form-data; boundary=xx"}
        )
        assert r.status_code in (400, 422)
        assert c.get("/v1/index").json()["version"] == 1  # nothing was committed
    assert list((index / "uploads").iterdir()) == []


def test_first_write_creates_the_index(tmp_path):
    from api.settings import Settings

    index = tmp_path / "fresh"
    with live_server(Settings(index=index, profile="bm25", allow_open_writes=True), ready=False) as live, live.client() as c:
        for _ in range(200):
            ready = c.get("/readyz")
            if ready.json()["reason"] != "loading the index and models":
                break
        assert ready.status_code == 503 and "no index yet" in ready.json()["reason"]
        r = c.post("/v1/search", json={"query": "anything"})
        assert r.status_code == 503 and "POST /v1/documents" in r.json()["detail"]
        r = c.post("/v1/documents", json={"documents": [{"id": "a", "text": make_text(1)}]})
        assert r.status_code == 200 and r.json()["version"] == 1
        assert c.get("/readyz").status_code == 200
        assert c.get("/v1/index").json()["profile"] == "bm25"


PDFS = DATA / "pdfs"


@pytest.mark.slow
def test_upload_the_shared_sec_pdfs(writable):
    pdfs = sorted(PDFS.glob("*.pdf")) if PDFS.is_dir() else []
    if not pdfs:
        pytest.skip(f"the shared SEC filings are not at {PDFS}")
    pdfs = pdfs[:4]  # the server allows 4 files per upload here
    with writable.client(headers=AUTH, timeout=300) as c:
        files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in pdfs]
        r = c.post("/v1/documents/upload", files=files)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [f["documents"] for f in body["files"]] == [[p.name] for p in pdfs]
        assert [o["status"] for o in body["results"]] == ["indexed"] * len(pdfs)
        doc = c.get(f"/v1/documents/{pdfs[0].name}").json()
        assert doc["pages"] and doc["pages"][0]["page"] == 1
        assert all(p["page"] is not None for p in doc["passages"])
        hits = c.post("/v1/search", json={"query": "net sales revenue quarter", "k": 5}).json()["hits"]
        pdf_hits = [h for h in hits if h["doc_id"].endswith(".pdf")]
        assert pdf_hits and all(h["passage"]["page"] >= 1 for h in pdf_hits)
        assert all(h["page_image_url"].endswith(f"/pages/{h['passage']['page']}.png") for h in pdf_hits)
    index = Path(writable.state.settings.index)
    assert len(list((index / "files").glob("*.pdf"))) == len(pdfs)  # each PDF kept once, by content


def test_leftover_upload_folders_are_collected_at_start_up_and_commit(tmp_path):
    """Temporary upload folders a killed server left behind are removed when a server starts and after each commit;
    one an upload in progress holds (its flock), here or in another process, is left alone."""
    import fcntl
    import os

    from api.settings import Settings
    from api.uploads import LOCK_NAME

    index = build_index(tmp_path / "u", make_rows(5))
    uploads = index / "uploads"
    crashed = uploads / "tmp-0123abcd"  # a server killed mid-upload: a partial file, nobody holds the lock
    crashed.mkdir(parents=True)
    (crashed / "big.txt").write_bytes(b"x" * 100_000)
    (crashed / LOCK_NAME).touch()
    older = uploads / "tmp-from-an-older-latte"  # no lock file at all
    older.mkdir()
    (older / "a.pdf").write_bytes(b"%PDF")
    busy = uploads / "tmp-in-progress"
    busy.mkdir()
    fd = os.open(busy / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running upload (of another server process) holds it
    (uploads / "not-ours.txt").write_text("kept")
    try:
        with live_server(Settings(index=index, api_keys=[KEY])) as live:
            assert sorted(p.name for p in uploads.iterdir()) == ["not-ours.txt", "tmp-in-progress"]
            fcntl.flock(fd, fcntl.LOCK_UN)  # that upload's server died
            with live.client(headers=AUTH) as c:
                r = c.post("/v1/documents", json={"documents": [{"id": "n1", "text": make_text(800)}]})
                assert r.status_code == 200
            assert sorted(p.name for p in uploads.iterdir()) == ["not-ours.txt"]
    finally:
        os.close(fd)


def test_a_binary_upload_is_dropped_with_its_own_rule(writable):
    import numpy as np

    junk = np.random.default_rng(1).integers(0, 256, 30_000, dtype=np.uint8).tobytes()
    with writable.client(headers=AUTH) as c:
        r = c.post("/v1/documents/upload", files=[("files", ("notes.txt", junk, "text/plain"))])
        assert r.status_code == 200, r.text
        (out,) = r.json()["results"]
        assert (out["id"], out["status"], out["rule"]) == ("notes.txt", "dropped", "binary")
        assert out["detail"].startswith("binary content") and out["source"] == "upload:notes.txt"
        assert r.json()["files"][0]["documents"] == ["notes.txt"] and r.json()["problems"] == []
        assert c.get("/v1/documents/notes.txt").status_code == 404


def test_ids_that_cannot_be_read_back_are_refused(writable):
    with writable.client(headers=AUTH) as c:
        for bad, words in [("x.pdf/pages/1.png", "page image URL"), ("   ", "blank")]:
            r = c.post("/v1/documents", json={"documents": [{"id": bad, "text": make_text(950)}]})
            assert r.status_code == 422 and words in json.dumps(r.json()["detail"]), r.text
        rows = json.dumps({"_id": "y/pages/2.png", "text": make_text(951)}) + "\n"
        r = c.post("/v1/documents/upload", files=[("files", ("ids.jsonl", rows.encode(), "application/json"))])
        (out,) = r.json()["results"]
        assert (out["status"], out["rule"]) == ("dropped", "invalid_id") and "page image URL" in out["detail"]
