"""Retrieval measures over a run, computed by ir-measures, with every judged query counted.

A *run* maps a query id to ``{doc_id: score}`` (higher is better); *qrels* map a query id to
``{doc_id: relevance}`` (relevance <= 0 is judged non-relevant). Every query in the qrels counts
in the mean: a query missing from the run, or with an empty ranking, scores 0 for every measure
(older ir-measures releases average only over the queries present in the run; we never rely on
either behaviour). Queries that are in the run but not in the qrels are ignored.

Ranking comes from the scores alone: ties are broken by trec_eval's document-id rule, not by the
order of the dict. Build runs from ordered lists with :func:`run_from_rankings` to keep an order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

DEFAULT_MEASURES = ("nDCG@10", "R@100", "R@1000", "RR@10")


@dataclass(slots=True)
class EvalResult:
    """Scores of one run, keyed by display names (``MRR@10`` for ir-measures' ``RR@10``).

    ``aggregate[measure]`` is the mean over every judged query; ``per_query[query_id][measure]``
    is that query's value. Both follow the order of the measures asked for.
    """

    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]]

    @property
    def measures(self) -> list[str]:
        return list(self.aggregate)


def _ir_measures() -> Any:
    try:
        import ir_measures
    except ImportError as exc:  # pragma: no cover - ir-measures is a core dependency
        raise ImportError("evaluation needs ir-measures: pip install ir-measures") from exc
    return ir_measures


def display_name(measure: Any) -> str:
    """The name shown in tables: ir-measures' own name, with reciprocal rank written ``MRR``.

    >>> [display_name(m) for m in ("nDCG@10", "RR@10", "MRR@10", "R@100")]
    ['nDCG@10', 'MRR@10', 'MRR@10', 'R@100']
    """
    return parse_measures([measure])[0][0]


def parse_measures(measures: Iterable[Any]) -> list[tuple[str, Any]]:
    """``(display name, ir-measures Measure)`` pairs for names like ``"nDCG@10"`` or Measure objects."""
    ir_measures = _ir_measures()
    parsed: list[tuple[str, Any]] = []
    for measure in measures:
        if isinstance(measure, str):
            try:
                obj = ir_measures.parse_measure(measure)
            except (ValueError, NameError, KeyError) as exc:
                raise ValueError(
                    f"unknown measure {measure!r}; write it as ir-measures does, e.g. {', '.join(DEFAULT_MEASURES)}"
                ) from exc
        else:
            obj = measure
        name = str(obj)
        parsed.append(("M" + name if name.startswith("RR") else name, obj))
    if not parsed:
        raise ValueError("no measures given; pass e.g. DEFAULT_MEASURES")
    names = [name for name, _ in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"measures asked for twice: {duplicates}")
    return parsed


def _checked_qrels(qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    if not qrels:
        raise ValueError("qrels are empty: nothing to evaluate; load a dataset split that has judgements")
    out: dict[str, dict[str, int]] = {}
    for qid, docs in qrels.items():
        if not isinstance(qid, str):
            raise TypeError(f"qrels query ids must be str, got {qid!r} ({type(qid).__name__})")
        checked: dict[str, int] = {}
        for doc_id, rel in docs.items():
            if not isinstance(doc_id, str):
                raise TypeError(f"qrels doc ids must be str, got {doc_id!r} for query {qid!r}")
            if isinstance(rel, bool) or not isinstance(rel, Integral):
                raise TypeError(f"relevance must be an int, got {rel!r} for ({qid!r}, {doc_id!r})")
            checked[doc_id] = int(rel)
        out[qid] = checked
    return out


def _checked_run(run: Mapping[str, Mapping[str, float]], judged: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The run restricted to judged queries with non-empty rankings, scores as finite floats."""
    out: dict[str, dict[str, float]] = {}
    for qid, ranking in run.items():
        if not isinstance(qid, str):
            raise TypeError(f"run query ids must be str, got {qid!r} ({type(qid).__name__})")
        if not isinstance(ranking, Mapping):
            raise TypeError(f"run[{qid!r}] must map doc id to score, got {type(ranking).__name__}")
        scores: dict[str, float] = {}
        for doc_id, score in ranking.items():
            if not isinstance(doc_id, str):
                raise TypeError(
                    f"run doc ids must be str (ids are strings everywhere), got {doc_id!r} "
                    f"({type(doc_id).__name__}) for query {qid!r}; convert with str()"
                )
            if isinstance(score, bool) or not isinstance(score, Real) or not math.isfinite(score):
                raise ValueError(f"score of ({qid!r}, {doc_id!r}) must be a finite number, got {score!r}")
            scores[doc_id] = float(score)
        if scores and qid in judged:
            out[qid] = scores
    return out


def evaluate(
    run: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    measures: Sequence[Any] = DEFAULT_MEASURES,
) -> EvalResult:
    """Score ``run`` against ``qrels``; the aggregate is the mean over every query in ``qrels``.

    Toy check (one relevant document at rank 1 of query ``a``; query ``b`` is missing from the run):

    >>> r = evaluate({"a": {"d1": 2.0, "d2": 1.0}}, {"a": {"d1": 1}, "b": {"d3": 1}}, ["nDCG@10", "RR@10"])
    >>> r.per_query["a"], r.per_query["b"], r.aggregate
    ({'nDCG@10': 1.0, 'MRR@10': 1.0}, {'nDCG@10': 0.0, 'MRR@10': 0.0}, {'nDCG@10': 0.5, 'MRR@10': 0.5})
    """
    parsed = parse_measures(measures)
    judged = _checked_qrels(qrels)
    scored_run = _checked_run(run, judged)
    by_measure = {obj: name for name, obj in parsed}
    per_query = {qid: {name: 0.0 for name, _ in parsed} for qid in judged}
    if scored_run:
        for metric in _ir_measures().iter_calc([obj for _, obj in parsed], judged, scored_run):
            name = by_measure.get(metric.measure)
            if name is not None and metric.query_id in per_query:
                per_query[metric.query_id][name] = float(metric.value)
    aggregate = {name: math.fsum(values[name] for values in per_query.values()) / len(per_query) for name, _ in parsed}
    return EvalResult(aggregate=aggregate, per_query=per_query)


def run_from_rankings(rankings: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """Turn ordered doc-id lists into a run whose scores keep that order (``1/rank``).

    A doc id repeated in a list keeps its first (best) rank, as when passages map to documents.

    >>> run_from_rankings({"q": ["d7", "d2", "d7", "d5"]})
    {'q': {'d7': 1.0, 'd2': 0.5, 'd5': 0.3333333333333333}}
    """
    run: dict[str, dict[str, float]] = {}
    for qid, doc_ids in rankings.items():
        if isinstance(doc_ids, str):
            raise TypeError(f"rankings[{qid!r}] must be a sequence of doc ids, not a single string")
        scores: dict[str, float] = {}
        for doc_id in doc_ids:
            if doc_id not in scores:
                scores[doc_id] = 1.0 / (len(scores) + 1)
        run[qid] = scores
    return run
