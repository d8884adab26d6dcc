"""How should MaxSim evidence meet the first stage? Tune on one split, report on another.

Usage:
  python benchmarks/tune_rerank.py --index runs/indexes/beir-scifact-minilm-tokens \
      --data-dir ../shared/data/scifact --tune-split train --report-split test [--first bm25+dense] [--json]

For each query the first stage (default BM25 + dense, RRF k=60, depth 1000) runs once and MaxSim is computed once
for the top 1000 candidates (binary and, where the index stores it, float16). Every combination of rerank depth
(20/100/1000), combination rule (replace, RRF of the two ranks, weighted min-max sum; weights 0.2..0.8) and
quantization is then scored with nDCG@10 on the tuning split; the best one is reported on the report split next to
the first stage alone. Nothing about the report split is used to choose.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from evals.datasets import load_beir
from evals.metrics import evaluate
from rag.planner import SearchOptions
from rag.rerank_stage import combine
from rag.service import open_searcher

DEPTHS = (20, 100, 1000)
WEIGHTS = (0.2, 0.35, 0.5, 0.65, 0.8)


def first_stage_and_maxsim(planner, queries: dict[str, str], mode: str, quants: list[str]) -> dict:
    out = {}
    tensors = planner.snapshot["tensors"]
    enc = planner.encoders["multivector"]
    t0 = time.perf_counter()
    for i, (qid, text) in enumerate(queries.items()):
        r = planner.rank(text, SearchOptions(k=1000, mode=mode, rerank=False, depth=1000))
        ids = np.asarray(r.docnos[:1000])
        scores = np.asarray(r.scores[:1000], dtype=np.float64)
        q = enc.encode([text], kind="query", want=("multivector",)).multivector[0]
        ms = {qz: tensors.score(q, ids, quantization=qz)[0].astype(np.float64) for qz in quants}
        out[qid] = (ids, scores, ms)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(queries)} queries, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def run_for(cache: dict, ids_of: list[str], depth: int, how: str, w: float, qz: str | None) -> dict:
    run = {}
    for qid, (ids, scores, ms) in cache.items():
        if qz is None:
            order_ids = ids
        else:
            d = min(depth, len(ids))
            m = np.where(np.isfinite(ms[qz][:d]), ms[qz][:d], -1e9)
            top, _ = combine(ids[:d], scores[:d], m, how, w)
            order_ids = np.concatenate([top, ids[d:]])
        run[qid] = {ids_of[int(x)]: 1.0 / (i + 1) for i, x in enumerate(order_ids.tolist())}
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--tune-split", default="train")
    ap.add_argument("--report-split", default="test")
    ap.add_argument("--first", default="bm25+dense", help="first-stage mode")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    planner = open_searcher(a.index, device="cpu")
    quants = ["binary"] + (["float16"] if planner.snapshot["tensors"].store_float16 else [])
    ids_of = planner.docs.ids_by_docno()
    configs = [(None, 0, "none", 0.0)] + [
        (qz, d, how, w)
        for qz in quants
        for d in DEPTHS
        for how, ws in (("replace", (1.0,)), ("rrf", WEIGHTS), ("weighted", WEIGHTS))
        for w in ws
    ]
    results: dict = {}
    for split in (a.tune_split, a.report_split):
        ds = load_beir(a.data_dir, split)
        print(f"{split}: {len(ds.queries)} queries", file=sys.stderr)
        cache = first_stage_and_maxsim(planner, ds.queries, a.first, quants)
        results[split] = {}
        for qz, d, how, w in configs:
            name = "first stage" if qz is None else f"{qz} depth={d} {how}" + ("" if how == "replace" else f" w={w}")
            results[split][name] = evaluate(run_for(cache, ids_of, d, how, w, qz), ds.qrels).aggregate["nDCG@10"]
    tune = results[a.tune_split]
    best = max((k for k in tune if k != "first stage"), key=lambda k: tune[k])
    summary = {
        "first_stage": a.first,
        "tuned_on": a.tune_split,
        "best_config": best,
        "tune_ndcg10": {"first stage": tune["first stage"], best: tune[best]},
        "report_ndcg10": {k: results[a.report_split][k] for k in ("first stage", best)},
        "report_all": results[a.report_split],
        "tune_all": tune,
    }
    if a.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"best on {a.tune_split}: {best} ({tune[best]:.4f} vs first stage {tune['first stage']:.4f})")
    rep = results[a.report_split]
    print(f"on {a.report_split}: {best} {rep[best]:.4f} vs first stage {rep['first stage']:.4f}")
    for k in sorted(rep, key=lambda k: -rep[k])[:15]:
        print(f"  {rep[k]:.4f}  {k}")


if __name__ == "__main__":
    main()
