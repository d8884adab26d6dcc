"""Generation speed: time to first token and decode tokens/s, in-process llama.cpp vs the same GGUF over HTTP.

Both backends run in the same invocation on the same model file, context size and thread count, their
runs alternating (so load from other processes on a shared CPU hits both alike); the HTTP side is a real
``python -m llama_cpp.server`` process on localhost, so the ratio is the cost of the server hop (HTTP,
SSE, JSON per token). Default model: the tiny random GGUF the tests build (about
0.6 MB); pass ``--model`` for a real one.

Each run uses a distinct prompt (a run number leads it), so llama.cpp's prefix cache cannot skip the
prompt and time to first token includes prompt processing. Tokens/s counts streamed pieces after the first:
one piece per sampled token, except that llama.cpp holds back pieces while a UTF-8 character is incomplete
(the default tiny model has an ASCII-only vocabulary and never samples EOS, so there every run streams
exactly ``--max-tokens`` pieces).

    python benchmarks/bench_answer.py                 # table
    python benchmarks/bench_answer.py --json          # one JSON object
    python benchmarks/bench_answer.py --model qwen2.5-1.5b-instruct-q4_k_m.gguf --n-ctx 4096 --threads 2

``measure_generation(generator, prompt, n)`` is importable, so end-to-end latency reports can add the
retrieval share beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.answer import LlamaCppGenerator, OpenAIHTTPGenerator
from rag.answer.base import Message
from rag.answer.prompt import SYSTEM_PROMPT, build_messages

ROOT = Path(__file__).resolve().parents[1]
TEST_HELPERS = ROOT / "tests" / "rag" / "answer"

SENTENCES = [
    "Late interaction models compare every query token with every document token.",
    "Vitamin D deficiency is associated with a higher risk of bone fractures in older adults.",
    "The company reported revenue growth in the fourth quarter of the fiscal year.",
    "Cells divide by mitosis; the protein binds to the receptor and activates the pathway.",
]


def _prompt_for_run(prompt: Any, run: int) -> Any:
    """Make run ``run``'s prompt differ from its first token, defeating the KV prefix cache."""
    if isinstance(prompt, str):
        return f"Run {run}. {prompt}"
    messages = [dict(m) for m in prompt]
    messages[0]["content"] = f"Run {run}. " + messages[0]["content"]
    return messages


def _time_one(generator: Any, prompt: Any, *, max_tokens: int, temperature: float) -> dict[str, float]:
    """One timed stream: ``ttft_ms``, ``total_ms``, ``pieces`` and ``tokens_per_s`` (NaN with < 2 pieces)."""
    t0 = time.perf_counter()
    first = last = None
    count = 0
    for _ in generator.stream(prompt, max_tokens=max_tokens, temperature=temperature):
        last = time.perf_counter()
        if first is None:
            first = last
        count += 1
    end = time.perf_counter()
    if first is None or last is None:
        raise RuntimeError(f"{generator.name} produced no text; try another prompt or a real model")
    rate = (count - 1) / (last - first) if count > 1 and last > first else float("nan")
    return {"ttft_ms": (first - t0) * 1000, "total_ms": (end - t0) * 1000, "pieces": count, "tokens_per_s": rate}


def _summary(name: str, runs: list[dict[str, float]], max_tokens: int) -> dict[str, Any]:
    rates = [r["tokens_per_s"] for r in runs if r["tokens_per_s"] == r["tokens_per_s"]]
    return {
        "name": name,
        "runs": len(runs),
        "max_tokens": max_tokens,
        "ttft_ms": statistics.median(r["ttft_ms"] for r in runs),
        "tokens_per_s": statistics.median(rates) if rates else float("nan"),
        "total_ms": statistics.median(r["total_ms"] for r in runs),
        "pieces_mean": statistics.fmean(r["pieces"] for r in runs),
        "ttft_ms_runs": [round(r["ttft_ms"], 3) for r in runs],
        "tokens_per_s_runs": [round(x, 1) for x in rates],
    }


def measure_generation(
    generator: Any,
    prompt: Any,
    n: int,
    *,
    max_tokens: int = 64,
    temperature: float = 0.0,
    warmup: int = 1,
) -> dict[str, Any]:
    """Stream ``prompt`` ``n`` times (after ``warmup`` untimed runs) and time it.

    ``prompt``: chat messages or a string, as ``Generator.stream`` takes it; each run gets a distinct
    copy (see the module docstring). Returns medians over the runs: ``ttft_ms`` (request to first piece),
    ``tokens_per_s`` (pieces after the first / time after the first), ``total_ms``; plus ``pieces_mean``,
    ``runs``, ``max_tokens``, ``name`` and the per-run lists ``ttft_ms_runs``, ``tokens_per_s_runs``.
    """
    return measure_interleaved([generator], prompt, n, max_tokens=max_tokens, temperature=temperature, warmup=warmup)[0]


