"""BM25 query speed: latte's segment index vs rank-bm25, same corpus, same tokens, same run.

Usage: python benchmarks/bench_bm25.py [--sizes 20000,200000] [--queries 20] [--json]

Both indexes see the same analyzer tokens; latte runs with Robertson idf (rank-bm25's BM25Okapi with
epsilon=0) so the top 10 can be compared exactly. rank-bm25 keeps one Python dict per document, so at 200k
MLDR-length documents it needs about 10 GB of RAM (with interned tokens) and about 15 minutes to build;
``--oracle-max-docs`` caps the sizes at which it is built.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import documents, queries, vocabulary  # noqa: E402

from indexers.analyzer import Analyzer  # noqa: E402
from indexers.bm25 import BM25Index, BM25Params  # noqa: E402


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def run(size: int, n_queries: int, oracle: bool, words: int) -> dict:
    an = Analyzer()
    vocab = vocabulary()
    qs = queries(n_queries, vocab=vocab)
    idx = BM25Index(BM25Params(k1=0.9, b=0.4, idf="robertson"), an)
    t = time.perf_counter()
    batch_ids, batch_texts, start = [], [], 0
    for i, (_, text) in enumerate(documents(size, words, vocab=vocab)):
        batch_texts.append(text)
        if len(batch_texts) == 5000:
            idx.add(np.arange(start, start + len(batch_texts)), batch_texts)
            start += len(batch_texts)
            batch_texts = []
    if batch_texts:
        idx.add(np.arange(start, start + len(batch_texts)), batch_texts)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        state = idx.save(Path(tmp), "v000001")
        del idx
        gc.collect()
        idx = BM25Index.load(Path(tmp), state, mmap=True)
        idx.search(qs[0], 10)  # warm the vocabulary dict and statistics
        lat = []
        ours = []
        for q in qs:
            t = time.perf_counter()
            d, _ = idx.search(q, 10)
            lat.append(time.perf_counter() - t)
            ours.append(d.tolist())
        res = {
            "docs": size,
            "words_per_doc": words,
            "latte_build_s": round(build_s, 1),
            "latte_query_ms_p50": round(float(np.median(lat)) * 1000, 3),
            "latte_query_ms_mean": round(float(np.mean(lat)) * 1000, 3),
        }
        if oracle:
            from rank_bm25 import BM25Okapi

            t = time.perf_counter()
            # a generator: rank-bm25 reads its corpus once, so the token lists are never all in memory. Tokens are
            # interned so its per-document dicts share their key strings: 0.25 GB per 5k documents instead of
            # about twice that, which is what lets 200k documents fit in 24 GB (same rank-bm25 code and scores).
            stream = ([sys.intern(t) for t in an.tokens(text)] for _, text in documents(size, words, vocab=vocab))
            ok = BM25Okapi(stream, k1=0.9, b=0.4, epsilon=0)
            res["rank_bm25_build_s"] = round(time.perf_counter() - t, 1)
            lat_o, same = [], 0
            for q, mine in zip(qs, ours):
                t = time.perf_counter()
                s = ok.get_scores(an.tokens(q))
                top = np.argsort(-s, kind="stable")[:10]
                lat_o.append(time.perf_counter() - t)
                ties_only = sorted(np.round(s[top], 4)) == sorted(np.round(s[mine], 4)) if len(mine) == 10 else False
                same += int(top.tolist() == mine or ties_only)
            res["rank_bm25_query_ms_p50"] = round(float(np.median(lat_o)) * 1000, 1)
            res["speedup_p50"] = round(res["rank_bm25_query_ms_p50"] / max(res["latte_query_ms_p50"], 1e-9), 1)
            res["same_top10"] = f"{same}/{len(qs)}"
        res["peak_rss_gb"] = round(rss_gb(), 2)
        return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="20000,200000")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--words", type=int, default=3300)
    ap.add_argument("--oracle-max-docs", type=int, default=200_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    results = [
        run(int(s), a.queries, int(s) <= a.oracle_max_docs, a.words) for s in a.sizes.split(",")
    ]
    if a.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(
            f"{r['docs']:>7} docs: latte p50 {r['latte_query_ms_p50']} ms"
            + (f" | rank-bm25 p50 {r['rank_bm25_query_ms_p50']} ms | {r['speedup_p50']}x | same top10 {r['same_top10']}" if "speedup_p50" in r else "")
            + f" | build {r['latte_build_s']} s | peak RSS {r['peak_rss_gb']} GB"
        )


if __name__ == "__main__":
    main()
