"""Query latency per retrieval mode, and dense exact vs HNSW, in one run.

Usage:
  python benchmarks/bench_search.py --index runs/indexes/beir-scifact-minilm-tokens   # SciFact modes (real encoder)
  python benchmarks/bench_search.py --synthetic 200000                                # 200k-passage synthetic index
  python benchmarks/bench_search.py --units-index runs/indexes/pdf-pages-financebench-dev-default \
      --units-queries ../shared/data/financebench-dev/queries.jsonl                 # document vs passage vs page
  add --json for machine-readable output

SciFact part: p50/p95 end-to-end query latency (encode + retrieve + fuse [+ rerank] + hits) for every mode the
index supports, over the test queries. Synthetic part: 200k passages (one per document, 200 words) with random
unit 384-d dense vectors, random sparse term weights and BM25 text; p50/p95 of each retriever alone, and dense
exact (IndexFlatIP) vs HNSW: recall@10 of HNSW against exact and the speed ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pct(xs: list[float]) -> dict[str, float]:
    a = np.array(xs) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2)}


def scifact_modes(index: Path, data: Path, n_queries: int) -> dict:
    from rag.planner import SearchOptions
    from rag.service import open_searcher

    planner = open_searcher(index, device="cpu")
    qs = [json.loads(x)["text"] for x in open(data / "queries.jsonl", encoding="utf-8")][:n_queries]
    modes = [m for m in ("bm25", "dense", "sparse") if m in planner.retrievers]
    configs = [(m, SearchOptions(k=10, mode=m, rerank=False)) for m in modes]
    configs.append(("hybrid", SearchOptions(k=10, mode="+".join(modes), rerank=False)))
    if planner.snapshot.get("tensors") is not None:
        configs.append(("hybrid+rerank100", SearchOptions(k=10, mode="+".join(modes), rerank=True, rerank_depth=100)))
        configs.append(("colbert", SearchOptions(k=10, mode="colbert")))
    out = {}
    for name, opt in configs:
        planner.search(qs[0], opt)
        lat = []
        for q in qs:
            t = time.perf_counter()
            planner.search(q, opt)
            lat.append(time.perf_counter() - t)
        out[name] = pct(lat)
    return out


def unit_latency(index: Path, queries: Path, n_queries: int, repeat: int = 3) -> dict:
    """p50/p95 of the default search (BM25 + dense, RRF, MaxSim rerank of the top 100) at each result unit, the
    units interleaved query by query so that machine load hits them alike."""
    from rag.planner import SearchOptions
    from rag.service import open_searcher

    planner = open_searcher(index, device="cpu")
    qs = [json.loads(x)["text"] for x in open(queries, encoding="utf-8") if x.strip()][:n_queries]
    modes = "+".join(m for m in ("bm25", "dense", "sparse") if m in planner.retrievers)
    units = ("document", "passage", "page")
    opts = {u: SearchOptions(k=10, mode=modes, rerank=True, rerank_depth=100, unit=u) for u in units}
    for u in units:
        planner.search(qs[0], opts[u])  # warm-up: kernels compiled, arrays paged in
    lat: dict[str, list[float]] = {u: [] for u in units}
    for _ in range(repeat):
        for q in qs:
            for u in units:
                t = time.perf_counter()
                planner.search(q, opts[u])
                lat[u].append(time.perf_counter() - t)
    counts = planner.snapshot.manifest.counts
    return {"documents": counts.get("documents"), "passages": counts.get("passages"), "queries": len(qs),
            **{f"{u}+rerank100": pct(v) for u, v in lat.items()}}


def synthetic(n: int, n_queries: int, dim: int = 384) -> dict:
    import scipy.sparse as sp
    from corpus import documents, queries, vocabulary

    from indexers.bm25 import BM25Index
    from indexers.dense import DenseIndex
    from indexers.sparse import SparseIndex
    from indexers.writer import Batch

    rng = np.random.default_rng(0)
    res: dict = {"passages": n, "dim": dim}

    def batch(start: int, count: int, encoded: dict) -> Batch:
        from indexers.docstore import StoredDoc
        from rag.records import Document, Passage

        items = [
            StoredDoc(Document(str(i), ""), b"", b"", np.zeros(1), [Passage(str(i), 0, 0, 0, "")])
            for i in range(start, start + count)
        ]
        return Batch(start, items, encoded)

    chunk = 50_000
    flat, hnsw = DenseIndex(dim, index_type="flat"), DenseIndex(dim, index_type="hnsw")
    sparse = SparseIndex(30_000)
    bm25 = BM25Index()
    t_hnsw = 0.0
    vocab = vocabulary()
    texts = documents(n, 200, vocab=vocab)
    for start in range(0, n, chunk):
        c = min(chunk, n - start)
        v = rng.normal(size=(c, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        flat.add_batch(batch(start, c, {"dense": v}))
        t = time.perf_counter()
        hnsw.add_batch(batch(start, c, {"dense": v}))
        hnsw._index_for(hnsw.segments[-1])  # build the graph now, to time it
        t_hnsw += time.perf_counter() - t
        rows = np.repeat(np.arange(c), 40)
        cols = rng.zipf(1.3, size=c * 40) % 30_000
        w = rng.random(c * 40).astype(np.float32)
        sparse.add_batch(batch(start, c, {"sparse": sp.csr_matrix((w, (rows, cols)), shape=(c, 30_000))}))
        bm25.add(np.arange(start, start + c), [next(texts)[1] for _ in range(c)])
    res["hnsw_build_s"] = round(t_hnsw, 1)
    qv = rng.normal(size=(n_queries, dim)).astype(np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    for idx in (flat, hnsw):
        idx.search(qv[0], 10)
    lat_f, lat_h, recall = [], [], []
    for q in qv:
        t = time.perf_counter()
        d_f = flat.search(q, 10).docnos
        lat_f.append(time.perf_counter() - t)
        t = time.perf_counter()
        d_h = hnsw.search(q, 10).docnos
        lat_h.append(time.perf_counter() - t)
        recall.append(len(set(d_f.tolist()) & set(d_h.tolist())) / 10)
    res["dense_exact"] = pct(lat_f)
    res["dense_hnsw"] = pct(lat_h)
    res["hnsw_recall@10"] = round(float(np.mean(recall)), 4)
    res["hnsw_speedup_p50"] = round(res["dense_exact"]["p50_ms"] / max(res["dense_hnsw"]["p50_ms"], 1e-9), 1)
    lat = []
    for _ in range(n_queries):
        q = {int(t): float(x) for t, x in zip(rng.zipf(1.3, size=12) % 30_000, rng.random(12))}
        t = time.perf_counter()
        sparse.search(q, 1000)
        lat.append(time.perf_counter() - t)
    res["sparse_top1000"] = pct(lat)
    lat = []
    for q in queries(n_queries, vocab=vocab):
        t = time.perf_counter()
        bm25.search(q, 1000)
        lat.append(time.perf_counter() - t)
    res["bm25_top1000"] = pct(lat)
    lat = []
    for q in qv:
        t = time.perf_counter()
        flat.search(q, 1000)
        lat.append(time.perf_counter() - t)
    res["dense_exact_top1000"] = pct(lat)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=Path, default=None, help="a SciFact index (any profile)")
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "scifact")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--synthetic", type=int, default=0, help="passages in the synthetic index (0: skip)")
    ap.add_argument("--units-index", type=Path, default=None, help="an index to time document vs passage vs page units")
    ap.add_argument("--units-queries", type=Path, default=None, help="queries.jsonl for --units-index")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out: dict = {}
    if a.units_index:
        if a.units_queries is None:
            ap.error("--units-index needs --units-queries (a BEIR-style queries.jsonl)")
        out["units"] = unit_latency(a.units_index, a.units_queries, a.queries)
    if a.index:
        out["scifact"] = scifact_modes(a.index, a.data, a.queries)
    if a.synthetic:
        out["synthetic"] = synthetic(a.synthetic, a.queries)
    print(json.dumps(out, indent=2) if a.json else _table(out))


def _table(out: dict) -> str:
    lines = []
    for mode, v in out.get("scifact", {}).items():
        lines.append(f"scifact {mode:>18}: p50 {v['p50_ms']:8.2f} ms  p95 {v['p95_ms']:8.2f} ms")
    for name, v in out.get("units", {}).items():
        if isinstance(v, dict):
            lines.append(f"units {name:>20}: p50 {v['p50_ms']:8.2f} ms  p95 {v['p95_ms']:8.2f} ms")
        else:
            lines.append(f"units {name}: {v}")
    syn = out.get("synthetic")
    if syn:
        for k in ("dense_exact", "dense_hnsw", "dense_exact_top1000", "sparse_top1000", "bm25_top1000"):
            lines.append(f"synthetic {k:>20}: p50 {syn[k]['p50_ms']:8.2f} ms  p95 {syn[k]['p95_ms']:8.2f} ms")
        lines.append(f"HNSW recall@10 {syn['hnsw_recall@10']}, speed-up x{syn['hnsw_speedup_p50']} (build {syn['hnsw_build_s']} s)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
