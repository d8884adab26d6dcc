"""evals.report: Markdown table, JSON round trip, PNG chart written in tmp_path."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import evals.report
from evals.datasets import SAMPLING_WARNING
from evals.metrics import EvalResult, evaluate, run_from_rankings
from evals.report import markdown_table, read_results_json, write_reports

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _results() -> dict[str, EvalResult]:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}, "q3": {"d": 1}}
    runs = {
        "bm25": run_from_rankings({"q1": ["a", "x"], "q2": ["x", "b", "c"]}),
        "hybrid | rerank": run_from_rankings({"q1": ["a"], "q2": ["b", "c"], "q3": ["y", "d"]}),
    }
    return {name: evaluate(run, qrels) for name, run in runs.items()}


def test_doctests_pass():
    assert doctest.testmod(evals.report).failed == 0


def test_markdown_table_rows_columns_and_missing_values():
    results = {"a": EvalResult({"nDCG@10": 0.123456, "MRR@10": 1.0}, {}), "b": EvalResult({"nDCG@10": 0.5}, {})}
    table = markdown_table(results, ["nDCG@10", "MRR@10"]).splitlines()
    assert table[0] == "| pipeline | nDCG@10 | MRR@10 |"
    assert table[2] == "| a | 0.1235 | 1.0000 |"
    assert table[3] == "| b | 0.5000 | n/a |"
    with pytest.raises(ValueError, match="no measures"):
        markdown_table(results, [])


def test_write_reports_writes_three_valid_files(tmp_path):
    results = _results()
    meta = {"dataset": "beir/toy", "split": "test", "queries": "3 sampled from 30", "warning": SAMPLING_WARNING}
    paths = write_reports(results, tmp_path / "out", title="Toy run", meta=meta)
    assert set(paths) == {"md", "json", "png"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert paths["png"].name == "ndcg.png" and paths["png"].read_bytes()[:8] == PNG_MAGIC

    image = pytest.importorskip("matplotlib.image").imread(paths["png"])
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100

    md = paths["md"].read_text()
    assert md.startswith("# Toy run\n")
    assert f"> **Warning:** {SAMPLING_WARNING}" in md
    assert "- dataset: beir/toy" in md and "- split: test" in md and "- queries: 3 sampled from 30" in md
    assert "| pipeline | nDCG@10 | R@100 | R@1000 | MRR@10 |" in md
    bm25 = results["bm25"].aggregate
    assert "| bm25 | " + " | ".join(f"{v:.4f}" for v in bm25.values()) + " |" in md
    assert "| hybrid \\| rerank | " in md  # pipe escaped so the table keeps its columns

    payload = json.loads(paths["json"].read_text())
    assert payload["title"] == "Toy run" and payload["meta"] == meta
    assert payload["measures"] == ["nDCG@10", "R@100", "R@1000", "MRR@10"]
    loaded, loaded_meta = read_results_json(paths["json"])
    assert loaded == results and loaded_meta == meta


def test_write_reports_serialises_paths_and_rejects_odd_meta(tmp_path):
    results = _results()
    paths = write_reports(results, tmp_path, title="t", meta={"corpus": [Path("/data/corpus.jsonl")]})
    assert json.loads(paths["json"].read_text())["meta"] == {"corpus": ["/data/corpus.jsonl"]}
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        write_reports(results, tmp_path, title="t", meta={"bad": object()})
    with pytest.raises(ValueError, match="no results"):
        write_reports({}, tmp_path, title="t", meta={})


def test_read_results_json_refuses_unknown_format(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"format_version": 99, "pipelines": {}, "meta": {}}))
    with pytest.raises(ValueError, match="format_version 99"):
        read_results_json(path)
