"""Cleaning + quality + dedupe throughput on MLDR-length documents, side by side with a plain baseline.

One generated corpus (``--docs`` documents of about ``--words`` words: Zipf vocabulary, sentences and
paragraphs, accented words, curly quotes and dashes in most documents, mojibake in a few) with planted exact
duplicates (case and spacing changed), near duplicates (a few words changed) and far copies (a third of
the words changed, which must stay), all placed after their source. Paths, in the same run:

- ours: ``rag.prepare.prepare_stream`` (the one preparation path ``latte ingest`` runs: clean text and title,
  quality rules, exact key + MinHash of title and text, passages), then ``Deduper.match``/``add`` in input order
  as the ingestor decides. In one process: one document at a time, passages split after the decision for kept
  documents only (as ``latte ingest``). With ``--workers`` >= 2: chunks of ``rag.prepare.PARALLEL_CHUNK`` in a
  process pool with as many chunks in flight as ``latte ingest --workers``, passages split in the workers (for
  every document the rules keep, duplicates too) and results slimmed for the trip back, as in ingest. BM25 token
  counting, which ingest's workers add for a bm25 index, is not timed. The baseline splits no passages, so the
  ratios against it understate;
- baseline: ``ftfy.fix_text`` + NFKC + datasketch ``MinHash`` (128 permutations, word 5-grams) +
  ``MinHashLSH(threshold=0.8)``, a candidate counting as duplicate when its estimated Jaccard >= 0.8.

Reports docs/s of each and the ratios, CPU seconds (docs per CPU-second: what a path costs when other
programs share the cores; the 1-minute load average is printed too), the duplicate decisions on the planted
pairs and the overall agreement, and how fast a Deduper is rebuilt from stored signatures. ``--real-data``
adds what the quality rules drop on SciFact and the SEC PDFs (defaults and Gopher's values) and normalize
speed there.

    nice -n 10 python benchmarks/bench_clean_dedupe.py --docs 5000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from rag.clean import QualityRules, check_quality, normalize_text
from rag.dedupe import Deduper, MinHasher
from rag.ingest import PARALLEL_IN_FLIGHT_DOCS, IngestSettings
from rag.prepare import PARALLEL_CHUNK, document_passages, prepare_documents, prepare_stream
from rag.records import Document

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vi", "po", "da", "re", "li", "mo", "nu", "ta", "be", "ci", "fo", "gu", "ha", "ja", "ke", "la", "me", "ni", "pa", "qu", "ro", "si", "tu"]
ACCENTED = ["café", "naïve", "Zürich", "señor", "Søren", "résumé", "Müller", "été"]
FANCY = ["\u2014", "\u201cquoted\u201d", "it\u2019s", "\u2013", "\u00b0C", "\u00b5m"]
MOJIBAKE = ["caf\u00c3\u00a9", "don\u00e2\u20ac\u2122t", "\u00e2\u20ac\u201cdash"]


# ----------------------------------------------------------------------------------------------------------------
# corpus
# ----------------------------------------------------------------------------------------------------------------


def make_vocabulary(rng: random.Random, size: int = 60_000) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice([1, 2, 2, 3, 3, 4]))))
    vocab = sorted(words)
    rng.shuffle(vocab)
    for i in range(3000, size, 40):  # 2.5% of the rarer words are accented (names, loan words)
        vocab[i] = rng.choice(ACCENTED) + vocab[i][:3]
    return vocab


def make_document(
    rng: random.Random, nprng: np.random.Generator, vocab: list[str], cdf: np.ndarray, n_words: int
) -> str:
    ids = np.searchsorted(cdf, nprng.random(n_words)).tolist()
    words = [vocab[i] for i in ids]
    fancy = rng.random() < 0.6
    position, parts = 0, []
    while position < n_words:
        length = rng.randint(8, 30)
        sentence = words[position : position + length]
        sentence[0] = sentence[0].capitalize()
        if fancy and rng.random() < 0.15:
            sentence.insert(rng.randrange(len(sentence)), rng.choice(FANCY))
        parts.append(" ".join(sentence) + rng.choice([".", ".", ".", "?", "!", ";"]))
        if rng.random() < 0.12:
            parts.append("\n\n")
        position += length
    if rng.random() < 0.01:
        parts.insert(rng.randrange(len(parts)), rng.choice(MOJIBAKE))
    return " ".join(parts).replace(" \n\n ", "\n\n")


def edit_words(rng: random.Random, text: str, share: float) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, int(len(words) * share))):
        words[i] = f"edit{rng.randrange(10**9)}"
    return " ".join(words)


def make_corpus(n_docs: int, n_words: int, seed: int) -> tuple[list[str], dict[int, tuple[str, int]]]:
    """Documents plus ``planted[i] = (kind, source_index)`` for kind in exact / near / far."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    vocab = make_vocabulary(rng)
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.07
    cdf = np.cumsum(weights) / weights.sum()
    docs: list[str] = []
    planted: dict[int, tuple[str, int]] = {}
    for i in range(n_docs):
        roll = rng.random()
        if i > 10 and roll < 0.06:
            source = rng.randrange(i)
            while source in planted:
                source = rng.randrange(i)
            base = docs[source]
            if roll < 0.02:
                kind, text = "exact", base.upper() if rng.random() < 0.5 else base.replace(". ", ".   \n", 3)
            elif roll < 0.05:
                kind, text = "near", edit_words(rng, base, rng.uniform(0.001, 0.006))
            else:
                kind, text = "far", edit_words(rng, base, 0.33)
            planted[i] = (kind, source)
            docs.append(text)
        else:
            docs.append(make_document(rng, nprng, vocab, cdf, int(rng.gauss(n_words, n_words * 0.1))))
    return docs, planted


