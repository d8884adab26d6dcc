"""Sustained search load on the REST API, against the planner called in-process, in one run.

Usage:
  nice -n 10 python benchmarks/bench_api_load.py                                  # SciFact, bm25 + minilm-tokens
  python benchmarks/bench_api_load.py --profiles bm25 --duration 10 --clients 4 --json results.json

For each profile an index of the SciFact corpus is built once (cached under --work), then:

1. reference: ``planner.search`` in this process, one query after another, for --duration seconds;
2. the API: ``latte serve`` (``python -m api.serve``, ``LATTE_TORCH_THREADS`` as --torch-threads) in its own
   process on loopback, and a SECOND process
   generating load: first 1 client, then --clients concurrent clients (keep-alive connections), each for
   --duration seconds, after a short warm-up.

Each configuration runs without rerank and, where the index has tensors (minilm-tokens, m3), with a MaxSim
rerank of the top 100. Reported: searches per second, p50/p90/p99 latency, errors, and the ratios API/reference
(throughput with N clients, p50 with one client). Queries cycle through SciFact's queries.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "scifact"
WARMUP_S = 1.0


def stats(latencies: list[float], seconds: float, errors: int = 0) -> dict[str, Any]:
    """Throughput and latency percentiles (ms) of one measured window."""
    a = np.asarray(latencies) * 1000.0 if latencies else np.zeros(1)
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(seconds, 2),
        "per_second": round(len(latencies) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p90_ms": round(float(np.percentile(a, 90)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
    }


# -- the load generator (runs in its own process) -------------------------------------------------------------------
def load_worker(url: str, bodies: list[dict[str, Any]], clients: int, duration: float) -> dict[str, Any]:
    import httpx

    start = time.perf_counter() + WARMUP_S
    stop = start + duration
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def run(i: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as c:
            n = i * 97
            while True:
                body = bodies[n % len(bodies)]
                n += 1
                t0 = time.perf_counter()
                if t0 >= stop:
                    return
                try:
                    ok = c.post("/v1/search", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                t1 = time.perf_counter()
                if t0 >= start:
                    if ok:
                        lat[i].append(t1 - t0)
                    else:
                        errors[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats([x for xs in lat for x in xs], duration, sum(errors)) | {"clients": clients}


def run_load_process(url: str, bodies_file: Path, clients: int, duration: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--load-worker", url, "--bodies", str(bodies_file), "--clients", str(clients),
           "--duration", str(duration)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 300)
    if out.returncode != 0:
        raise RuntimeError(f"the load process failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the server and the reference ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: Path, port: int, torch_threads: int) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "LATTE_DEVICE": "cpu", "LATTE_LOG_LEVEL": "warning", "LATTE_TORCH_THREADS": str(torch_threads)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not become ready in 300 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def reference(planner: Any, bodies: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    """``planner.search`` in-process, one after another (what the API adds HTTP, JSON and threads to)."""
    from rag.planner import SearchOptions

    opts = [
        (b["query"], SearchOptions(k=b["k"], mode=b.get("mode", "auto"), rerank=b.get("rerank"),
                                   rerank_depth=b.get("rerank_depth", 100)))
        for b in bodies
    ]
    start = time.perf_counter() + WARMUP_S
    stop = start + duration
    lat: list[float] = []
    n = 0
    while True:
        q, opt = opts[n % len(opts)]
        n += 1
        t0 = time.perf_counter()
        if t0 >= stop:
            break
        res = planner.search(q, opt)
        res.to_dict()  # the API serialises the same record
        if t0 >= start:
            lat.append(time.perf_counter() - t0)
    return stats(lat, duration) | {"clients": 1}


def build_index(data: Path, work: Path, profile: str, max_docs: int) -> Path:
    from rag.service import ingest_paths

    name = f"scifact-{profile}-{max_docs or 'all'}"
    index = work / name
    done = work / f"{name}.complete"  # written after the whole corpus is in: a partial (interrupted) build is redone
    if done.is_file() and (index / "manifest.json").is_file():
        return index
    if index.exists():
        import shutil

        shutil.rmtree(index)
    corpus = data / "corpus.jsonl"
    if max_docs:
        sub = work / f"corpus-{max_docs}.jsonl"
        with open(corpus, encoding="utf-8") as src, open(sub, "w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i >= max_docs:
                    break
                dst.write(line)
        corpus = sub
    t0 = time.perf_counter()
    s = ingest_paths([corpus], index, profile=profile, device="cpu")
    done.write_text(json.dumps(s.to_dict(), default=str))
    print(f"built {name}: {s.indexed} documents, {s.passages} passages in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return index


def bench_profile(args: argparse.Namespace, profile: str, queries: list[str]) -> list[dict[str, Any]]:
    from rag.service import open_searcher

    index = build_index(args.data, args.work, profile, args.max_docs)
    planner = open_searcher(index, device="cpu")
    configs = [("no rerank", {"rerank": False})]
    if planner.snapshot.get("tensors") is not None:
        configs.append(("rerank 100", {"rerank": True, "rerank_depth": 100}))
    docs = planner.snapshot.manifest.documents
    rows = []
    port = free_port()
    server = start_server(index, port, args.torch_threads)
    try:
        url = f"http://127.0.0.1:{port}"
        for name, extra in configs:
            bodies = [{"query": q, "k": args.k, **extra} for q in queries]
            bodies_file = args.work / "bodies.json"
            bodies_file.write_text(json.dumps(bodies))
            ref = reference(planner, bodies, args.duration)
            one = run_load_process(url, bodies_file, 1, args.duration)
            many = run_load_process(url, bodies_file, args.clients, args.duration)
            rows.append(
                {
                    "profile": profile,
                    "documents": docs,
                    "config": name,
                    "reference": ref,
                    "api_1_client": one,
                    "api_n_clients": many,
                    "throughput_ratio_n_clients": round(many["per_second"] / ref["per_second"], 2) if ref["per_second"] else None,
                    "p50_ratio_1_client": round(one["p50_ms"] / ref["p50_ms"], 2) if ref["p50_ms"] else None,
                }
            )
            print(f"{profile} / {name}: done", file=sys.stderr)
    finally:
        stop_server(server)
    return rows


def table(rows: list[dict[str, Any]], clients: int) -> str:
    head = (
        "| profile (docs) | config | run | searches/s | p50 ms | p90 ms | p99 ms | errors |\n"
        "|---|---|---|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        for label, key in (("in-process reference", "reference"), ("API, 1 client", "api_1_client"),
                           (f"API, {clients} clients", "api_n_clients")):
            s = r[key]
            lines.append(
                f"| {r['profile']} ({r['documents']}) | {r['config']} | {label} | {s['per_second']} | {s['p50_ms']} | "
                f"{s['p90_ms']} | {s['p99_ms']} | {s['errors']} |"
            )
    lines.append("")
    for r in rows:
        lines.append(
            f"{r['profile']} / {r['config']}: API throughput with {clients} clients = "
            f"{r['throughput_ratio_n_clients']}x the in-process reference; API p50 with 1 client = "
            f"{r['p50_ratio_1_client']}x the reference p50"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR SciFact folder (corpus.jsonl, queries.jsonl)")
    p.add_argument("--profiles", default="bm25,minilm-tokens", help="comma-separated index profiles")
    p.add_argument("--max-docs", type=int, default=0, help="index only the first N documents (0: all)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds measured per run")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients of the load process")
    p.add_argument("--k", type=int, default=10, help="hits per search")
    p.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads, here and in the server")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_api", help="cache folder for the indexes")
    p.add_argument("--json", nargs="?", const="-", default=None, help="write results as JSON (to a file, or stdout)")
    p.add_argument("--load-worker", help=argparse.SUPPRESS)
    p.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.load_worker:
        bodies = json.loads(args.bodies.read_text())
        print(json.dumps(load_worker(args.load_worker, bodies, args.clients, args.duration)))
        return
    if not (args.data / "corpus.jsonl").is_file():
        sys.exit(f"no SciFact corpus at {args.data}: pass --data DIR (a BEIR folder with corpus.jsonl and queries.jsonl)")
    args.work.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(args.torch_threads)
    queries = [json.loads(line)["text"] for line in open(args.data / "queries.jsonl", encoding="utf-8")]
    rows: list[dict[str, Any]] = []
    for profile in [x.strip() for x in args.profiles.split(",") if x.strip()]:
        rows.extend(bench_profile(args, profile, queries))
    result = {
        "duration_s": args.duration,
        "clients": args.clients,
        "k": args.k,
        "torch_threads": args.torch_threads,
        "queries": len(queries),
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    if args.json == "-":
        print(json.dumps(result, indent=2))
    else:
        print(table(rows, args.clients))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
