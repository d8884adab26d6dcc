"""benchmarks/bench_maxsim.py runs end to end at a toy size and writes its JSON (a smoke test, not a timing)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_maxsim.py"


def test_bench_runs_at_toy_size(tmp_path: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("bench_maxsim", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    args = ["--docs", "3", "--passages", "2", "--tokens", "24", "--dim", "16", "--query-tokens", "4",
            "--repeats", "2", "--warmup", "0", "--skip-gpu", "--json", str(out)]
    assert bench.main(args) == 0
    assert "cpu binary query_lut" in capsys.readouterr().out
    results = json.loads(out.read_text())
    rows = results["runs"][0]["rows"]
    assert {r["backend"] for r in rows} >= {"reference fp32 (torch)", "cpu binary query_lut", "cpu fp16 values"}
    for row in rows:
        assert row["p50_ms"] > 0 and row["p95_ms"] >= row["p50_ms"]
        assert row.get("max_abs_diff", 0.0) < 1e-4  # each kernel agrees with the reference on its stored form
