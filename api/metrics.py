"""Prometheus metrics of one app: request counts and latencies per endpoint, search stage latencies, index state.

Each app owns its registry (never the global one), so several apps in one process (tests) do not collide.
Endpoints are labelled by route template (``/v1/documents/{doc_id}``), never by raw path, so label
cardinality stays bounded; unmatched paths share the label ``unmatched``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise ImportError("the API's /metrics needs prometheus-client: pip install prometheus-client") from exc
    return prometheus_client


class Metrics:
    """Counters and histograms of one app; ``render()`` gives the Prometheus text format."""

    def __init__(self) -> None:
        pc = _prometheus()
        self._pc = pc
        self.registry = pc.CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = pc.Counter(
            "latte_http_requests_total", "HTTP requests by endpoint and status", ["method", "endpoint", "status"], registry=r
        )
        self.latency = pc.Histogram(
            "latte_http_request_duration_seconds",
            "HTTP request latency (to the end of the response body, streams included)",
            ["method", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = pc.Gauge("latte_http_requests_in_flight", "HTTP requests being served", registry=r)
        self.stages = pc.Histogram(
            "latte_search_stage_duration_seconds",
            "search stage latency from SearchResult.timings_ms (encode, bm25, dense, sparse, fusion, rerank, hits)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.searches = pc.Counter("latte_searches_total", "searches run (search and answer)", ["endpoint"], registry=r)
        self.documents = pc.Counter(
            "latte_ingested_documents_total", "documents sent to the API by outcome", ["status"], registry=r
        )
        self.reloads = pc.Counter("latte_index_reloads_total", "committed versions opened by the server", registry=r)
        self.reload_failures = pc.Counter(
            "latte_index_reload_failures_total", "failed attempts to open a new version (the old one kept serving)", registry=r
        )
        self.version = pc.Gauge("latte_index_version", "index version being served", registry=r)
        self.doc_count = pc.Gauge("latte_index_documents", "live documents in the served version", registry=r)
        self.page_images = pc.Counter(
            "latte_page_images_total",
            "page images answered: rendered, cached (from the LRU cache) or not_modified (304)",
            ["result"],
            registry=r,
        )
        self.errors = pc.Counter("latte_unhandled_errors_total", "requests that ended in an unexpected error", registry=r)

    def observe_request(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(method, endpoint, str(status)).inc()
        self.latency.labels(method, endpoint).observe(seconds)

    def observe_search(self, endpoint: str, timings_ms: Mapping[str, float]) -> None:
        self.searches.labels(endpoint).inc()
        for stage, ms in timings_ms.items():
            self.stages.labels(stage).observe(float(ms) / 1000.0)

    def observe_index(self, version: int, documents: int) -> None:
        self.version.set(version)
        self.doc_count.set(documents)

    def render(self) -> bytes:
        return self._pc.generate_latest(self.registry)
