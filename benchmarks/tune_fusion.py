"""Tune first-stage fusion (RRF k, per-retriever weights, depth; weighted min-max) on one split, report on another.

Usage:
  python benchmarks/tune_fusion.py --index runs/indexes/beir-scifact-default --data-dir ../shared/data/scifact \
      [--retrievers bm25,dense] [--tune-split train] [--report-split test] [--json]

Each retriever runs once per query (top 1000); every fusion setting is then scored with nDCG@10 on the tuning
split, and the best is reported on the report split beside the default (RRF k=60, equal weights, depth 1000).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from evals.datasets import load_beir
from evals.metrics import evaluate
from rag.fusion import rrf, weighted_minmax
from rag.planner import SearchOptions
from rag.service import open_searcher


def rankings(planner, queries: dict[str, str], names: list[str]) -> dict:
    out = {}
    for qid, text in queries.items():
        r = planner.rank(text, SearchOptions(k=1000, mode="+".join(names), rerank=False, depth=1000))
        out[qid] = {n: (np.asarray(x.docnos), np.asarray(x.scores)) for n, x in r.rankings.items()}
    return out


def fused_run(cache: dict, ids_of: list[str], kind: str, k: float, weights: dict, depth: int) -> dict:
    run = {}
    for qid, per in cache.items():
        cut = {n: (d[:depth], s[:depth]) for n, (d, s) in per.items()}
        ids, _ = rrf(cut, k=k, weights=weights) if kind == "rrf" else weighted_minmax(cut, weights=weights)
        run[qid] = {ids_of[int(x)]: 1.0 / (i + 1) for i, x in enumerate(ids[:1000].tolist())}
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--retrievers", default="bm25,dense")
    ap.add_argument("--tune-split", default="train")
    ap.add_argument("--report-split", default="test")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    names = a.retrievers.split(",")
    planner = open_searcher(a.index, device="cpu")
    ids_of = planner.docs.ids_by_docno()
    grid = [("rrf", 60.0, None, 1000)]
    for k, w, depth in itertools.product((10, 30, 60, 100), (0.3, 0.4, 0.5, 0.6, 0.7), (100, 1000)):
        grid.append(("rrf", float(k), w, depth))
    for w, depth in itertools.product((0.3, 0.4, 0.5, 0.6, 0.7), (100, 1000)):
        grid.append(("weighted", 0.0, w, depth))

    def label(g):  # w is the weight of the last retriever, the rest share 1 - w
        kind, k, w, depth = g
        return f"{kind} k={k:g} w_last={w} depth={depth}" if kind == "rrf" else f"weighted w_last={w} depth={depth}"

    def weights(w):
        if w is None:
            return None
        return {n: (w if n == names[-1] else (1 - w) / (len(names) - 1)) for n in names}

    results = {}
    for split in (a.tune_split, a.report_split):
        ds = load_beir(a.data_dir, split)
        cache = rankings(planner, ds.queries, names)
        results[split] = {
            label(g): evaluate(fused_run(cache, ids_of, g[0], g[1], weights(g[2]), g[3]), ds.qrels).aggregate["nDCG@10"]
            for g in grid
        }
        print(f"{split}: done", file=sys.stderr)
    default = label(grid[0])
    tune = results[a.tune_split]
    best = max(tune, key=lambda x: tune[x])
    summary = {
        "retrievers": names,
        "default": default,
        "best_on_tune": best,
        "tune": {default: tune[default], best: tune[best]},
        "report": {default: results[a.report_split][default], best: results[a.report_split][best]},
    }
    print(json.dumps(summary, indent=2) if a.json else "\n".join(f"{k}: {v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
