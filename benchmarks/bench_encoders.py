"""Encoder speed on this CPU: all-MiniLM-L6-v2 in float32 vs bfloat16, side by side in one run.

Passages are ``--words``-word windows of BEIR SciFact abstracts (``../shared/data/scifact`` beside the
repository; synthetic Zipfian text when absent), ``--n`` of them. Each configuration encodes the same
passages (document side, dense + multivector as the default profile indexes them) after a warm-up;
the best of ``--repeats`` rounds is kept, rounds interleaved so that machine noise hits all alike.

Rows: sentence-transformers' own ``encode`` in float32 (the reference, dense only, ``--no-reference``
skips it), latte's ``TransformerEncoder`` in float32 and in bfloat16. Reported: passages/s, speed-up
over latte float32 by wall time and by CPU time of this process (the steadier figure on a shared
machine), and how close bf16 stays to fp32 (cosine of dense vectors; median cosine of token vectors).

    nice -n 10 python benchmarks/bench_encoders.py --n 128 --json runs/bench_encoders.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rag.encoders.device import cpu_supports_bf16
from rag.encoders.resolve import resolve_model
from rag.encoders.transformer import TransformerEncoder

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "scifact"


def scifact_passages(folder: Path, n: int, words: int) -> list[str]:
    """``n`` passages of exactly ``words`` words, cut from consecutive SciFact abstracts."""
    pool: list[str] = []
    out: list[str] = []
    with open(folder / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            pool.extend(f"{record.get('title', '')} {record.get('text', '')}".split())
            while len(pool) >= words and len(out) < n:
                out.append(" ".join(pool[:words]))
                del pool[:words]
            if len(out) == n:
                return out
    raise SystemExit(f"{folder} holds only {len(out)} passages of {words} words; ask for fewer with --n.")


def synthetic_passages(n: int, words: int) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from corpus import documents

    return [text for _, text in documents(n, words_per_doc=words)]


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=128, help="passages to encode per configuration")
    parser.add_argument("--words", type=int, default=200, help="words per passage")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per configuration (best kept)")
    parser.add_argument("--model", default="minilm", help="model name or path (default: all-MiniLM-L6-v2)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SciFact folder (synthetic text if absent)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-reference", action="store_true", help="skip the sentence-transformers reference row")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    source = "scifact" if (args.data / "corpus.jsonl").is_file() else "synthetic"
    passages = scifact_passages(args.data, args.n, args.words) if source == "scifact" else synthetic_passages(args.n, args.words)
    path = resolve_model(args.model)
    fp32 = TransformerEncoder(path, device="cpu", dtype="float32")
    bf16 = TransformerEncoder(path, device="cpu", dtype="bfloat16")
    want = ("dense", "multivector")
    runs: dict[str, Callable[[], object]] = {
        "latte float32": lambda: fp32.encode(passages, kind="document", want=want, batch_size=args.batch_size),
        "latte bfloat16": lambda: bf16.encode(passages, kind="document", want=want, batch_size=args.batch_size),
    }
    if not args.no_reference:
        from sentence_transformers import SentenceTransformer

        reference = SentenceTransformer(str(path), device="cpu")
        runs = {
            "sentence-transformers float32 (dense only)": lambda: reference.encode(
                passages, batch_size=args.batch_size, normalize_embeddings=True
            ),
            **runs,
        }
    warm = passages[: min(4, len(passages))]
    fp32.encode(warm, kind="document", want=want)
    bf16.encode(warm, kind="document", want=want)

    seconds = {name: float("inf") for name in runs}
    cpu_seconds = {name: float("inf") for name in runs}
    for _ in range(args.repeats):  # interleaved rounds
        for name, run in runs.items():
            wall, cpu = timed(run)
            seconds[name], cpu_seconds[name] = min(seconds[name], wall), min(cpu_seconds[name], cpu)

    a, b = runs["latte float32"](), runs["latte bfloat16"]()
    dense_cos = (a.dense * b.dense).sum(axis=1)
    token_cos = np.concatenate([(x * y).sum(axis=1) for x, y in zip(a.multivector, b.multivector)])
    base, cpu_base = seconds["latte float32"], cpu_seconds["latte float32"]
    rows = [
        {
            "config": name,
            "seconds": s,
            "passages_per_s": args.n / s,
            "speedup_vs_latte_fp32": base / s,
            "cpu_seconds": cpu_seconds[name],
            "cpu_speedup_vs_latte_fp32": cpu_base / cpu_seconds[name],
        }
        for name, s in seconds.items()
    ]
    result = {
        "n": args.n,
        "words": args.words,
        "batch_size": args.batch_size,
        "tokens_per_passage_mean": float(np.mean([len(m) + 2 for m in a.multivector])),
        "source": source,
        "model": str(path),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_native_bf16": cpu_supports_bf16(),
        "rows": rows,
        "bf16_vs_fp32": {
            "dense_cosine_min": float(dense_cos.min()),
            "dense_cosine_mean": float(dense_cos.mean()),
            "token_cosine_median": float(np.median(token_cos)),
            "token_cosine_p01": float(np.quantile(token_cos, 0.01)),
        },
    }

    print(f"{args.n} passages x {args.words} words ({source}; mean {result['tokens_per_passage_mean']:.0f} tokens), "
          f"batch {args.batch_size}, {result['threads']} threads, native bf16: {result['cpu_native_bf16']}")
    print(f"{'config':<44}{'wall s':>8}{'passages/s':>12}{'vs latte fp32':>15}{'CPU s':>8}{'CPU vs fp32':>13}")
    for row in rows:
        print(
            f"{row['config']:<44}{row['seconds']:>8.2f}{row['passages_per_s']:>12.1f}{row['speedup_vs_latte_fp32']:>14.2f}x"
            f"{row['cpu_seconds']:>8.2f}{row['cpu_speedup_vs_latte_fp32']:>12.2f}x"
        )
    q = result["bf16_vs_fp32"]
    print(f"bf16 vs fp32: dense cosine min {q['dense_cosine_min']:.5f}, mean {q['dense_cosine_mean']:.5f}; "
          f"token cosine median {q['token_cosine_median']:.5f}, 1st percentile {q['token_cosine_p01']:.5f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
