"""Search latency through the API while the same server encodes a large upload (default profile, MiniLM).

Usage: python benchmarks/bench_query_during_ingest.py [--docs 150] [--words 600] [--clients 4] [--json]

One live server (uvicorn, a thread of this process) over a small default-profile index. Each run: ``--clients``
threads search (``mode=dense``, k=5) in a loop; once each has answered, a JSON batch of ``--docs`` new documents
is posted and the searchers go on until it is committed. Reported per run: search latency p50/p95 and the
``timings_ms.encode`` part (the query's wait for the model plus its encoding), before and during the ingest.

Runs, same machine, same process: ``before`` = the old sharing (document chunks of 64 texts, queries and chunks
take the model in no order: ``QUERIES_FIRST=False``), ``now`` = chunks of 16 texts and queries first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "api"))
sys.path.insert(0, str(ROOT))
from api_live import KEY, build_index, live_server, make_rows, make_text  # noqa: E402


def percentiles(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"n": 0}
    a = np.array(xs)
    return {"n": len(xs), "p50": round(float(np.percentile(a, 50)), 1), "p95": round(float(np.percentile(a, 95)), 1)}


def run(index: Path, docs: list[dict], clients: int, chunk: int, queries_first: bool) -> dict:
    import api.encoders as shared
    from api.settings import Settings

    shared.DOCUMENT_CHUNK, shared.QUERIES_FIRST = chunk, queries_first
    lat: dict[str, list[float]] = {"idle": [], "ingest": []}
    enc: dict[str, list[float]] = {"idle": [], "ingest": []}
    phase = {"now": "idle"}
    stop = threading.Event()
    errors: list[str] = []
    answered = threading.Barrier(clients + 1)
    with live_server(Settings(index=index, api_keys=[KEY], device="cpu", max_batch_docs=100_000)) as live:

        def searcher(i: int) -> None:
            first = True
            with httpx.Client(base_url=live.url, timeout=3600) as c:
                n = 0
                while not stop.is_set():
                    t = time.perf_counter()
                    at = phase["now"]
                    try:
                        r = c.post("/v1/search", json={"query": make_text(5000 + i * 1000 + n, n_words=6),
                                                       "mode": "dense", "k": 5})
                    except httpx.HTTPError as exc:
                        errors.append(repr(exc))
                        continue
                    ms = (time.perf_counter() - t) * 1000
                    n += 1
                    if r.status_code == 200:
                        lat[at].append(ms)
                        enc[at].append(r.json()["timings_ms"].get("encode", 0.0))
                    if first:
                        first = False
                        answered.wait()

        threads = [threading.Thread(target=searcher, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        answered.wait()
        time.sleep(2.0)  # idle latency for a moment (a measurement, not a test)
        phase["now"] = "ingest"
        t0 = time.perf_counter()
        with httpx.Client(base_url=live.url, timeout=3600, headers={"Authorization": f"Bearer {KEY}"}) as c:
            r = c.post("/v1/documents", json={"documents": docs})
        ingest_s = time.perf_counter() - t0
        stop.set()
        for t in threads:
            t.join(3600)  # before the server stops: the last searches finish
    assert r.status_code == 200, r.text
    return {"chunk": chunk, "queries_first": queries_first, "ingest_s": round(ingest_s, 1), "errors": errors[:3],
            "latency_ms": {k: percentiles(v) for k, v in lat.items()},
            "encode_ms": {k: percentiles(v) for k, v in enc.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=150)
    ap.add_argument("--words", type=int, default=600)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="latte-bench-qi-"))
    res: dict = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "runs": []}
    for name, chunk, first in (("before", 64, False), ("now", 16, True)):
        index = build_index(root / name, make_rows(30), profile="default")
        docs = [{"id": f"new{i}", "text": make_text(10_000 + i, n_words=a.words)} for i in range(a.docs)]
        res["runs"].append({"run": name, **run(index, docs, a.clients, chunk, first)})
    res["load_average_after"] = os.getloadavg()
    if a.json:
        print(json.dumps(res, indent=2))
        return
    for r in res["runs"]:
        li, lg, eg = r["latency_ms"]["idle"], r["latency_ms"]["ingest"], r["encode_ms"]["ingest"]
        print(f"{r['run']:<7} chunk {r['chunk']:>3}, queries first {r['queries_first']!s:<5}: idle p50 {li.get('p50')} ms; "
              f"during ingest p50 {lg.get('p50')} ms, p95 {lg.get('p95')} ms (encode p50 {eg.get('p50')}, p95 "
              f"{eg.get('p95')} ms, {lg['n']} searches); ingest {r['ingest_s']} s")
    print(f"load average before/after: {res['load_average']} / {res['load_average_after']}")


if __name__ == "__main__":
    main()
