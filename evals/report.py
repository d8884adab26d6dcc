"""Evaluation reports: a Markdown table, a JSON file with per-query scores, and a bar chart.

``write_reports`` writes into ``out_dir``:

- ``results.md``: the title, the ``meta`` lines (dataset, split, query count...), a warning
  block when ``meta`` has a ``"warning"`` entry (put :data:`evals.datasets.SAMPLING_WARNING` there
  for sampled runs), and one table row per pipeline with one column per measure (4 decimals);
- ``results.json``: ``{"title", "meta", "measures", "pipelines": {name: {"aggregate", "per_query"}}}``,
  read back with :func:`read_results_json`;
- ``ndcg.png``: a bar chart of the first measure per pipeline (matplotlib, Agg canvas, no pyplot
  state touched).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.metrics import EvalResult

REPORT_FILES = {"md": "results.md", "json": "results.json", "png": "ndcg.png"}
JSON_FORMAT_VERSION = 1


def _measures_of(results: Mapping[str, EvalResult]) -> list[str]:
    """Union of the measures of every pipeline, in first-seen order."""
    seen: dict[str, None] = {}
    for result in results.values():
        seen.update(dict.fromkeys(result.aggregate))
    return list(seen)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(results: Mapping[str, EvalResult], measures: Sequence[str]) -> str:
    """One row per pipeline, one column per measure, values with 4 decimals ("n/a" when absent).

    >>> r = EvalResult(aggregate={"nDCG@10": 0.66543, "MRR@10": 0.5}, per_query={})
    >>> print(markdown_table({"bm25": r}, ["nDCG@10", "MRR@10"]))
    | pipeline | nDCG@10 | MRR@10 |
    | --- | ---: | ---: |
    | bm25 | 0.6654 | 0.5000 |
    """
    if not measures:
        raise ValueError("no measures to tabulate; pass e.g. list(result.aggregate)")
    lines = [
        "| pipeline | " + " | ".join(_cell(m) for m in measures) + " |",
        "| --- | " + " | ".join("---:" for _ in measures) + " |",
    ]
    for name, result in results.items():
        values = [f"{result.aggregate[m]:.4f}" if m in result.aggregate else "n/a" for m in measures]
        lines.append(f"| {_cell(name)} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def _meta_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _markdown(results: Mapping[str, EvalResult], measures: list[str], title: str, meta: Mapping[str, Any]) -> str:
    parts = [f"# {title}", ""]
    warnings = meta.get("warning")
    for warning in [warnings] if isinstance(warnings, str) else list(warnings or []):
        parts += [f"> **Warning:** {warning}", ""]
    parts += [f"- {key}: {_meta_value(value)}" for key, value in meta.items() if key != "warning"]
    parts += ["", markdown_table(results, measures), ""]
    return "\n".join(parts)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(
        f"meta value {value!r} ({type(value).__name__}) is not JSON-serialisable; pass str, number, list or dict"
    )


def _chart(results: Mapping[str, EvalResult], measure: str, title: str, path: Path) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a core dependency
        raise ImportError("the report chart needs matplotlib: pip install matplotlib") from exc
    names = list(results)
    values = [results[n].aggregate.get(measure, 0.0) for n in names]
    fig = Figure(figsize=(max(4.0, 1.1 * len(names) + 2.0), 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    bars = ax.bar(range(len(names)), values, color="#4C72B0")
    ax.bar_label(bars, labels=[f"{v:.4f}" for v in values], fontsize=8)
    crowded = len(names) > 3
    ax.set_xticks(range(len(names)), names, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    ax.set_ylabel(measure)
    top = max(values, default=0.0)
    ax.set_ylim(0, 1.05 if top <= 1.0 else top * 1.1)
    ax.set_title(f"{title}: {measure}")
    fig.savefig(path, dpi=120)


def write_reports(
    results: dict[str, EvalResult], out_dir: Path, *, title: str, meta: dict[str, Any]
) -> dict[str, Path]:
    """Write ``results.md``, ``results.json`` and ``ndcg.png`` into ``out_dir`` (created if needed).

    Returns ``{"md": path, "json": path, "png": path}``. The chart shows the first measure of the
    first pipeline; pipelines lacking a measure show "n/a" in the table and 0 in the chart.
    """
    if not results:
        raise ValueError("no results to report; evaluate at least one pipeline first")
    measures = _measures_of(results)
    if not measures:
        raise ValueError("the results hold no measures; evaluate with at least one measure")
    bad = [n for n, r in results.items() for v in r.aggregate.values() if not math.isfinite(v)]
    if bad:
        raise ValueError(f"non-finite aggregate scores in pipelines {sorted(set(bad))}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / name for kind, name in REPORT_FILES.items()}
    payload = {
        "format_version": JSON_FORMAT_VERSION,
        "title": title,
        "meta": meta,
        "measures": measures,
        "pipelines": {n: {"aggregate": r.aggregate, "per_query": r.per_query} for n, r in results.items()},
    }
    text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    paths["json"].write_text(text + "\n", encoding="utf-8")
    paths["md"].write_text(_markdown(results, measures, title, meta), encoding="utf-8")
    _chart(results, measures[0], title, paths["png"])
    return paths


def read_results_json(path: Path) -> tuple[dict[str, EvalResult], dict[str, Any]]:
    """Read a ``results.json`` written by :func:`write_reports`: ``(results by pipeline, meta)``."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    version = payload.get("format_version")
    if version != JSON_FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {version!r}, this reader understands {JSON_FORMAT_VERSION}")
    results = {
        name: EvalResult(
            aggregate=dict(body["aggregate"]), per_query={q: dict(v) for q, v in body["per_query"].items()}
        )
        for name, body in payload["pipelines"].items()
    }
    return results, payload["meta"]
