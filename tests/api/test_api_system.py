"""GET /v1/index, /healthz, /readyz, /metrics, the OpenAPI document and the web page files."""

from __future__ import annotations

import re


def test_index_description(server):
    with server.client() as c:
        info = c.get("/v1/index").json()
    assert info["version"] == 1 and info["profile"] == "bm25"
    assert info["counts"]["documents"] == 60 and info["counts"]["passages"] == 60
    assert set(info["sizes"]) == {"docs", "bm25", "bm25_passages"} and all(re.match(r"^[\d.]+ (B|KB|MB|GB)$", v) for v in info["sizes"].values())
    assert info["retrievers"] == ["bm25"] and info["rerank"] is False and info["generator"] is None
    assert info["manifest"]["format"] == "latte-index" and info["models"] == {}


def test_health_and_readiness(server):
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "version": 1, "profile": "bm25", "encoders": [], "generator": None, "reason": None}


def test_metrics_count_requests_and_search_stages(server):
    with server.client() as c:
        for _ in range(3):
            assert c.post("/v1/search", json={"query": "kalo"}).status_code == 200
        c.get("/v1/documents/doc1")
        c.post("/v1/search", json={"query": "x", "k": 0})
        text = c.get("/metrics").text

    def value(pattern: str) -> float:
        m = re.search(pattern + r" ([0-9.e+]+)$", text, re.MULTILINE)
        assert m, pattern
        return float(m.group(1))

    assert value(r'latte_http_requests_total\{endpoint="/v1/search",method="POST",status="200"\}') >= 3
    assert value(r'latte_http_requests_total\{endpoint="/v1/search",method="POST",status="422"\}') >= 1
    assert value(r'latte_http_requests_total\{endpoint="/v1/documents/\{doc_id:path\}",method="GET",status="200"\}') >= 1
    assert value(r'latte_http_request_duration_seconds_count\{endpoint="/v1/search",method="POST"\}') >= 4
    assert 'latte_http_request_duration_seconds_bucket{endpoint="/v1/search",le="0.005",method="POST"}' in text
    for stage in ("encode", "bm25", "fusion", "hits"):
        assert value(rf'latte_search_stage_duration_seconds_count\{{stage="{stage}"\}}') >= 3
    assert value("latte_index_version") == 1 and value("latte_index_documents") == 60
    assert "doc1" not in text  # raw paths are never labels


def test_openapi_has_examples_and_the_upload_form(server):
    with server.client() as c:
        spec = c.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["SearchRequest"]["examples"][0]["query"]
    assert schemas["DocumentsRequest"]["examples"][0]["documents"]
    upload = spec["paths"]["/v1/documents/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "text/event-stream" in spec["paths"]["/v1/answer"]["post"]["responses"]["200"]["content"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_web_page_and_static_files(server):
    with server.client() as c:
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'id="query"' in page.text and "/static/app.js" in page.text
        js = c.get("/static/app.js")
        assert js.status_code == 200 and "getReader" in js.text
        assert c.get("/static/style.css").status_code == 200
        assert c.get("/static/../settings.py").status_code == 404