def measure_interleaved(
    generators: Sequence[Any],
    prompt: Any,
    n: int,
    *,
    max_tokens: int = 64,
    temperature: float = 0.0,
    warmup: int = 1,
) -> list[dict[str, Any]]:
    """Like ``measure_generation`` for several generators, alternating them run by run, so a change in
    machine load (a shared CPU) hits all of them alike; one summary per generator, in order."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    for w in range(warmup):
        for g in generators:
            _time_one(g, _prompt_for_run(prompt, -1 - w), max_tokens=max_tokens, temperature=temperature)
    runs: list[list[dict[str, float]]] = [[] for _ in generators]
    for run in range(n):
        for k, g in enumerate(generators):
            p = _prompt_for_run(prompt, run * len(generators) + k)
            runs[k].append(_time_one(g, p, max_tokens=max_tokens, temperature=temperature))
    return [_summary(g.name, r, max_tokens) for g, r in zip(generators, runs)]


def grounded_messages(prompt_tokens: int, count_tokens: Callable[[str], int]) -> list[Message]:
    """A grounded-answer shaped prompt (system + sources + question) of about ``prompt_tokens`` content tokens."""
    blocks: list[str] = []
    i = 0
    while True:
        block = f"[{len(blocks) + 1}] Source {i}\n" + " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(3))
        candidate = build_messages("What do the sources say?", blocks + [block], SYSTEM_PROMPT)
        if sum(count_tokens(m["content"]) for m in candidate) > prompt_tokens and blocks:
            break
        blocks.append(block)
        i += 1
        if i > 10_000:
            break
    return build_messages("What do the sources say?", blocks, SYSTEM_PROMPT)


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(TEST_HELPERS))  # the tiny model builder and server launcher live with the tests
    from llama_server_proc import start_llama_server, stop_llama_server

    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model = Path(args.model)
        else:
            from tiny_gguf import build_tiny_gguf

            # every token is visible text and no run ends early, so both backends decode max_tokens tokens
            model = build_tiny_gguf(Path(tmp) / "tiny.gguf", ascii_only=True, no_eos=True)
        local = LlamaCppGenerator(model, n_ctx=args.n_ctx, n_threads=args.threads, seed=0)
        messages = grounded_messages(args.prompt_tokens, local.count_tokens)
        prompt_tokens = local.count_prompt_tokens(messages)
        if args.sequential:  # one model copy in memory at a time (large models)
            results = {"in_process": measure_generation(local, messages, args.runs, max_tokens=args.max_tokens)}
            local.close()
        proc, url = start_llama_server(model, n_ctx=args.n_ctx, log_path=Path(tmp) / "server.log", threads=args.threads)
        try:
            with OpenAIHTTPGenerator(url, "tiny", timeout=600, context_size=args.n_ctx) as remote:
                if args.sequential:
                    results["http"] = measure_generation(remote, messages, args.runs, max_tokens=args.max_tokens)
                else:
                    both = measure_interleaved([local, remote], messages, args.runs, max_tokens=args.max_tokens)
                    results = {"in_process": both[0], "http": both[1]}
        finally:
            stop_llama_server(proc)
            local.close()

    a, b = results["in_process"], results["http"]
    return {
        "model": str(args.model or "tiny random GGUF (tests/rag/answer/tiny_gguf.py)"),
        "model_bytes": model.stat().st_size if args.model else None,
        "n_ctx": args.n_ctx,
        "threads": args.threads,
        "order": "sequential" if args.sequential else "interleaved",
        "prompt_tokens": prompt_tokens,
        "results": results,
        "ratio_http_over_in_process": {
            "ttft": b["ttft_ms"] / a["ttft_ms"],
            "tokens_per_s": b["tokens_per_s"] / a["tokens_per_s"],
            "total": b["total_ms"] / a["total_ms"],
        },
    }


def print_table(report: dict[str, Any]) -> None:
    print(f"model: {report['model']}  n_ctx={report['n_ctx']}  threads={report['threads']}  "
          f"prompt={report['prompt_tokens']} tokens (templated)")  # fmt: skip
    header = f"{'backend':<12} {'TTFT ms':>10} {'tokens/s':>10} {'total ms':>10} {'pieces':>8} {'runs':>5}"
    print(header)
    print("-" * len(header))
    for key, r in report["results"].items():
        print(f"{key:<12} {r['ttft_ms']:>10.2f} {r['tokens_per_s']:>10.1f} {r['total_ms']:>10.2f} "
              f"{r['pieces_mean']:>8.1f} {r['runs']:>5}")  # fmt: skip
    ratio = report["ratio_http_over_in_process"]
    print(f"{'http / in-process':<12} TTFT x{ratio['ttft']:.2f}  tokens/s x{ratio['tokens_per_s']:.2f}  "
          f"total x{ratio['total']:.2f}")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="GGUF file (default: build the tiny random test model)")
    parser.add_argument("--n-ctx", type=int, default=2048, help="context window (default 2048)")
    parser.add_argument("--prompt-tokens", type=int, default=400, help="approximate prompt size (default 400)")
    parser.add_argument("--max-tokens", type=int, default=128, help="tokens to generate per run (default 128)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per backend (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads for both backends (default 1)")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="time in-process first, free it, then HTTP (one model copy in memory; default: alternate run by run)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
