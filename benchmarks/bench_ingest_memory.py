"""Peak RSS of `latte ingest` (measured with `/usr/bin/time -v`) on what used to exhaust memory.

Usage: python benchmarks/bench_ingest_memory.py [--big-mb 50] [--big-profiles bm25 default]
                                                [--docs 100 2000] [--words 2000] [--profile default] [--json]

1. One generated single-line text file of ``--big-mb`` MB (random words, no newline), ingested with each of
   ``--big-profiles``: a document over ``max_doc_chars`` is split into parts, and the default profile's token
   vectors are packed as they are encoded, so the peak must not follow the file's size (goal: under 1.5 GB).
2. ``--docs`` batches of long documents (``--words`` words each) in one commit batch each (``--batch-docs`` is
   larger than any of them), with ``--profile``: the peak must not grow with the number of documents in a batch
   (goal: the largest within 20% of the smallest).

Each run is a fresh `python -m rag.cli ingest` child under ``/usr/bin/time -v`` ("Maximum resident set size").
Give ``--skip-big`` or ``--skip-docs`` to run one part; ``--keep DIR`` keeps corpora and indexes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import documents, vocabulary  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def write_single_line(path: Path, mb: int, seed: int = 3) -> Path:
    """``mb`` MB of random Zipfian words on one line (no newline at all), written in pieces."""
    vocab = vocabulary()
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, len(vocab) + 1)
    cdf = np.cumsum(1.0 / ranks**1.05)
    cdf /= cdf[-1]
    target = mb * 1024 * 1024
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            words = vocab[np.minimum(np.searchsorted(cdf, rng.random(200_000)), len(vocab) - 1)]
            piece = " ".join(words) + " "
            piece = piece[: target - written]
            f.write(piece)
            written += len(piece)
    return path


def write_docs(path: Path, n: int, words: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for docid, text in documents(n, words, seed=23):
            f.write(json.dumps({"_id": docid, "title": f"Case {docid}", "text": text}) + "\n")
    return path


def timed_ingest(src: Path, index: Path, profile: str, extra: list[str]) -> dict:
    """Run the CLI under /usr/bin/time -v; its summary and peak RSS."""
    shutil.rmtree(index, ignore_errors=True)
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "rag.cli", "ingest", str(src), "--index", str(index),
           "--profile", profile, "--json", *extra]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false"))
    wall = time.perf_counter() - t
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    if out.returncode != 0 or peak is None:
        raise SystemExit(f"ingest failed ({out.returncode}):\n{out.stderr[-3000:]}")
    summary = json.loads(out.stdout[out.stdout.index("{"):])
    return {
        "profile": profile,
        "peak_rss_mb": round(int(peak.group(1)) / 1024, 1),
        "wall_s": round(wall, 1),
        "read": summary["read"],
        "indexed": summary["indexed"],
        "passages": summary["passages"],
        "split": summary.get("split"),
        "commits": summary["commits"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--big-profiles", nargs="+", default=["bm25", "default"])
    ap.add_argument("--docs", type=int, nargs="+", default=[100, 2000])
    ap.add_argument("--words", type=int, default=2000)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-docs", action="store_true")
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="latte-bench-mem-"))
    root.mkdir(parents=True, exist_ok=True)
    res: dict = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    try:
        if not a.skip_big:
            big = root / f"big{a.big_mb}.txt"
            if not big.exists():
                write_single_line(big, a.big_mb)
            res["single_line"] = {"mb": a.big_mb, "bytes": big.stat().st_size, "runs": [
                timed_ingest(big, root / f"idx-big-{p}", p, []) for p in a.big_profiles]}
        if not a.skip_docs:
            runs = []
            for n in a.docs:
                src = root / f"docs{n}.jsonl"
                if not src.exists():
                    write_docs(src, n, a.words)
                r = timed_ingest(src, root / f"idx-docs{n}", a.profile, ["--batch-docs", str(max(a.docs) + 1)])
                runs.append({"docs": n, **r})
            smallest = runs[0]["peak_rss_mb"]
            for r in runs:
                r["peak_vs_first"] = round(r["peak_rss_mb"] / smallest, 3)
            res["batch"] = {"words_per_doc": a.words, "runs": runs}
        res["load_average_after"] = os.getloadavg()
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    for r in res.get("single_line", {}).get("runs", []):
        print(f"single line {a.big_mb} MB, {r['profile']}: peak RSS {r['peak_rss_mb']:,.0f} MB, {r['wall_s']} s, "
              f"{r['indexed']} parts, {r['passages']:,} passages")
    for r in res.get("batch", {}).get("runs", []):
        print(f"{r['docs']:>6} docs x {a.words} words, {r['profile']}: peak RSS {r['peak_rss_mb']:,.0f} MB "
              f"({r['peak_vs_first']:.2f}x the first), {r['wall_s']} s, {r['passages']:,} passages, {r['commits']} commits")
    print(f"load average before/after: {res['load_average']} / {res['load_average_after']}")


if __name__ == "__main__":
    main()
