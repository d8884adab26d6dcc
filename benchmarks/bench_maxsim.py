"""MaxSim rerank speed, side by side in one run, on MLDR-shaped synthetic token tensors.

Each candidate document has ``--passages`` passages of ``--tokens`` tokens (d = ``--dim``); the query has
``--query-tokens`` tokens. For each candidate count in ``--docs`` the CPU section times:

- the PyTorch float32 reference (``rerank.reference.maxsim_reference``: padded einsum, max, sum),
- the CPU binary kernels (``fused_lut``, the default: compiled with numba; ``query_lut`` and ``unpack_gemm`` in
  torch) on packed sign bits, and the public ``maxsim()`` call with the default method (what the planner runs),
- the CPU exact mode on float16 values,

and reports latency p50 / p95, each backend's speed-up over the reference (reference p50 / backend p50) and the
largest score difference to the reference computed on the same stored form. The GPU section (only when CUDA is
available) times the Triton kernels (binary, float16, bfloat16) against the PyTorch reference on the GPU, and the
achieved bandwidth (bytes of token data read / kernel time) as a fraction of ``--peak-gbs``.

    nice -n 10 python benchmarks/bench_maxsim.py --docs 100 1000 --json runs/bench_maxsim.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rerank import TokenStore, lut_kernel, maxsim
from rerank.bits import pack_bits, unpack_bits
from rerank.cpu import token_max_cpu
from rerank.reference import maxsim_reference


def synthetic(n_docs: int, passages: int, tokens: int, dim: int, query_tokens: int, seed: int) -> dict[str, Any]:
    """L2-normalised random tokens, stored three ways; candidates are all documents, in shuffled order."""
    rng = np.random.default_rng(seed)
    n_passages = n_docs * passages
    total = n_passages * tokens
    values32 = np.empty((total, dim), dtype=np.float32)
    step = 1 << 18
    for lo in range(0, total, step):  # in slices, to keep the float64 temporaries small
        block = rng.standard_normal((min(step, total - lo), dim), dtype=np.float32)
        values32[lo:lo + step] = block / np.linalg.norm(block, axis=1, keepdims=True)
    offsets = np.arange(n_passages + 1, dtype=np.int64) * tokens
    query = rng.standard_normal((query_tokens, dim), dtype=np.float32)
    query /= np.linalg.norm(query, axis=1, keepdims=True)
    docs = rng.permutation(n_docs)
    passage_ids = (docs[:, None] * passages + np.arange(passages)[None, :]).reshape(-1)
    return {
        "query": query,
        "values32": values32,
        "offsets": offsets,
        "passage_ids": passage_ids,
        "binary": TokenStore(codes=pack_bits(values32), values=None, token_offsets=offsets, dim=dim),
        "fp16": TokenStore(codes=None, values=values32.astype(np.float16), token_offsets=offsets, dim=dim),
    }


def time_calls(
    fn: Callable[[], Any], repeats: int, warmup: int, sync: Callable[[], None] = lambda: None
) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    sync()
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        sync()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    ms = np.array(times) * 1e3
    # CPU time of the whole process per call: the work done, which other processes on a shared machine do not
    # inflate the way they inflate wall time (divide by the threads used for an idle-machine estimate).
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "cpu_ms_p50": float(np.percentile(np.array(cpu_times) * 1e3, 50)), "repeats": repeats}


def cpu_section(data: dict[str, Any], args: argparse.Namespace, repeats: int) -> list[dict[str, Any]]:
    q, ids, offsets = data["query"], data["passage_ids"], data["offsets"]
    threads = args.threads
    binary, fp16 = data["binary"], data["fp16"]
    q_t = torch.from_numpy(q)
    bits_scores = None
    if args.check:
        bits = torch.from_numpy(unpack_bits(binary.codes, binary.dim))
        bits_scores = maxsim_reference(q_t, bits, offsets, ids).numpy()
    fp16_ref = maxsim_reference(q_t, torch.from_numpy(fp16.values.astype(np.float32)), offsets, ids).numpy()

    def scores_of(store: TokenStore, method: str) -> np.ndarray:
        best = token_max_cpu(q, store, ids, method=method, threads=threads, chunk_tokens=args.chunk_tokens)
        return best.sum(axis=1)

    runs = [
        ("reference fp32 (torch)", lambda: maxsim_reference(q_t, torch.from_numpy(data["values32"]), offsets, ids),
         None, data["values32"].nbytes),
        ("cpu binary fused_lut", lambda: scores_of(binary, "fused_lut"), bits_scores, binary.token_nbytes()),
        ("cpu binary query_lut", lambda: scores_of(binary, "query_lut"), bits_scores, binary.token_nbytes()),
        ("cpu binary unpack_gemm", lambda: scores_of(binary, "unpack_gemm"), bits_scores, binary.token_nbytes()),
        ("cpu fp16 values", lambda: scores_of(fp16, "gemm"), fp16_ref, fp16.token_nbytes()),
        ("maxsim() binary, backend=cpu", lambda: maxsim(q, binary, ids, backend="cpu"), bits_scores,
         binary.token_nbytes()),
    ]
    rows = []
    for name, fn, expected, nbytes in runs:
        row = {"section": "cpu", "backend": name, "token_bytes": int(nbytes), **time_calls(fn, repeats, args.warmup)}
        if expected is not None:
            row["max_abs_diff"] = float(np.abs(np.asarray(fn()) - expected).max())
        rows.append(row)
    reference = rows[0]["p50_ms"]
    for row in rows:
        row["speedup_vs_reference"] = reference / row["p50_ms"]
    return rows


def gpu_section(data: dict[str, Any], args: argparse.Namespace, repeats: int) -> list[dict[str, Any]]:
    from rerank.triton_kernel import token_max_triton

    device = "cuda"
    sync = torch.cuda.synchronize
    q = torch.from_numpy(data["query"]).to(device)
    ids = torch.from_numpy(data["passage_ids"]).to(device)
    offsets = torch.from_numpy(data["offsets"]).to(device)
    values32 = torch.from_numpy(data["values32"]).to(device)
    stores = {
        "triton binary": data["binary"].to(device),
        "triton fp16": data["fp16"].to(device),
        "triton bf16": data["fp16"].to(device, values_dtype="bfloat16"),
    }
    candidate_tokens = int((data["offsets"][data["passage_ids"] + 1] - data["offsets"][data["passage_ids"]]).sum())
    rows = [{"section": "gpu", "backend": "reference fp32 (torch, cuda)",
             "token_bytes": candidate_tokens * values32.shape[1] * 4,
             **time_calls(lambda: maxsim_reference(q, values32, data["offsets"], data["passage_ids"]), repeats,
                          args.warmup, sync)}]
    for name, store in stores.items():
        width_bytes = store.data.shape[1] * store.data.element_size()
        expected = maxsim_reference(q, store.data.float() if not store.binary else
                                    torch.from_numpy(unpack_bits(data["binary"].codes, store.dim)).to(device),
                                    data["offsets"], data["passage_ids"])
        kernel = lambda s=store: token_max_triton(q, s.data, offsets, ids, dim=s.dim)  # noqa: E731
        row = {"section": "gpu", "backend": name + " (kernel)", "token_bytes": candidate_tokens * width_bytes,
               **time_calls(kernel, repeats, args.warmup, sync)}
        got = kernel()
        row["max_abs_diff"] = float((got.sum(1) - expected).abs().max())
        row["achieved_gbs"] = row["token_bytes"] / (row["p50_ms"] * 1e-3) / 1e9
        row["fraction_of_peak"] = row["achieved_gbs"] / args.peak_gbs
        rows.append(row)
        rows.append({"section": "gpu", "backend": name + " (maxsim())", "token_bytes": row["token_bytes"],
                     **time_calls(lambda s=store: maxsim(q, s, data["passage_ids"], backend="cuda"), repeats,
                                  args.warmup, sync)})
    reference = rows[0]["p50_ms"]
    for row in rows:
        row["speedup_vs_reference"] = reference / row["p50_ms"]
    return rows


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    header = ["p50 ms", "p95 ms", "cpu ms", "x ref", "MB read", "max|diff|", "GB/s", "of peak"]
    print(f"{'backend':34} " + " ".join(f"{h:>{w}}" for h, w in zip(header, [9, 9, 9, 7, 9, 10, 8, 8])))
    for row in rows:
        diff = f"{row['max_abs_diff']:.1e}" if "max_abs_diff" in row else "-"
        gbs = f"{row['achieved_gbs']:.0f}" if "achieved_gbs" in row else "-"
        peak = f"{row['fraction_of_peak']:.1%}" if "fraction_of_peak" in row else "-"
        print(f"{row['backend']:34} {row['p50_ms']:9.2f} {row['p95_ms']:9.2f} {row['cpu_ms_p50']:9.2f} "
              f"{row['speedup_vs_reference']:7.2f} "
              f"{row['token_bytes'] / 1e6:9.1f} {diff:>10} {gbs:>8} {peak:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[100, 1000], help="candidate document counts")
    parser.add_argument("--passages", type=int, default=8, help="passages per document")
    parser.add_argument("--tokens", type=int, default=512, help="tokens per passage")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--query-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls at the smallest size (fewer above)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="CPU worker threads (default: torch's count)")
    parser.add_argument("--chunk-tokens", type=int, default=4096, help="padded token rows per CPU chunk")
    parser.add_argument("--no-check", dest="check", action="store_false", help="skip the bits-reference check")
    parser.add_argument("--skip-gpu", action="store_true")
    parser.add_argument("--peak-gbs", type=float, default=4800.0, help="peak HBM bandwidth in GB/s (H200: 4800)")
    parser.add_argument("--target-ms", type=float, default=20.0, help="latency target of the top-100 binary rerank")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                        help="also write the results as JSON to PATH (or stdout when no PATH is given)")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "config": {k: v for k, v in vars(args).items() if k != "json"},
        "machine": {"cpu": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
                    "fused_lut": lut_kernel.describe(),
                    "torch": torch.__version__, "cuda": torch.cuda.is_available(),
                    "load_average_at_start": os.getloadavg()},
        "runs": [],
    }
    for n_docs in args.docs:
        data = synthetic(n_docs, args.passages, args.tokens, args.dim, args.query_tokens, args.seed)
        repeats = max(3, args.repeats * min(args.docs) // n_docs)
        shape = (f"{n_docs} docs x {args.passages} passages x {args.tokens} tokens, d={args.dim}, "
                 f"{args.query_tokens} query tokens")
        rows = cpu_section(data, args, repeats)
        print_table(f"CPU, {shape} ({repeats} timed calls)", rows)
        results["runs"].append({"docs": n_docs, "rows": rows})
        if torch.cuda.is_available() and not args.skip_gpu:
            gpu_rows = gpu_section(data, args, repeats * 5)
            print_table(f"GPU {torch.cuda.get_device_name()}, {shape}", gpu_rows)
            results["runs"][-1]["rows"] += gpu_rows
        del data
    for run in results["runs"]:
        if run["docs"] == 100:
            lut = next(r for r in run["rows"] if r["backend"] == "maxsim() binary, backend=cpu")
            verdict = "met" if lut["p50_ms"] <= args.target_ms else "missed"
            print(f"\ntarget: top-100 binary rerank p50 {lut['p50_ms']:.1f} ms vs {args.target_ms:.0f} ms: {verdict} "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if not torch.cuda.is_available():
        print("GPU section skipped: torch.cuda.is_available() is False")
    if args.json is not None:
        text = json.dumps(results, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as handle:
                handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
