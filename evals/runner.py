"""`latte eval`: build (or reuse) an index of a dataset's corpus, run each pipeline, score with ir-measures.

A pipeline is a '+'-list of first-stage retrievers (``bm25``, ``dense``, ``sparse``) fused by RRF, optionally
suffixed ``+colbert`` (MaxSim rerank of the fused top ``rerank_depth``), or ``colbert`` alone (exact MaxSim over
all documents). ``:weighted`` after a pipeline fuses with weighted min-max scores instead of RRF.

``unit`` says what is ranked and judged: BEIR and MLDR judge documents, ``pdf-pages`` judges PDF pages (ids
``<pdf stem>#p<zero-based page>``). ``pages_as_documents`` (pdf-pages only) is the plain reference: every PDF
page ingested as its own document and ranked at the document unit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from evals.datasets import (
    DATASET_UNITS,
    SAMPLING_WARNING,
    EvalDataset,
    dataset_meta,
    load_dataset,
    page_id,
    sample_queries,
)
from evals.metrics import DEFAULT_MEASURES, EvalResult, evaluate
from evals.report import markdown_table, write_reports
from rag.retrievers import first_stage_names, ranker_names

FIRST_STAGE = tuple(first_stage_names())  # the retriever table's first stage (parse_pipeline reads the table itself)
# page retrieval is judged near the top: few pages hold the evidence, and a reader looks at the first ten
PAGE_MEASURES = ("nDCG@10", "R@10", "R@100", "RR@10")


@dataclass(frozen=True)
class Pipeline:
    name: str
    mode: str  # planner mode: "bm25+dense" | "colbert"
    rerank: bool
    fusion: str = "rrf"


def parse_pipeline(name: str) -> Pipeline:
    """``bm25+dense+colbert`` -> first stage bm25+dense, MaxSim rerank; ``colbert`` -> MaxSim ranker.

    >>> parse_pipeline("bm25+dense+colbert")
    Pipeline(name='bm25+dense+colbert', mode='bm25+dense', rerank=True, fusion='rrf')
    >>> parse_pipeline("bm25+dense:weighted").fusion
    'weighted'
    """
    base, _, fusion = name.partition(":")
    parts = [p for p in base.split("+") if p]
    first_stage = first_stage_names()
    rankers = ranker_names(from_ingest=True)  # used alone; an eval builds its index by ingest (so never PLAID)
    if len(parts) == 1 and parts[0] in rankers:
        return Pipeline(name, parts[0], False)
    rerank = parts[-1:] == ["colbert"]
    first = parts[:-1] if rerank else parts
    bad = [p for p in first if p not in first_stage]
    if bad or not first:
        raise UserError(
            f"pipeline {name!r}: unknown retriever(s) {bad or parts}; use {'+'.join(first_stage)} combinations, "
            f"optionally ending in +colbert, or one of {', '.join(rankers)} alone"
        )
    if fusion and fusion not in ("rrf", "weighted"):
        raise UserError(f"pipeline {name!r}: fusion must be rrf or weighted")
    return Pipeline(name, "+".join(first), rerank, fusion or "rrf")


def profile_for(pipelines: Sequence[Pipeline]) -> str:
    """The smallest model profile that builds every index the pipelines need."""
    needs = set()
    for p in pipelines:
        needs.update(p.mode.split("+"))
        if p.rerank or p.mode == "colbert":
            needs.add("tensors")
    needs.discard("bm25")
    if "sparse" in needs:
        return "m3"
    if "tensors" in needs:
        return "default"
    if "dense" in needs:
        return "dense"
    return "bm25"


def default_index_dir(ds: EvalDataset, profile: str) -> Path:
    safe = ds.name.replace("/", "-")
    return Path("runs") / "indexes" / f"{safe}-{profile}"


def unit_run_ids(ids: Sequence[str], keys: Sequence[int]) -> list[str]:
    """Run ids of ranked passage/page keys (``ids``: document id by docno): ``<pdf stem>#p<zero-based page>`` for a
    PDF page (what FinanceBench's qrels name), ``<doc id>#<ordinal>`` for a passage."""
    from rag.units import decode

    out = []
    for k in keys:
        docno, ordinal, page = decode(int(k))
        out.append(page_id(ids[docno], page) if page is not None else f"{ids[docno]}#{ordinal}")
    return out


def write_page_corpus(pdfs: Path, out: Path) -> Path:
    """Every PDF page under ``pdfs`` as its own document (BEIR JSONL, id ``<stem>#p<zero-based page>``), read with
    latte's PDF loader: the pages-as-documents reference."""
    import json

    from rag.loaders import LoadOptions, iter_documents
    from rag.records import Document

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in iter_documents([pdfs], LoadOptions(fmt="auto")):
            if not isinstance(rec, Document) or not rec.pages:
                continue
            for span in rec.pages:
                text = rec.text[span.start : span.end]
                f.write(json.dumps({"_id": page_id(rec.id, span.page), "title": "", "text": text}) + "\n")
    tmp.replace(out)
    return out


def run_eval(
    *,
    dataset: str,
    data_dir: Path,
    split: str = "test",
    lang: str = "en",
    pipelines: Sequence[str] = ("bm25",),
    index: Path | None = None,
    out_dir: Path = Path("runs/eval"),
    profile: str | None = None,
    max_queries: int | None = None,
    rerank_depth: int = 100,
    quantization: str = "binary",
    keep_float16: bool = False,
    depth: int = 1000,
    device: str = "auto",
    progress: bool = True,
    k: int = 1000,
    rerank_combine: str = "weighted",
    rerank_weight: float = 0.65,
    unit: str | None = None,
    pages_as_documents: bool = False,
) -> dict[str, Any]:
    from rag.clean import QualityRules
    from rag.ingest import IngestSettings
    from rag.loaders import LoadOptions
    from rag.planner import SearchOptions
    from rag.service import ingest_paths, open_searcher

    pipes = [parse_pipeline(p) for p in pipelines]
    ds = load_dataset(dataset, Path(data_dir), split, lang)
    if max_queries:
        ds = sample_queries(ds, max_queries)
        if ds.is_sampled:
            print(f"warning: {SAMPLING_WARNING}", file=sys.stderr)
    from rag.units import check_unit

    unit = check_unit(unit or DATASET_UNITS.get(dataset, "document"))
    if pages_as_documents:
        if dataset != "pdf-pages":
            raise UserError("--pages-as-documents applies to --dataset pdf-pages only")
        unit = "document"
    profile = profile or profile_for(pipes)
    index = Path(index) if index else default_index_dir(ds, profile + ("-pagedocs" if pages_as_documents else ""))
    t0 = time.perf_counter()
    ingest_summary = None
    if not (index / "manifest.json").exists():
        # benchmark corpora are curated: index every document as published (no quality or dedupe drops), so the
        # figures compare with published ones
        settings = IngestSettings(quality=QualityRules(enabled=False), exact_dedupe=False, near_dedupe=False,
                                  lang=lang if dataset == "mldr" else None)
        paths, fmt = ds.corpus_paths, ("auto" if ds.corpus_format == "pdf" else ds.corpus_format)
        if pages_as_documents:
            paths, fmt = [write_page_corpus(ds.corpus_paths[0], index.parent / f"{index.name}-pages.jsonl")], "beir"
        # float16 token values only when asked for (`--quantization float16` reranks with them, `--keep-float16`
        # keeps them for benchmarks/tune_rerank.py): the binary rerank never reads them, and they were 1.3 GB of
        # SciFact's 1.4 GB index
        ingest_summary = ingest_paths(
            paths, index, settings=settings, load_options=LoadOptions(fmt=fmt),
            profile=profile, device=device, quantization="float16" if keep_float16 else quantization,
            progress=progress,
        ).to_dict()
    ingest_s = time.perf_counter() - t0
    planner = open_searcher(index, device=device)
    ids = planner.docs.ids_by_docno()
    results: dict[str, EvalResult] = {}
    timings: dict[str, float] = {}
    qids = list(ds.queries)
    for p in pipes:
        opt = SearchOptions(
            k=k, mode=p.mode, depth=depth, fusion=p.fusion, rerank=p.rerank, rerank_depth=rerank_depth,
            rerank_combine=rerank_combine, rerank_weight=rerank_weight, quantization=quantization, unit=unit,
        )
        run: dict[str, dict[str, float]] = {}
        t = time.perf_counter()
        for qid in qids:
            if not ds.queries[qid].strip():
                run[qid] = {}  # an empty query (CMRC 2018 has two) retrieves nothing and scores 0
                continue
            r = planner.rank(ds.queries[qid], opt)
            n = min(k, len(r.docnos))
            # scores 1/rank keep the planner's order (ir-measures would break score ties by id)
            ranked = r.docnos[:n].tolist()
            names = [ids[int(d)] for d in ranked] if unit == "document" else unit_run_ids(ids, ranked)
            run[qid] = {}
            for name in names:  # a name may repeat (two passages of one page id): it keeps its best rank
                run[qid].setdefault(name, 1.0 / (len(run[qid]) + 1))
        timings[p.name] = (time.perf_counter() - t) / max(len(qids), 1) * 1000
        results[p.name] = evaluate(run, ds.qrels, PAGE_MEASURES if dataset == "pdf-pages" else DEFAULT_MEASURES)
        if progress:
            print(f"{p.name}: nDCG@10 {results[p.name].aggregate['nDCG@10']:.4f}", file=sys.stderr)
    meta = dataset_meta(ds)
    meta.update(
        profile=profile, index=str(index), rerank_depth=rerank_depth, quantization=quantization, depth=depth,
        rerank_combine=rerank_combine, rerank_weight=rerank_weight, unit=unit, pages_as_documents=pages_as_documents,
        ms_per_query={k_: round(v, 2) for k_, v in timings.items()}, ingest_seconds=round(ingest_s, 1),
    )
    files = write_reports(results, Path(out_dir), title=f"latte eval — {ds.name} ({split})", meta=meta)
    measures = list(next(iter(results.values())).aggregate) if results else []
    return {
        "dataset": ds.name,
        "split": split,
        "queries": len(qids),
        "profile": profile,
        "unit": unit,
        "index": str(index),
        "ingest": ingest_summary,
        "results": {name: r.aggregate for name, r in results.items()},
        "ms_per_query": timings,
        "markdown": markdown_table(results, measures),
        "files": {k_: str(v) for k_, v in files.items()},
    }
