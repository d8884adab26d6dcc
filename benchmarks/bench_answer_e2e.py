"""End-to-end `ask` latency split into retrieval and generation, on a real index.

Usage: python benchmarks/bench_answer_e2e.py --index IDX --data-dir ../shared/data/scifact [--model FILE.gguf]
       [--queries 20] [--max-tokens 64] [--json]

For each question (SciFact test queries): retrieval = planner.search (encode, retrievers, fusion, rerank, hits);
generation = answer() with the in-process llama.cpp model (default: the tiny random GGUF the tests build; pass a
real one with --model) until the last token. Reports medians and the retrieval share of the total.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    from rag.answer import LlamaCppGenerator, answer
    from rag.planner import SearchOptions
    from rag.service import open_searcher

    model = a.model
    tmp = None
    if model is None:
        sys.path.insert(0, str(ROOT / "tests" / "rag" / "answer"))
        from tiny_gguf import build_tiny_gguf

        tmp = tempfile.TemporaryDirectory()
        model = build_tiny_gguf(Path(tmp.name) / "tiny.gguf")
    gen = LlamaCppGenerator(str(model), n_ctx=2048, n_threads=2)
    planner = open_searcher(a.index, device="cpu")
    qs = [json.loads(x)["text"] for x in open(a.data_dir / "queries.jsonl", encoding="utf-8")][: a.queries]
    planner.search(qs[0], SearchOptions(k=a.k))
    t_ret, t_gen = [], []
    for q in qs:
        t = time.perf_counter()
        res = planner.search(q, SearchOptions(k=a.k))
        t_ret.append(time.perf_counter() - t)
        t = time.perf_counter()
        answer(q, res.hits, gen, max_tokens=a.max_tokens, temperature=0.0)
        t_gen.append(time.perf_counter() - t)
    r, g = statistics.median(t_ret) * 1000, statistics.median(t_gen) * 1000
    out = {
        "index": str(a.index),
        "model": "tiny random GGUF" if a.model is None else str(a.model),
        "queries": len(qs),
        "max_tokens": a.max_tokens,
        "retrieval_ms_p50": round(r, 1),
        "generation_ms_p50": round(g, 1),
        "retrieval_share": round(sum(t_ret) / (sum(t_ret) + sum(t_gen)), 3),
    }
    print(json.dumps(out, indent=2) if a.json else
          f"retrieval p50 {out['retrieval_ms_p50']} ms, generation p50 {out['generation_ms_p50']} ms, "
          f"retrieval share {out['retrieval_share']:.1%} ({out['model']}, {a.max_tokens} tokens)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
