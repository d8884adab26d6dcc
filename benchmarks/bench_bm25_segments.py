"""BM25 query speed by segment count: one index built in many commits, then merged as ``latte optimize`` does.

Usage: python benchmarks/bench_bm25_segments.py [--docs 20000] [--batch 2000] [--max-segments 10] [--queries 200]

Builds ``--docs`` synthetic MLDR-length documents in commits of ``--batch`` (one segment each), measures the p50 of
200 queries on that index, merges it down to ``--max-segments`` and then to one segment (what a single-segment build
holds: the same postings), and measures again in the same run. Prints JSON; the 1.2x goal compares the
``--max-segments`` index with the single segment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from corpus import documents, queries, vocabulary  # noqa: E402

from indexers.bm25 import BM25Index, BM25Params  # noqa: E402
from indexers.merge import merge_component, plan_to_count  # noqa: E402


def p50_ms(idx: BM25Index, qs: list[str], rounds: int = 3) -> float:
    for q in qs:
        idx.search(q, 10)
    best = []
    for _ in range(rounds):  # the best of a few rounds: this machine is shared
        lat = []
        for q in qs:
            t = time.perf_counter()
            idx.search(q, 10)
            lat.append(time.perf_counter() - t)
        best.append(float(np.median(lat)))
    return round(min(best) * 1000, 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--max-segments", type=int, default=10)
    ap.add_argument("--queries", type=int, default=200)
    a = ap.parse_args()
    vocab = vocabulary()
    qs = queries(a.queries, vocab=vocab)
    idx = BM25Index(BM25Params(k1=1.2, b=0.75))
    buf, start = [], 0
    for _, text in documents(a.docs, vocab=vocab):
        buf.append(text)
        if len(buf) == a.batch:
            idx.add(np.arange(start, start + len(buf)), buf)
            start += len(buf)
            buf = []
    if buf:
        idx.add(np.arange(start, start + len(buf)), buf)
    out: dict = {"docs": a.docs, "batch": a.batch}
    with tempfile.TemporaryDirectory() as tmp:
        for tag, target in (("built", None), ("optimized", a.max_segments), ("single", 1)):
            if target is not None:
                t = time.perf_counter()
                merge_component(idx, plan_to_count([s.n_docs for s in idx.segments], target))
                out[f"{tag}_merge_s"] = round(time.perf_counter() - t, 1)
            state = idx.save(Path(tmp), f"v{len(out):06d}")
            loaded = BM25Index.load(Path(tmp), state)
            out[f"{tag}_segments"] = len(loaded.segments)
            out[f"{tag}_p50_ms"] = p50_ms(loaded, qs)
    out["optimized_over_single"] = round(out["optimized_p50_ms"] / out["single_p50_ms"], 2)
    out["load_avg"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
