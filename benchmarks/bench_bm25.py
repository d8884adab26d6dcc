"""BM25 side by side: latte, bm25s (numba backend), tantivy and rank-bm25, same corpus, same terms, same run.

Usage: python benchmarks/bench_bm25.py [--sizes 20000,200000] [--queries 200] [--json [PATH]]

Corpus: synthetic MLDR-length documents (``benchmarks/corpus.py``, about 3,300 words, Zipfian vocabulary), queries
of 3-8 mid-frequency words. Every engine indexes latte's analyzer terms (lowercase, stopwords, Snowball), so the
terms are the same everywhere:

- latte: ``BM25Index`` built the way ingest builds it (``--batch`` documents per segment; ``--optimize N`` then merges
  them down to N segments as ``latte optimize`` does), saved and reopened memory-mapped.
- bm25s: ``method="lucene"``, numba backend, one thread, fed latte's term ids.
- tantivy: one text field (``index_option="freq"``, no positions, as latte keeps none) holding the analyzed terms
  joined by spaces; one writer thread; queries are the analyzed terms OR-ed.
- rank-bm25: ``BM25Okapi`` (a different idf), timed only, on sizes up to ``--rank-bm25-max-docs``.

BM25 parameters are tantivy's fixed ones (k1=1.2, b=0.75, Lucene idf) for latte and bm25s. The exact reference is
bm25s (exhaustive, same formula); ``same_top10`` counts queries whose latte top 10 equals it, differences in order
allowed only between equal scores. ``tantivy_same_top10`` is informative: tantivy quantizes document lengths to a
byte, so its ranking differs a little. Each latency is the whole query, from text (analysis included) to the top
10 ids, one query at a time, one thread, after one warm-up pass.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from corpus import documents, queries, vocabulary  # noqa: E402

from indexers.analyzer import Analyzer  # noqa: E402
from indexers.bm25 import BM25Index, BM25Params  # noqa: E402

K1, B = 1.2, 0.75


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6


def p50_ms(lat: list[float]) -> float:
    return round(float(np.median(lat)) * 1000, 4)


def timed(fn, qs: list[str]) -> tuple[list[float], list]:
    for q in qs[:10]:
        fn(q)
    lat, out = [], []
    for q in qs:
        t = time.perf_counter()
        r = fn(q)
        lat.append(time.perf_counter() - t)
        out.append(r)
    return lat, out


def build_latte(texts_iter, batch: int, folder: Path, optimize: int | None) -> tuple[BM25Index, float, dict]:
    idx = BM25Index(BM25Params(k1=K1, b=B, idf="lucene"), Analyzer())
    t = time.perf_counter()
    buf, start = [], 0
    for text in texts_iter:
        buf.append(text)
        if len(buf) == batch:
            idx.add(np.arange(start, start + len(buf)), buf)
            start += len(buf)
            buf = []
    if buf:
        idx.add(np.arange(start, start + len(buf)), buf)
    state = idx.save(folder, "v000001")
    info = {"latte_segments_built": len(idx.segments)}
    build_s = time.perf_counter() - t
    if optimize:  # what `latte optimize --max-segments N` does to the BM25 component
        from indexers.merge import merge_component, plan_to_count

        t = time.perf_counter()
        merge_component(idx, plan_to_count([s.n_docs for s in idx.segments], optimize))
        state = idx.save(folder, "v000002")
        info["latte_optimize_s"] = round(time.perf_counter() - t, 1)
        for f in folder.iterdir():  # the merged-away segments are garbage (the next writer would remove them)
            if f.name not in BM25Index.files_of(state):
                shutil.rmtree(f) if f.is_dir() else f.unlink()
    del idx
    gc.collect()
    idx = BM25Index.load(folder, state, mmap=True)
    info["latte_segments"] = len(idx.segments)
    return idx, build_s, info


def build_bm25s(idx: BM25Index, term_docs: list[np.ndarray], folder: Path):
    import bm25s
    from bm25s.tokenization import Tokenized

    vocab = {t: i for i, t in enumerate(idx.vocab.terms)}
    r = bm25s.BM25(k1=K1, b=B, method="lucene", backend="numba")
    t = time.perf_counter()
    r.index(Tokenized(ids=[d.tolist() for d in term_docs], vocab=vocab), show_progress=False)
    build_s = time.perf_counter() - t
    r.save(str(folder))
    return r, build_s


def build_tantivy(analyzed: list[str], folder: Path):
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", stored=False, tokenizer_name="default", index_option="freq")
    sb.add_integer_field("id", stored=True, indexed=False)  # to map hits back (a few bytes per document)
    schema = sb.build()
    folder.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(schema, path=str(folder))
    t = time.perf_counter()
    w = index.writer(heap_size=500_000_000, num_threads=1)
    for i, text in enumerate(analyzed):
        w.add_document(tantivy.Document(body=text, id=i))
    w.commit()
    w.wait_merging_threads()
    build_s = time.perf_counter() - t
    index.reload()
    return index, build_s


def same_top(mine: list[int], ref: list[int], scores: np.ndarray) -> bool:
    """Equal lists, or differing only where the exact scores tie."""
    if mine == ref:
        return True
    if len(mine) != len(ref):
        return False
    return all(a == b or abs(float(scores[a]) - float(scores[b])) <= 1e-5 * max(1.0, abs(float(scores[b])))
               for a, b in zip(mine, ref))


def run(size: int, n_queries: int, words: int, batch: int, rank_bm25: bool, optimize: int | None,
        keep: Path | None) -> dict:
    an = Analyzer()
    vocab = vocabulary()
    qs = queries(n_queries, vocab=vocab)
    res: dict = {"docs": size, "words_per_doc": words, "queries": len(qs)}
    with tempfile.TemporaryDirectory(dir=keep) as tmp:
        tmp = Path(tmp)
        latte, res["latte_build_s"], info = build_latte(
            (text for _, text in documents(size, words, vocab=vocab)), batch, tmp / "latte", optimize)
        res.update(info)
        res["latte_index_mb"] = round(folder_mb(tmp / "latte"), 1)
        # the same terms for the other engines (analysis is not counted in their build times)
        analyzed, term_docs = [], []
        ids = latte.vocab.ids
        for _, text in documents(size, words, vocab=vocab):
            toks = an.tokens(text)
            analyzed.append(" ".join(toks))
            term_docs.append(np.array([ids[t] for t in toks], dtype=np.int32))

        lat, latte_top = timed(lambda q: latte.search(q, 10).docnos.tolist(), qs)
        res["latte_p50_ms"] = p50_ms(lat)
        res["latte_mean_ms"] = round(float(np.mean(lat)) * 1000, 4)

        bm, res["bm25s_build_s"] = build_bm25s(latte, term_docs, tmp / "bm25s")
        del term_docs
        res["bm25s_index_mb"] = round(folder_mb(tmp / "bm25s"), 1)

        def bm25s_query(q: str) -> list[int]:
            toks = [t for t in an.tokens(q) if t in ids]
            if not toks:
                return []
            d, s = bm.retrieve([toks], k=10, backend_selection="numba", n_threads=1, show_progress=False)  # noqa: F821 (deleted after its last query)
            return [int(x) for x, y in zip(d[0], s[0]) if y > 0]

        lat, ref_top = timed(bm25s_query, qs)
        res["bm25s_numba_p50_ms"] = p50_ms(lat)
        same = sum(same_top(m, r, latte.score_all(q)) for q, m, r in zip(qs, latte_top, ref_top))
        res["same_top10"] = f"{same}/{len(qs)}"
        del bm
        gc.collect()

        tv, res["tantivy_build_s"] = build_tantivy(analyzed, tmp / "tantivy")
        del analyzed
        res["tantivy_index_mb"] = round(folder_mb(tmp / "tantivy"), 1)
        searcher = tv.searcher()
        res["tantivy_segments"] = getattr(searcher, "num_segments", None)

        def tantivy_query(q: str):
            toks = an.tokens(q)
            if not toks:
                return []
            return searcher.search(tv.parse_query(" ".join(toks), ["body"]), 10).hits  # noqa: F821 (deleted after use)

        lat, tv_hits = timed(tantivy_query, qs)
        res["tantivy_p50_ms"] = p50_ms(lat)
        overlap = []
        for hits, ref in zip(tv_hits, ref_top):
            got = [int(searcher.doc(addr)["id"][0]) for _, addr in hits]
            overlap.append(len(set(got) & set(ref)) / max(1, len(ref)))
        res["tantivy_overlap_top10"] = round(float(np.mean(overlap)), 3)
        del tv, searcher
        gc.collect()

        if rank_bm25:
            from rank_bm25 import BM25Okapi

            t = time.perf_counter()
            stream = ([sys.intern(w) for w in an.tokens(text)] for _, text in documents(size, words, vocab=vocab))
            ok = BM25Okapi(stream, k1=K1, b=B, epsilon=0)
            res["rank_bm25_build_s"] = round(time.perf_counter() - t, 1)
            few = qs[:20]
            lat, _ = timed(lambda q: np.argsort(-ok.get_scores(an.tokens(q)), kind="stable")[:10].tolist(), few)
            res["rank_bm25_p50_ms"] = p50_ms(lat)
            res["rank_bm25_queries"] = len(few)
            del ok
        res["peak_rss_gb"] = round(rss_gb(), 2)
        res["load_avg"] = round(os.getloadavg()[0], 2)
    for key in ("latte_build_s", "bm25s_build_s", "tantivy_build_s"):
        res[key] = round(res[key], 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--words", type=int, default=3300)
    ap.add_argument("--batch", type=int, default=5000, help="documents per latte segment (ingest's commit size)")
    ap.add_argument("--optimize", type=int, default=None, metavar="N",
                    help="merge latte's segments down to N (as `latte optimize --max-segments N`) before querying")
    ap.add_argument("--rank-bm25-max-docs", type=int, default=5000, help="rank-bm25 is slow: only up to this size")
    ap.add_argument("--tmp", type=Path, default=None, help="where the indexes are built (default: the system's)")
    ap.add_argument("--json", nargs="?", const="-", default=None, help="write JSON to PATH (or stdout)")
    a = ap.parse_args()
    sizes = {}
    for s in a.sizes.split(","):
        n = int(s)
        sizes[n] = run(n, a.queries, a.words, a.batch, n <= a.rank_bm25_max_docs, a.optimize, a.tmp)
        print(json.dumps(sizes[n]), file=sys.stderr, flush=True)
    if a.json is not None:
        text = json.dumps({"sizes": sizes}, indent=2)
        if a.json == "-":
            print(text)
        else:
            Path(a.json).write_text(text + "\n", encoding="utf-8")
        return
    print("| docs | latte p50 ms | bm25s-numba p50 ms | tantivy p50 ms | rank-bm25 p50 ms | latte MB | tantivy MB "
          "| bm25s MB | same top 10 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, r in sizes.items():
        print(f"| {n} | {r['latte_p50_ms']} | {r['bm25s_numba_p50_ms']} | {r['tantivy_p50_ms']} "
              f"| {r.get('rank_bm25_p50_ms', '-')} | {r['latte_index_mb']} | {r['tantivy_index_mb']} "
              f"| {r['bm25s_index_mb']} | {r['same_top10']} |")


if __name__ == "__main__":
    main()
