"""Peak memory and throughput of `latte ingest` (BM25 profile, no encoders) on MLDR-length documents.

Usage: python benchmarks/bench_ingest.py [--docs 200000] [--words 3300] [--workers 1 2] [--keep DIR] [--json]
       python benchmarks/bench_ingest.py --docs 5000 --ray 1 2 [--profile bm25|default]

``--ray N ...`` runs `latte ingest --ray ADDRESS` once per value against a local Ray cluster of N worker nodes of
one CPU each (started here with ``ray.cluster_utils.Cluster``; its head holds no CPU, so every read, clean and
encode task runs on the workers; the driver decides and commits), and reports docs/s per cluster size.

It writes an MLDR-layout corpus (``corpus.jsonl`` with ``docid``/``text``) of synthetic documents to a temporary
folder, runs ``latte ingest`` in a child process and reads the child's peak RSS from the kernel
(``RUSAGE_CHILDREN``: the largest single process, so with ``--workers`` the main process or one worker; the
workers hold one chunk of documents each). The corpus file itself is several GB at 200k documents: the point is that the ingest never
holds it in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import write_corpus


def _has_lang_option() -> bool:
    """Whether the latte being measured has `ingest --lang` (so this script also measures older checkouts)."""
    try:
        from rag.ingest import IngestSettings
    except ImportError:
        return False
    return "lang" in IngestSettings.model_fields


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--words", type=int, default=3300)
    ap.add_argument("--batch-docs", type=int, default=2000)
    ap.add_argument("--keep", type=Path, default=None, help="keep the corpus and index in this folder")
    ap.add_argument("--workers", type=int, nargs="+", default=[1],
                    help="run the ingest once per value of `latte ingest --workers` (same corpus, same run)")
    ap.add_argument("--lang", default="en",
                    help="`latte ingest --lang` (default en: the synthetic words are random letters, which language "
                         "detection calls English, Dutch or Hungarian, each with its own stemmer; en analyzes them as "
                         "English, as every figure before analyzers per language did; 'auto' leaves them to detection)")
    ap.add_argument("--ray", type=int, nargs="+", default=None, metavar="NODES",
                    help="instead of --workers: `latte ingest --ray` on local clusters of this many 1-CPU worker nodes")
    ap.add_argument("--profile", default="bm25", help="latte ingest --profile (default bm25: no encoders)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="latte-bench-ingest-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        corpus = root / "mldr-v1.0-en" / "corpus.jsonl"
        t = time.perf_counter()
        if not corpus.exists():
            write_corpus(corpus, a.docs, a.words)
        gen_s = time.perf_counter() - t
        runs = []
        for workers in a.ray or a.workers:
            index = root / f"index-w{workers}"
            shutil.rmtree(index, ignore_errors=True)
            cmd = [
                sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--index", str(index), "--profile", a.profile,
                "--format", "mldr", "--batch-docs", str(a.batch_docs), "--json",
            ] + (["--lang", a.lang] if a.lang and a.lang != "auto" and _has_lang_option() else [])
            cluster = _ray_cluster(workers) if a.ray else None
            if cluster is not None:  # one encoder actor per worker node (they have no GPUs)
                cmd += ["--ray", cluster.address] + (["--ray-actors", str(workers)] if a.profile != "bm25" else [])
            else:
                cmd += ["--workers", str(workers)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            t = time.perf_counter()
            try:
                out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
            finally:
                if cluster is not None:
                    cluster.shutdown()
            wall = time.perf_counter() - t
            summary = json.loads(out.stdout)
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest single process so far
            runs.append({
                "ray_worker_nodes" if a.ray else "workers": workers,
                "ingest_wall_s": round(wall, 1),
                "docs_per_s": round(a.docs / wall, 1),
                "indexed": summary["indexed"],
                "passages": summary["passages"],
                "peak_rss_gb": round(peak_kb / 1024 / 1024, 2) if peak_kb > before or not runs else None,
                "index_bytes": sum(f.stat().st_size for f in index.rglob("*") if f.is_file()),
            })
            if not a.keep:
                shutil.rmtree(index, ignore_errors=True)
        for r in runs:
            r["speedup_vs_first"] = round(runs[0]["ingest_wall_s"] / r["ingest_wall_s"], 2)
        res = {
            "docs": a.docs,
            "words_per_doc": a.words,
            "corpus_bytes": corpus.stat().st_size,
            "generate_s": round(gen_s, 1),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "runs": runs,
        }
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        for r in res["runs"]:
            rss = "n/a (below an earlier run's)" if r["peak_rss_gb"] is None else f"{r['peak_rss_gb']} GB"
            how = f"--ray, {r['ray_worker_nodes']} worker node(s)" if "ray_worker_nodes" in r else f"--workers {r['workers']}"
            print(
                f"{res['docs']:,} docs ({res['corpus_bytes'] / 1e9:.1f} GB), {how}, profile {a.profile}: ingest "
                f"{r['ingest_wall_s']} s ({r['docs_per_s']} docs/s, {r['speedup_vs_first']}x the first run), "
                f"peak RSS of one process {rss}, index {r['index_bytes'] / 1e9:.2f} GB"
            )


def _ray_cluster(nodes: int):
    """A local Ray cluster: a head without CPUs (the driver's node) and ``nodes`` worker nodes of one CPU each."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(nodes):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster


if __name__ == "__main__":
    main()
