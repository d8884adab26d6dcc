"""API keys: writes refused without a configured key (unless open writes), Bearer checks, optional read keys."""

from __future__ import annotations

import pytest
from api_live import KEY, live_server

DOC = {"documents": [{"id": "s1", "text": "alpha beta gamma delta epsilon"}]}


def _settings(index, **kw):
    from api.settings import Settings

    return Settings(index=index, **kw)


def test_no_key_configured_refuses_writes_with_instructions(bm25_index):
    with live_server(_settings(bm25_index)) as live, live.client() as c:
        for r in (c.post("/v1/documents", json=DOC), c.delete("/v1/documents/doc1"),
                  c.post("/v1/documents/upload", files=[("files", ("a.txt", b"alpha", "text/plain"))])):
            assert r.status_code == 403
            assert "LATTE_API_KEYS" in r.json()["detail"] and "LATTE_ALLOW_OPEN_WRITES=true" in r.json()["detail"]
        # even a Bearer header does not open writes when no key is configured
        assert c.post("/v1/documents", json=DOC, headers={"Authorization": "Bearer anything-at-all"}).status_code == 403
        assert c.post("/v1/search", json={"query": "alpha"}).status_code == 200  # reads stay open
        assert c.get("/v1/documents/doc1").status_code == 200


def test_open_writes_flag(tmp_path):
    from api_live import build_index, make_rows

    index = build_index(tmp_path / "o", make_rows(5))
    with live_server(_settings(index, allow_open_writes=True)) as live, live.client() as c:
        assert c.post("/v1/documents", json=DOC).status_code == 200
        assert c.delete("/v1/documents/s1").status_code == 200


def test_bearer_key_missing_wrong_right(tmp_path):
    from api_live import build_index, make_rows

    index = build_index(tmp_path / "k", make_rows(5))
    with live_server(_settings(index, api_keys=["other-key-999", KEY])) as live, live.client() as c:
        r = c.post("/v1/documents", json=DOC)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in r.json()["detail"]
        for header in (f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", f"Basic {KEY}", KEY, "Bearer"):
            r = c.post("/v1/documents", json=DOC, headers={"Authorization": header})
            assert r.status_code == 401, header
        r = c.post("/v1/documents", json=DOC, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200
        r = c.delete("/v1/documents/s1", headers={"Authorization": "bearer other-key-999"})  # scheme is case-insensitive
        assert r.status_code == 200
        assert c.post("/v1/search", json={"query": "x"}).status_code == 200


def test_keys_for_reads(bm25_index):
    with live_server(_settings(bm25_index, api_keys=[KEY], require_key_for_reads=True)) as live, live.client() as c:
        for method, path, body in (("POST", "/v1/search", {"query": "x"}), ("POST", "/v1/answer", {"question": "x"}),
                                   ("GET", "/v1/index", None), ("GET", "/v1/documents/doc1", None)):
            r = c.request(method, path, json=body)
            assert r.status_code == 401, path
            r = c.request(method, path, json=body, headers={"Authorization": f"Bearer {KEY}"})
            assert r.status_code == 200, path
        for path in ("/healthz", "/readyz", "/metrics", "/"):
            assert c.get(path).status_code == 200, path


def test_short_keys_are_refused_at_start():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="at least 8 characters"):
        _settings("idx", api_keys="short")
