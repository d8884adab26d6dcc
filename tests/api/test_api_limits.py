"""Request size limits: Content-Length and streamed bodies (413), batch size and document length (422)."""

from __future__ import annotations

import pytest
from api_live import KEY, live_server, make_text

AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def small(bm25_index):
    from api.settings import Settings

    settings = Settings(
        index=bm25_index, api_keys=[KEY], max_body_bytes=4096, max_upload_bytes=8192, max_batch_docs=3, max_doc_chars=2000
    )
    with live_server(settings) as live:
        yield live


def test_content_length_over_the_limit_is_413(small):
    body = {"documents": [{"id": "big", "text": "word " * 2000}]}
    with small.client(headers=AUTH) as c:
        r = c.post("/v1/documents", json=body)
        assert r.status_code == 413
        assert "LATTE_MAX_BODY_BYTES" in r.json()["detail"] and "4096" in r.json()["detail"]
        assert r.json()["request_id"] == r.headers["x-request-id"]
        r = c.post("/v1/search", json={"query": "x" * 5000})  # the limit is for every JSON endpoint
        assert r.status_code == 413


def test_streamed_body_without_length_is_cut_at_the_limit(small):
    def chunks():
        yield b'{"documents": [{"id": "x", "text": "'
        for _ in range(100):
            yield b"word " * 20
        yield b'"}]}'

    with small.client(headers={**AUTH, "content-type": "application/json"}) as c:
        r = c.post("/v1/documents", content=chunks())
        assert r.status_code == 413 and "LATTE_MAX_BODY_BYTES" in r.json()["detail"]
        assert c.get("/v1/documents/x").status_code == 404


def test_upload_over_its_own_limit(small):
    with small.client(headers=AUTH) as c:
        r = c.post("/v1/documents/upload", files=[("files", ("big.txt", b"word " * 4000, "text/plain"))])
        assert r.status_code == 413 and "LATTE_MAX_UPLOAD_BYTES" in r.json()["detail"]
        r = c.post("/v1/documents/upload", files=[("files", ("ok.txt", make_text(900).encode(), "text/plain"))])
        assert r.status_code == 200  # 6 KB: over the JSON limit, under the upload limit


def test_batch_and_document_limits_are_422(small):
    with small.client(headers=AUTH) as c:
        docs = [{"id": f"b{i}", "text": "alpha beta"} for i in range(4)]
        r = c.post("/v1/documents", json={"documents": docs})
        assert r.status_code == 422 and "LATTE_MAX_BATCH_DOCS" in r.json()["detail"][0]["msg"]
        r = c.post("/v1/documents", json={"documents": [{"id": "long", "text": "abcd " * 500}]})
        assert r.status_code == 422 and "LATTE_MAX_DOC_CHARS" in r.json()["detail"][0]["msg"]
        r = c.post("/v1/documents", json={"documents": []})
        assert r.status_code == 422
        r = c.post("/v1/documents", json={"documents": [{"id": "bad\nid", "text": "alpha"}]})
        assert r.status_code == 422


def test_uploads_have_the_limits_of_json_batches(tmp_path):
    """LATTE_MAX_DOC_CHARS and LATTE_MAX_BATCH_DOCS apply to uploads too: a text file over the length is dropped
    with a message naming the setting, and files holding too many documents are refused before anything is indexed."""
    import json

    from api_live import build_index, make_rows

    from api.settings import Settings

    index = build_index(tmp_path / "u", make_rows(3))
    settings = Settings(index=index, api_keys=[KEY], max_batch_docs=3, max_doc_chars=2000)
    with live_server(settings) as live, live.client(headers=AUTH) as c:
        files = [("files", ("long.txt", ("word " * 1000).encode(), "text/plain")),
                 ("files", ("short.txt", make_text(901).encode(), "text/plain"))]
        r = c.post("/v1/documents/upload", files=files)
        assert r.status_code == 200, r.text
        out = {o["id"]: o for o in r.json()["results"]}
        assert out["short.txt"]["status"] == "indexed"
        assert out["long.txt"]["status"] == "dropped" and out["long.txt"]["rule"] == "too_long"
        assert "LATTE_MAX_DOC_CHARS" in out["long.txt"]["detail"] and "5,000 characters" in out["long.txt"]["detail"]
        assert c.get("/v1/documents/long.txt").status_code == 404
        version = c.get("/v1/index").json()["version"]
        rows = "".join(json.dumps({"_id": f"j{i}", "text": make_text(910 + i)}) + "\n" for i in range(3))
        files = [("files", ("a.jsonl", rows.encode(), "application/json")),
                 ("files", ("b.txt", make_text(920).encode(), "text/plain"))]
        r = c.post("/v1/documents/upload", files=files)
        assert r.status_code == 413 and "LATTE_MAX_BATCH_DOCS" in r.json()["detail"], r.text
        assert c.get("/v1/index").json()["version"] == version  # nothing was committed
        assert c.get("/v1/documents/j0").status_code == 404
