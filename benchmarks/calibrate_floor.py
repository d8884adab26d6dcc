"""Where a no-answer floor on ``Hit.relevance`` should sit: real questions against nonsense ones, on a BEIR set.

Usage: python benchmarks/calibrate_floor.py --index IDX --data-dir ../shared/data/scifact [--split test] [--json]

For every real query (the split's queries) and for generated nonsense queries (random letter strings, and
questions about subjects the collection does not hold), the top hit's relevance is read with the index's
default pipeline. Printed: percentiles of both, and for candidate floors the share of real questions still
answered and of nonsense questions refused. ``relevance`` is the best-passage dense cosine when the index has a
dense model, else the BM25 share (``rag.relevance``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OFF_TOPIC = [
    "who won the football world cup final in extra time", "best recipe for chocolate chip cookies",
    "how to change a flat bicycle tire", "lyrics of a famous rock ballad about a hotel",
    "what time does the train to the airport leave", "rules of cricket for beginners",
    "cheapest flights to a beach holiday in august", "how to knit a wool scarf",
    "plot summary of a detective novel", "which guitar strings sound brightest",
    "how tall is the tallest skyscraper", "tips for growing tomatoes on a balcony",
    "history of the roman empire emperors", "how to play the knight in chess",
    "what is the capital city of australia", "how do I reset my router password",
    "translate good morning into italian", "origami crane folding instructions",
    "how many goals did the striker score this season", "best time to visit the mountains for skiing",
]


def nonsense(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("bcdfghjklmnpqrstvwxz" + "aeiou"))
    return [" ".join("".join(rng.choice(letters, rng.integers(4, 9))) for _ in range(rng.integers(2, 6))) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--random", type=int, default=100, help="random letter-string queries")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from evals.datasets import load_beir
    from rag.planner import SearchOptions
    from rag.service import open_searcher

    ds = load_beir(a.data_dir, a.split)
    planner = open_searcher(a.index, device="cpu")

    def tops(queries: list[str]) -> tuple[np.ndarray, str | None]:
        vals, basis = [], None
        for q in queries:
            res = planner.search(q, SearchOptions(k=1))
            basis = res.relevance
            rel = res.hits[0].relevance if res.hits and res.hits[0].relevance is not None else 0.0
            vals.append(rel)
        return np.array(vals), basis

    real, basis = tops(list(ds.queries.values()))
    rand, _ = tops(nonsense(a.random))
    off, _ = tops(OFF_TOPIC)
    junk = np.concatenate([rand, off])
    pct = [1, 5, 50, 95, 99]
    floors = np.round(np.arange(0.05, 0.61, 0.05), 2)
    res = {
        "index": str(a.index),
        "relevance": basis,
        "real_queries": len(real),
        "nonsense_queries": {"random": len(rand), "off_topic": len(off)},
        "real_percentiles": {p: round(float(np.percentile(real, p)), 3) for p in pct},
        "random_percentiles": {p: round(float(np.percentile(rand, p)), 3) for p in pct},
        "off_topic_percentiles": {p: round(float(np.percentile(off, p)), 3) for p in pct},
        "floors": [
            {"floor": float(f), "real_answered": round(float((real > f).mean()), 3),
             "random_refused": round(float((rand <= f).mean()), 3), "off_topic_refused": round(float((off <= f).mean()), 3)}
            for f in floors
        ],
        "all_nonsense_max": round(float(junk.max()), 3),
    }
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"relevance: {basis}; {len(real)} real queries, {len(rand)} random + {len(off)} off-topic nonsense")
    print("percentiles  " + "  ".join(f"p{p:<5}" for p in pct))
    for name in ("real", "random", "off_topic"):
        print(f"{name:<12} " + "  ".join(f"{v:<6}" for v in res[f"{name}_percentiles"].values()))
    print("floor  real answered  random refused  off-topic refused")
    for f in res["floors"]:
        print(f"{f['floor']:<6} {f['real_answered']:<14} {f['random_refused']:<15} {f['off_topic_refused']}")


if __name__ == "__main__":
    main()
