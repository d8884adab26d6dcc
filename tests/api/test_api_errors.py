"""Errors carry a request id and never a stack trace or a file-system path."""

from __future__ import annotations

import logging

from api_live import live_server


def test_unexpected_error_is_500_with_request_id_only(bm25_index, caplog):
    """A route that fails with an exception naming an internal path: the client sees the id, the log the rest."""
    from api.settings import Settings

    def explode() -> None:
        raise RuntimeError(f"cannot open {bm25_index}/docs/secret.arrow: corrupted")

    with live_server(Settings(index=bm25_index)) as live:
        live.app.add_api_route("/v1/explode", explode, methods=["GET"])
        with caplog.at_level(logging.ERROR, logger="latte.api"), live.client() as c:
            r = c.get("/v1/explode", headers={"X-Request-ID": "trace-me-42"})
        assert r.status_code == 500
        assert r.headers["x-request-id"] == "trace-me-42"
        body = r.json()
        assert body["request_id"] == "trace-me-42" and "trace-me-42" in body["detail"]
        for leak in ("Traceback", "RuntimeError", "secret.arrow", str(bm25_index), "/tmp", 'File "'):
            assert leak not in r.text, leak
        logged = [rec for rec in caplog.records if "trace-me-42" in rec.getMessage()]
        assert logged and logged[0].exc_info is not None and "secret.arrow" in str(logged[0].exc_info[1])


def test_request_ids(server):
    with server.client() as c:
        r = c.get("/healthz")
        generated = r.headers["x-request-id"]
        assert len(generated) == 32
        assert c.get("/healthz").headers["x-request-id"] != generated
        assert c.get("/healthz", headers={"X-Request-ID": "abc.DEF-123_x"}).headers["x-request-id"] == "abc.DEF-123_x"
        hostile = c.get("/healthz", headers={"X-Request-ID": "a b<script>" + "x" * 80}).headers["x-request-id"]
        assert "<" not in hostile and len(hostile) == 32


def test_client_errors_have_json_bodies_without_traces(server):
    with server.client() as c:
        r = c.get("/no/such/route")
        assert r.status_code == 404 and r.json()["request_id"] == r.headers["x-request-id"]
        r = c.post("/v1/search", content=b"\xff\xfe garbage", headers={"content-type": "application/json"})
        assert r.status_code == 422 and "Traceback" not in r.text
        r = c.put("/v1/search", json={"query": "x"})
        assert r.status_code == 405 and r.json()["request_id"]


def test_missing_index_at_start_is_reported_not_leaked(tmp_path):
    """A broken index folder: /readyz says why without paths; searches answer 503; the process stays up."""
    from api.settings import Settings

    index = tmp_path / "broken"
    index.mkdir()
    (index / "manifest.json").write_text('{"format": "something else"}')
    with live_server(Settings(index=index), ready=False) as live, live.client() as c:
        for _ in range(500):
            r = c.get("/readyz")
            if not r.json()["reason"].startswith("loading"):
                break
        assert r.status_code == 503 and "failed to load" in r.json()["reason"]
        assert str(tmp_path) not in r.text
        r = c.post("/v1/search", json={"query": "x"})
        assert r.status_code == 503 and str(tmp_path) not in r.text
        assert c.get("/healthz").status_code == 200


BAD_BODIES = [
    ("/v1/search", '{"query": "x", "k": 1e400}', "k"),
    ("/v1/search", '{"query": "x", "rrf_k": NaN}', "rrf_k"),
    ("/v1/search", '{"query": "x", "depth": -Infinity}', "depth"),
    ("/v1/search", '{"query": "x", "filters": {"year": Infinity}}', "filters"),
    ("/v1/search", '{"query": "x", "weights": {"bm25": 1e999}}', "weights"),
    ("/v1/search", '{"query": "\\ud800"}', "query"),
    ("/v1/search", '{"query": "ok \\udfff ok", "mode": "\\ud800"}', "query"),
    ("/v1/answer", '{"question": "\\udc00?", "k": 1e400}', "question"),
    ("/v1/documents", '{"documents": [{"id": "\\ud800", "text": "some text here"}]}', "id"),
    ("/v1/documents", '{"documents": [{"id": "a", "text": "\\ud800 text"}]}', "text"),
    ("/v1/documents", '{"documents": [{"id": "a", "text": "t", "metadata": {"x": Infinity}}]}', "metadata"),
    ("/v1/documents", '{"documents": [{"id": "a", "text": "t", "metadata": {"x": ["\\ud800"]}}]}', "metadata"),
    ("/v1/documents", '{"documents": [{"id": "a", "text": "t", "metadata": {"\\udc00": 1}}]}', "metadata"),
]


def test_non_finite_numbers_and_lone_surrogates_are_422_never_500(server):
    """Both used to fail inside the 422 handler, which echoed the input (inf and lone surrogates cannot be encoded)."""
    from api_live import KEY

    headers = {"content-type": "application/json", "Authorization": f"Bearer {KEY}"}
    with server.client() as c:
        for path, body, field in BAD_BODIES:
            r = c.post(path, content=body.encode("ascii"), headers=headers)
            assert r.status_code == 422, (path, body, r.status_code, r.text)
            detail = r.json()["detail"]
            assert any(field in ".".join(map(str, e["loc"])) + e["msg"] for e in detail), (body, detail)
            assert r.json()["request_id"] == r.headers["x-request-id"]


def test_validation_errors_never_echo_the_input_unbounded(server):
    """A 100 KB query of the wrong type (and 1,000 wrong documents) give small 422 bodies that say what was cut."""
    from api_live import KEY

    with server.client() as c:
        r = c.post("/v1/search", json={"query": ["x" * 100_000]})
        assert r.status_code == 422 and len(r.content) < 4_000, len(r.content)
        assert "characters)" in r.text  # the echo says how much was cut
        r = c.post("/v1/search", json={"query": "x", "k": "9" * 100_000})
        assert r.status_code == 422 and len(r.content) < 4_000, len(r.content)
        docs = [{"id": i, "text": 5} for i in range(1000)]
        r = c.post("/v1/documents", json={"documents": docs}, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 422 and len(r.content) < 20_000, len(r.content)
        assert r.json()["detail"][-1]["type"] == "more_errors"
