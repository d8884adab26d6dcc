"""latte's query path side by side with Infinity embedded, same index contents, same query vectors, one run.

Usage:
  python -m venv /tmp/infinity-venv && /tmp/infinity-venv/bin/pip install infinity-embedded-sdk==0.5.2
  python benchmarks/bench_peers.py --index runs/indexes/beir-scifact-default --data-dir ../shared/data/scifact \
      --infinity-python /tmp/infinity-venv/bin/python [--queries 300] [--depth 100] [--json [PATH]]

The index is a latte index of the ``default`` profile (MiniLM dense vectors and binary token tensors). The test
queries are encoded once by the index's encoders; then, one query at a time after a warm-up pass:

- latte: BM25; hybrid (BM25 + dense, RRF); hybrid + binary MaxSim rerank of the fused top ``--rerank-depth`` (the
  default pipeline). Each is timed without query encoding (``Planner.rank``: the ranking; ``Planner.search``: the
  ranking plus hit records with titles, passages and per-retriever ranks) and with it (``search`` from text).
- Infinity 0.5.2 embedded (``infinity-embedded-sdk``, the system latte's design is measured against): a table of
  the same passages (text with a full-text index, the same float MiniLM vector, the same sign bits of the same
  token vectors as a ``tensor,dim,bit`` column), queried with the same query vectors: ``match_text``; ``match_dense``
  + ``match_text`` fused by RRF; and that followed by a ``match_tensor`` fusion (MaxSim of the float query tokens
  against the bit tensors). Infinity needs numpy/pyarrow/pydantic versions of its own, so it runs in its own
  environment (``--infinity-python``), fed files this script writes; without it only latte is timed.

Both rank passages and keep each document's best (latte does so inside its retrievers, Infinity's rows are
collapsed here), with the same depth per retriever. nDCG@10 of each pipeline is reported beside its latency, so
a speed-up that loses quality shows. Latencies exclude Python start-up and model loading. Note the machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pct(lat: list[float]) -> dict[str, float]:
    a = np.asarray(lat) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "mean_ms": round(float(a.mean()), 2)}


def export(planner, queries: list[str], encoded: list[dict], work: Path) -> None:
    """Passages (docno, indexed text, dense vector, packed token bits) and queries (text, vectors) for Infinity."""
    snap = planner.snapshot
    docs, dense, tensors = snap["docs"], snap["dense"], snap["tensors"]
    vec = {}
    for seg in dense.segments:
        for d, o, v in zip(np.asarray(seg.docnos).tolist(), np.asarray(seg.ordinals).tolist(), np.asarray(seg.arrays["vectors"])):
            vec[(d, o)] = v
    dead = docs.deleted_set
    docnos, texts, vectors, bits, offsets = [], [], [], [], [0]
    titles: dict[int, str] = {}
    for seg in tensors.segments:
        codes, toff = seg.arrays["codes"], np.asarray(seg.arrays["token_offsets"])
        for p, (d, o) in enumerate(zip(np.asarray(seg.docnos).tolist(), np.asarray(seg.ordinals).tolist())):
            if d in dead or (d, o) not in vec:
                continue
            passage = docs.passage(d, o)
            if passage is None:
                continue
            if d not in titles:
                titles[d] = docs.fields(d, ["title"])["title"] or ""
            docnos.append(d)
            texts.append(f"{titles[d]}\n{passage.text}" if titles[d] else passage.text)
            vectors.append(np.asarray(vec[(d, o)], np.float32))
            bits.append(np.asarray(codes[toff[p]:toff[p + 1]]))
            offsets.append(offsets[-1] + toff[p + 1] - toff[p])
    (work / "passages.json").write_text(json.dumps({"docnos": docnos, "texts": texts}))
    np.save(work / "passage_vectors.npy", np.stack(vectors))
    np.save(work / "token_bits.npy", np.concatenate(bits))
    np.save(work / "token_offsets.npy", np.asarray(offsets, np.int64))
    (work / "queries.json").write_text(json.dumps({"texts": queries}))
    np.save(work / "query_vectors.npy", np.stack([np.asarray(e["dense"], np.float32) for e in encoded]))
    toks = [np.asarray(e["multivector"], np.float32) for e in encoded]
    np.save(work / "query_tokens.npy", np.concatenate(toks))
    np.save(work / "query_token_offsets.npy", np.concatenate([[0], np.cumsum([len(t) for t in toks])]).astype(np.int64))


def ndcg(ranked: list[list[int]], qids: list[str], ids: list[str], qrels: dict) -> float:
    from evals.metrics import evaluate, run_from_rankings

    run = run_from_rankings({q: [ids[d] for d in r] for q, r in zip(qids, ranked)})
    return round(evaluate(run, {q: qrels[q] for q in qids}, ["nDCG@10"]).aggregate["nDCG@10"], 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, required=True, help="BEIR folder (queries.jsonl, qrels/test.tsv)")
    ap.add_argument("--infinity-python", type=Path, help="a Python with infinity-embedded-sdk installed")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--depth", type=int, default=100, help="candidates per first-stage retriever")
    ap.add_argument("--rerank-depth", type=int, default=100)
    ap.add_argument("--json", nargs="?", const="-", help="write the figures as JSON (to PATH, or stdout)")
    a = ap.parse_args()

    from evals.datasets import read_qrels_tsv
    from rag.planner import SearchOptions
    from rag.service import open_searcher

    qrels = read_qrels_tsv(a.data_dir / "qrels" / "test.tsv")
    rows = [json.loads(x) for x in open(a.data_dir / "queries.jsonl", encoding="utf-8")]
    rows = [r for r in rows if r["_id"] in qrels][: a.queries]
    qids, queries = [r["_id"] for r in rows], [r["text"] for r in rows]
    planner = open_searcher(a.index, device="cpu", lazy=False)
    if planner.snapshot.get("tensors") is None or "dense" not in planner.retrievers:
        sys.exit(f"{a.index} has no dense vectors or token tensors: build it with the default profile")
    ids = planner.snapshot["docs"].ids_by_docno()
    common = {"k": 10, "depth": a.depth, "rerank_depth": a.rerank_depth}
    pipelines = {
        "bm25": SearchOptions(mode="bm25", rerank=False, **common),
        "hybrid": SearchOptions(mode="bm25+dense", rerank=False, **common),
        "hybrid+maxsim": SearchOptions(mode="bm25+dense", rerank=True, **common),
    }
    full = pipelines["hybrid+maxsim"]
    encoded = [planner.encode_query(q, ["bm25", "dense"], full) for q in queries]
    result: dict = {"index": str(a.index), "queries": len(queries), "depth": a.depth, "rerank_depth": a.rerank_depth,
                    "load_before": os.getloadavg()[0], "latte": {}, "infinity": None}
    for name, opt in pipelines.items():
        for q, e in zip(queries[:10], encoded[:10]):  # warm-up
            planner.search(q, opt, e)
        rank_lat, search_lat, e2e_lat, ranked = [], [], [], []
        for q, e in zip(queries, encoded):
            t = time.perf_counter()
            r = planner.rank(q, opt, e)
            rank_lat.append(time.perf_counter() - t)
            ranked.append([int(d) for d in r.docnos[:10]])
            t = time.perf_counter()
            planner.search(q, opt, e)
            search_lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            planner.search(q, opt)
            e2e_lat.append(time.perf_counter() - t)
        result["latte"][name] = {"rank": pct(rank_lat), "search": pct(search_lat), "search_with_encoding": pct(e2e_lat),
                                 "ndcg@10": ndcg(ranked, qids, ids, qrels)}
    if a.infinity_python:
        with tempfile.TemporaryDirectory(prefix="latte-peers-") as tmp:
            work = Path(tmp)
            export(planner, queries, encoded, work)
            script = Path(__file__).resolve().parent / "peers_infinity.py"
            subprocess.run([str(a.infinity_python), str(script), str(work), "--depth", str(a.depth),
                            "--rerank-depth", str(a.rerank_depth)], check=True, stdout=subprocess.DEVNULL)
            inf = json.loads((work / "infinity.json").read_text())
        result["infinity"] = {"build_s": inf["build_s"], "pipelines": {
            name: {**pct(p["latencies_s"]), "ndcg@10": ndcg(p["ranked"], qids, ids, qrels)}
            for name, p in inf["pipelines"].items()}}
    result["load_after"] = os.getloadavg()[0]
    if a.json:
        text = json.dumps(result, indent=2)
        print(text) if a.json == "-" else Path(a.json).write_text(text)
        if a.json == "-":
            return
    print(f"{len(queries)} queries, depth {a.depth}, rerank depth {a.rerank_depth}; "
          f"load {result['load_before']:.1f} -> {result['load_after']:.1f}")
    print(f"{'pipeline':<15}{'latte rank p50':>16}{'latte search p50':>18}{'with encoding':>15}{'nDCG@10':>9}"
          f"{'Infinity p50':>14}{'nDCG@10':>9}{'latte/Infinity':>16}")
    for name, r in result["latte"].items():
        i = (result["infinity"] or {}).get("pipelines", {}).get(name)
        ratio = f"{r['search']['p50_ms'] / i['p50_ms']:.2f}x" if i else "-"
        print(f"{name:<15}{r['rank']['p50_ms']:>14.2f}ms{r['search']['p50_ms']:>16.2f}ms"
              f"{r['search_with_encoding']['p50_ms']:>13.2f}ms{r['ndcg@10']:>9.4f}"
              + (f"{i['p50_ms']:>12.2f}ms{i['ndcg@10']:>9.4f}{ratio:>16}" if i else ""))


if __name__ == "__main__":
    main()