# ----------------------------------------------------------------------------------------------------------------
# paths
# ----------------------------------------------------------------------------------------------------------------


def run_ours(docs: list[str], rules: QualityRules, workers: int) -> tuple[float, float, list[bool]]:
    """(wall seconds, CPU seconds of this process and the workers, duplicate decisions) of ingest's preparation
    path, ``prepare_stream``, with the dedupe decisions taken in order in this process."""
    settings = IngestSettings(quality=rules)
    dd = Deduper(settings.dedupe_threshold, settings.num_perm, settings.shingle_size)
    records = [Document(str(i), text) for i, text in enumerate(docs)]
    decisions: list[bool] = []
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pool = ProcessPoolExecutor(max_workers=workers) if workers >= 2 else None
    # as Ingestor.feed: one document at a time in this process; chunks, with this many in flight, in workers
    chunk_size = PARALLEL_CHUNK if pool is not None else 1
    in_flight = max(2 * workers + 1, PARALLEL_IN_FLIGHT_DOCS // PARALLEL_CHUNK) if pool is not None else 1
    try:
        if pool is not None:  # start the workers and load their tables and compiled kernels before the clock
            list(pool.map(prepare_documents, [records[:2]] * workers, [settings] * workers, [dd.hasher] * workers))
        prepare_documents(records[:2], settings, dd.hasher, transfer=False)
        cpu_start = time.process_time()
        t_start = time.perf_counter()
        prepared = prepare_stream(records, settings, dd.hasher, executor=pool, chunk_size=chunk_size,
                                  in_flight=in_flight)
        for p in prepared:
            if p.verdict is not None:
                raise RuntimeError(f"generated document {p.doc.id} dropped by {p.verdict}")
            res = dd.match(p.exact_key, p.signature)
            if res.kind is None:
                dd.add(p.doc.id, p.exact_key, p.signature)
                if p.passages is None:  # split here, for kept documents only, as Ingestor._apply does
                    document_passages(p.doc, settings)
            decisions.append(res.kind is not None)
        elapsed = time.perf_counter() - t_start
        cpu = time.process_time() - cpu_start
    finally:
        if pool is not None:
            pool.shutdown()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers are reaped once the pool shuts down
    cpu += (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    return elapsed, cpu, decisions


def run_baseline(docs: list[str]) -> tuple[float, float, list[bool]]:
    import ftfy
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    kept: dict[str, MinHash] = {}
    decisions: list[bool] = []
    cpu_start = time.process_time()
    t_start = time.perf_counter()
    for i, raw in enumerate(docs):
        text = unicodedata.normalize("NFKC", ftfy.fix_text(raw))
        words = text.lower().split()
        shingles = {" ".join(words[j : j + 5]) for j in range(max(1, len(words) - 4))}
        m = MinHash(num_perm=128)
        m.update_batch([s.encode("utf-8") for s in shingles])
        dup = any(m.jaccard(kept[c]) >= 0.8 for c in lsh.query(m))
        if not dup:
            lsh.insert(str(i), m)
            kept[str(i)] = m
        decisions.append(dup)
    return time.perf_counter() - t_start, time.process_time() - cpu_start, decisions


def time_rebuild(n: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 2**32, size=(n, 128), dtype=np.uint32)
    ids = [f"d{i}" for i in range(n)]
    keys = [rng.bytes(16) for _ in range(n)]
    t0 = time.perf_counter()
    bulk = Deduper()
    bulk.add_many(ids, keys, sigs)
    t_bulk = time.perf_counter() - t0
    m = min(n, 20_000)
    t0 = time.perf_counter()
    one = Deduper()
    for doc_id, key, sig in zip(ids[:m], keys[:m], sigs[:m]):
        one.add(doc_id, key, sig)
    t_one = (time.perf_counter() - t0) * n / m
    return {"docs": n, "add_many_s": t_bulk, "add_one_by_one_s_extrapolated": t_one}


def planted_report(
    planted: dict[int, tuple[str, int]], ours: list[bool], base: list[bool]
) -> dict[str, dict[str, int]]:
    report: dict[str, dict[str, int]] = {}
    for kind in ("exact", "near", "far"):
        idx = [i for i, (k, _) in planted.items() if k == kind]
        report[kind] = {
            "planted": len(idx),
            "ours_flagged": sum(ours[i] for i in idx),
            "baseline_flagged": sum(base[i] for i in idx),
            "agree": sum(ours[i] == base[i] for i in idx),
        }
    return report


# ----------------------------------------------------------------------------------------------------------------
# real data: what the quality rules drop
# ----------------------------------------------------------------------------------------------------------------

GOPHER = QualityRules(
    min_words=50,
    min_alpha_word_share=0.8,
    max_symbol_ratio=0.1,
    max_repeated_line_share=0.3,
    min_mean_word_len=3,
    max_mean_word_len=10,
)


def real_data_report() -> dict[str, object]:
    out: dict[str, object] = {}
    corpus = DATA / "scifact" / "corpus.jsonl"
    if corpus.exists():
        import ftfy

        with corpus.open(encoding="utf-8") as f:
            texts = [r["title"] + "\n" + r["text"] for r in map(json.loads, f)]
        t0 = time.perf_counter()
        clean = [normalize_text(t) for t in texts]
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        for t in texts:
            unicodedata.normalize("NFKC", ftfy.fix_text(t))
        t_ftfy = time.perf_counter() - t0
        out["scifact"] = {
            "docs": len(texts),
            "dropped_default": _drops(clean, QualityRules()),
            "dropped_gopher": _drops(clean, GOPHER),
            "normalize_docs_per_s": len(texts) / t_ours,
            "ftfy_nfkc_docs_per_s": len(texts) / t_ftfy,
        }
    pdf_dir = DATA / "pdfs"
    if pdf_dir.exists():
        import pypdfium2

        whole, pages = [], []
        for path in sorted(pdf_dir.glob("*.pdf")):
            pdf = pypdfium2.PdfDocument(str(path))
            texts = [normalize_text(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))]
            pdf.close()
            whole.append("\n\n".join(texts))
            pages.extend(t for t in texts if t)
        for name, texts in (("pdf_documents", whole), ("pdf_pages", pages)):
            out[name] = {
                "docs": len(texts),
                "dropped_default": _drops(texts, QualityRules()),
                "dropped_gopher": _drops(texts, GOPHER),
            }
    return out


def _drops(texts: list[str], rules: QualityRules) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in texts:
        verdict = check_quality(t, rules)
        if verdict is not None:
            counts[verdict[0]] = counts.get(verdict[0], 0) + 1
    return counts


# ----------------------------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=20_000, help="generated documents (default 20,000)")
    parser.add_argument("--words", type=int, default=3_300, help="mean words per document (MLDR: about 3,300)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel path (< 2: skip it)")
    parser.add_argument(
        "--rebuild", type=int, default=100_000, help="signatures for the add_many rebuild timing (0: skip)"
    )
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the ftfy + datasketch baseline")
    parser.add_argument("--real-data", action="store_true", help="also report quality-rule drops on shared/data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if args.docs < 20:
        parser.error("--docs must be at least 20 (duplicates are planted after the first 10 documents)")

    t0 = time.perf_counter()
    docs, planted = make_corpus(args.docs, args.words, args.seed)
    gen_s = time.perf_counter() - t0
    n_words = sum(len(d.split()) for d in docs[:200]) / min(200, len(docs))
    non_ascii = sum(not d.isascii() for d in docs) / len(docs)
    rules = QualityRules()
    # Build the lazily made lookup tables (about 0.5 s, once per process) before any clock starts.
    MinHasher().signature("warm up rensa")
    check_quality(normalize_text("warm up caf\u00c3\u00a9 \u2026 na\u00efve"), rules)

    result: dict[str, object] = {
        "cpus": os.cpu_count(),
        "load_average_1min_before": round(os.getloadavg()[0], 2),
        "docs": len(docs),
        "mean_words": round(n_words),
        "non_ascii_share": round(non_ascii, 3),
        "planted": {k: sum(1 for v in planted.values() if v[0] == k) for k in ("exact", "near", "far")},
        "generate_s": round(gen_s, 1),
    }
    n = len(docs)
    t_ours, cpu_ours, ours = run_ours(docs, rules, 1)
    result["ours"] = {"seconds": t_ours, "docs_per_s": n / t_ours, "cpu_seconds": cpu_ours,
                      "docs_per_cpu_s": n / cpu_ours}
    if args.workers >= 2:
        t_par, cpu_par, ours_par = run_ours(docs, rules, args.workers)
        result["ours_workers"] = {
            "workers": args.workers,
            "seconds": t_par,
            "docs_per_s": n / t_par,
            "cpu_seconds": cpu_par,
            "docs_per_cpu_s": n / cpu_par,
            "same_decisions_as_single_process": ours_par == ours,
        }
    if not args.skip_baseline:
        t_base, cpu_base, base = run_baseline(docs)
        result["baseline"] = {
            "seconds": t_base,
            "docs_per_s": n / t_base,
            "cpu_seconds": cpu_base,
            "docs_per_cpu_s": n / cpu_base,
        }
        result["speedup_vs_baseline"] = t_base / t_ours
        if args.workers >= 2:
            result["speedup_workers_vs_baseline"] = t_base / result["ours_workers"]["seconds"]  # type: ignore[index]
        result["planted_decisions"] = planted_report(planted, ours, base)
        result["all_decisions_agree"] = sum(a == b for a, b in zip(ours, base))
    result["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    if args.rebuild:
        result["rebuild"] = time_rebuild(args.rebuild, args.seed)
    if args.real_data:
        result["real_data"] = real_data_report()

    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        print_table(result)
    return 0


def print_table(r: dict) -> None:  # type: ignore[type-arg]
    print(
        f"corpus: {r['docs']:,} docs, ~{r['mean_words']:,} words each, {r['non_ascii_share']:.0%} non-ASCII, "
        f"planted {r['planted']} (generated in {r['generate_s']} s)"
    )
    print(
        f"{r['cpus']} CPUs, 1-minute load average {r['load_average_1min_before']} before, "
        f"{r['load_average_1min_after']} after the timed paths"
    )
    print(f"{'path':<34}{'seconds':>9}{'docs/s':>9}{'vs baseline':>13}{'CPU s':>8}{'docs/CPU-s':>12}")
    base = r.get("baseline")
    rows = [("ours (1 process)", r["ours"])]
    if "ours_workers" in r:
        rows.append((f"ours ({r['ours_workers']['workers']} worker processes)", r["ours_workers"]))
    if base:
        rows.append(("baseline ftfy+NFKC+datasketch", base))
    for name, row in rows:
        ratio = f"{base['seconds'] / row['seconds']:.1f}x" if base else "-"
        print(
            f"{name:<34}{row['seconds']:>9.1f}{row['docs_per_s']:>9,.0f}{ratio:>13}"
            f"{row['cpu_seconds']:>8.1f}{row['docs_per_cpu_s']:>12,.0f}"
        )
    if "ours_workers" in r:
        same = r["ours_workers"]["same_decisions_as_single_process"]
        print(f"workers path makes the same decisions as one process: {same}")
    if "planted_decisions" in r:
        print(f"{'planted':<10}{'count':>7}{'ours flagged':>14}{'baseline flagged':>18}{'agree':>7}")
        for kind, row in r["planted_decisions"].items():
            print(
                f"{kind:<10}{row['planted']:>7}{row['ours_flagged']:>14}{row['baseline_flagged']:>18}{row['agree']:>7}"
            )
        print(f"all {r['docs']:,} duplicate decisions agree: {r['all_decisions_agree']:,}")
    if "rebuild" in r:
        rb = r["rebuild"]
        print(
            f"rebuild {rb['docs']:,} signatures: add_many {rb['add_many_s']:.2f} s, "
            f"add one by one ~{rb['add_one_by_one_s_extrapolated']:.2f} s"
        )
    for name, row in r.get("real_data", {}).items():
        print(f"real data {name}: {row}")


if __name__ == "__main__":
    sys.exit(main())
