"""The ``latte`` command line: ingest, search, info, delete, eval (and, with later stages, ask and serve)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from core.errors import UserError
from rag.loaders.options import FORMATS
from rag.profiles import DEFAULT_PROFILE, PROFILES
from rag.retrievers import modes_help

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="latte: late-interaction RAG on your own documents.")
console = Console(stderr=True)
out = Console()

INDEX_OPT = typer.Option(..., "--index", "-i", help="index folder")

#: what quiet mode sets (unless the environment already says otherwise): no model-loading bars, no library chatter
QUIET_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}
QUIET_LOGGERS = ("transformers", "sentence_transformers", "huggingface_hub", "torch", "numba")


@app.callback()
def _global_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show model-loading progress and library logs"),
) -> None:
    """latte: late-interaction RAG on your own documents."""
    set_quiet(not verbose)


def set_quiet(quiet: bool) -> None:
    """Quiet (the default): libraries print no progress bars ("Loading weights") or info logs; latte's own
    warnings and errors still show. Set before any model library is imported."""
    import logging
    import os

    if not quiet:
        logging.basicConfig(level=logging.INFO)
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:  # imported already (a caller running the app in-process)
        sys.modules["transformers"].utils.logging.disable_progress_bar()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _parse_filters(filters: list[str] | None) -> dict[str, Any] | None:
    if not filters:
        return None
    out_f: dict[str, Any] = {}
    for f in filters:
        if f.lstrip().startswith("{"):
            out_f.update(json.loads(f))
            continue
        if "=" not in f:
            raise UserError(f"--filter {f!r}: write FIELD=VALUE (VALUE as JSON when not a plain string) or a JSON object")
        k, v = f.split("=", 1)
        try:
            out_f[k] = json.loads(v)
        except json.JSONDecodeError:
            out_f[k] = v
    return out_f


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="files or folders (BEIR/MLDR JSONL(.gz), Parquet, txt/md, PDF)"),
    index: str = typer.Option(..., "--index", "-i", help="index folder, or s3://bucket/prefix (any fsspec URL; "
                              "extra [s3]): commits are published there, replicas follow them"),
    fmt: str = typer.Option("auto", "--format", help="|".join(FORMATS)),
    id_field: Optional[str] = typer.Option(None, help="id column/field (JSONL, Parquet)"),
    text_field: Optional[str] = typer.Option(None, help="text column/field"),
    title_field: Optional[str] = typer.Option(None, help="title column/field"),
    profile: Optional[str] = typer.Option(
        None, help=f"{' | '.join(PROFILES)} (rag.profiles); a new index gets {DEFAULT_PROFILE!r}, an existing index "
        "keeps its own"
    ),
    passage_size: int = typer.Option(200, help="words per passage"),
    passage_overlap: int = typer.Option(40, help="words shared by consecutive passages"),
    batch_docs: int = typer.Option(2000, help="commit every N kept documents"),
    batch_mb: int = typer.Option(32, min=1, help="...or once the encoded passages waiting for the commit take N MiB"),
    max_doc_chars: int = typer.Option(5_000_000, min=1000, help="longest document; a longer one is split into parts "
                                      "<id>#part-<n> (or dropped: --long-documents drop)"),
    long_documents: str = typer.Option("split", help="split | drop: what happens to documents over --max-doc-chars"),
    no_quality: bool = typer.Option(False, "--no-quality", help="disable the quality rules"),
    no_dedupe: bool = typer.Option(False, "--no-dedupe", help="disable exact and near-duplicate removal"),
    dedupe_threshold: float = typer.Option(0.8, help="MinHash Jaccard threshold for near duplicates"),
    lang: Optional[str] = typer.Option(
        None, help="language of the documents (ISO 639-1: zh, ja, ko, th, ru, ar, hi, de...) unless their metadata "
        "has a 'lang' field; default: detected per document"),
    workers: int = typer.Option(1, min=0, help="processes that clean, check, fingerprint, split and tokenize "
                                "documents (0: one per CPU core; the index is the same for any count)"),
    device: str = typer.Option("auto", help="auto|cpu|cuda[:n] for encoders"),
    quantization: str = typer.Option("binary", help="tensor storage: binary, or float16 (binary plus float16 for exact MaxSim)"),
    image_model: Optional[str] = typer.Option(None, envvar="LATTE_COLPALI_MODEL", help="ColPali/ColQwen2 model (profile colpali)"),
    dense_model: Optional[str] = typer.Option(
        None, envvar="LATTE_DENSE_MODEL", help="dense model (HF id or path) for a new index instead of the profile's"),
    tensor_model: Optional[str] = typer.Option(
        None, envvar="LATTE_TENSOR_MODEL",
        help="token-vector model for the MaxSim tensors of a new index, e.g. colbert-ir/colbertv2.0, "
        "jinaai/jina-colbert-v2, lightonai/GTE-ModernColBERT-v1 or a local folder (searches then use it too)"),
    ray: Optional[str] = typer.Option(
        None, "--ray", help="run on a Ray cluster (extra [ray]): local (start one here), auto (the cluster `ray start` "
        "runs here, or $RAY_ADDRESS), HOST:PORT or ray://HOST:10001; the index is the one a single process builds"),
    ray_actors: Optional[int] = typer.Option(
        None, "--ray-actors", min=1, help="encoder actors with --ray (default: one per GPU of the cluster, else one)"),
    encode_batch: int = typer.Option(32, "--encode-batch", min=1, help="passages per encoder forward pass"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Stream documents into an index folder (created when missing); re-running resumes and skips unchanged ones."""
    from rag.clean import QualityRules
    from rag.ingest import IngestSettings
    from rag.loaders import LoadOptions
    from rag.service import ingest_paths

    settings = IngestSettings(
        passage_size=passage_size,
        passage_overlap=passage_overlap,
        batch_docs=batch_docs,
        batch_bytes=batch_mb * 1024 * 1024,
        max_doc_chars=max_doc_chars,
        long_documents=long_documents,
        quality=QualityRules(enabled=not no_quality),
        exact_dedupe=not no_dedupe,
        near_dedupe=not no_dedupe,
        dedupe_threshold=dedupe_threshold,
        lang=lang,
    )
    opts = LoadOptions(fmt=fmt, id_field=id_field, text_field=text_field, title_field=title_field)
    summary = ingest_paths(
        paths, index, settings=settings, load_options=opts, profile=profile, device=device, progress=not as_json,
        quantization=quantization, image_model=image_model, workers=workers,
        model_overrides={k: v for k, v in (("dense", dense_model), ("multivector", tensor_model)) if v},
        ray_address=ray, ray_actors=ray_actors, encode_batch_size=encode_batch,
    )
    if as_json:
        _print_json(summary.to_dict())
        return
    t = Table(title=f"ingested into {index} (version {summary.version})", show_header=False)
    for k in ("read", "indexed", "replaced", "unchanged", "exact_duplicates", "near_duplicates", "passages", "split"):
        t.add_row(k.replace("_", " "), str(getattr(summary, k)))
    for rule, n in sorted(summary.dropped.items()):
        if not rule.endswith("_duplicate"):
            t.add_row(f"dropped: {rule}", str(n))
    t.add_row("load errors / warnings", f"{summary.load_errors} / {summary.load_warnings}")
    t.add_row("documents per second", f"{summary.docs_per_second:,.0f}")
    t.add_row("report", str(summary.report))
    out.print(t)


@app.command()
def search(
    query: str = typer.Argument(...),
    index: Path = INDEX_OPT,
    k: int = typer.Option(10, "-k", help="hits to return"),
    mode: str = typer.Option("auto", help=modes_help()),
    depth: int = typer.Option(1000, help="first-stage candidates per retriever"),
    fusion: str = typer.Option("rrf", help="rrf|weighted"),
    rerank: Optional[bool] = typer.Option(None, "--rerank/--no-rerank", help="MaxSim rerank (default: on where tensors exist, except for --mode bm25, which then loads no model)"),
    rerank_depth: int = typer.Option(100, help="fused candidates reranked by MaxSim"),
    filters: Optional[list[str]] = typer.Option(None, "--filter", help="FIELD=VALUE or a JSON object; repeatable"),
    lang: Optional[str] = typer.Option(
        None, help="the query's language for BM25 (ISO 639-1); default: the index's language, or detected"),
    unit: str = typer.Option("document", help="document|passage|page: what a hit is (page: PDF pages)"),
    device: str = typer.Option("auto", help="auto|cpu|cuda[:n] for the query encoder"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Search an index and print ranked documents (or passages, or PDF pages) with scores, title and passage."""
    from rag.planner import SearchOptions
    from rag.service import open_searcher

    planner = open_searcher(index, device=device)
    res = planner.search(
        query,
        SearchOptions(
            k=k, mode=mode, depth=depth, fusion=fusion, rerank=rerank, rerank_depth=rerank_depth,
            filters=_parse_filters(filters), lang=lang, unit=unit,
        ),
    )
    if as_json:
        _print_json(res.to_dict())
        return
    t = Table(title=f"{query!r} — {'+'.join(res.retrievers)} (version {res.version})")
    t.add_column("#", justify="right")
    t.add_column("score", justify="right")
    t.add_column(unit)
    t.add_column("best passage" if unit == "document" else "text")
    for h in res.hits:
        snippet = (h.passage.text[:220] + "…") if h.passage and len(h.passage.text) > 220 else (h.passage.text if h.passage else "")
        where = f" p.{h.passage.page}" if h.passage and h.passage.page else ""
        if unit == "passage" and h.passage:
            where += f" #{h.passage.ordinal}"
        trace = " ".join(f"{n}#{r.rank}" for n, r in h.retrievers.items())
        t.add_row(str(h.rank), f"{h.score:.4f}", f"[bold]{h.doc_id}[/]{where}\n{h.title}\n[dim]{trace}[/]", snippet)
    out.print(t)


@app.command()
def ask(
    question: str = typer.Argument(...),
    index: Path = INDEX_OPT,
    k: int = typer.Option(8, "-k", help="hits retrieved to ground the answer"),
    mode: str = typer.Option("auto"),
    unit: str = typer.Option(
        "passage", help="passage|page|document: the sources (best passages across the collection, PDF pages, or "
        "each document's best passage)"
    ),
    llm_model: Optional[str] = typer.Option(None, envvar="LATTE_LLM_MODEL", help="GGUF file run in-process (llama.cpp)"),
    llm_url: Optional[str] = typer.Option(None, envvar="LATTE_LLM_URL", help="OpenAI-compatible server base URL"),
    llm_name: str = typer.Option("local", envvar="LATTE_LLM_NAME", help="model name sent to the server"),
    n_ctx: int = typer.Option(4096, help="context window (in-process model)"),
    max_tokens: int = typer.Option(512),
    floor: Optional[float] = typer.Option(None, help="hits must have a relevance above this to be used (dense cosine: "
                                          "0.3, BM25 share: 0.1 on SciFact; see README); below it: I don't know"),
    stream: bool = typer.Option(False, "--stream", help="print tokens as they come"),
    device: str = typer.Option("auto"),
    as_json: bool = typer.Option(False, "--json", help="answer, citations and the retrieval trace as JSON"),
) -> None:
    """Answer a question from the index with numbered citations (extractive when no LLM is configured)."""
    from rag.answer import answer as make_answer
    from rag.planner import SearchOptions
    from rag.service import make_generator, open_searcher

    planner = open_searcher(index, device=device)
    res = planner.search(question, SearchOptions(k=k, mode=mode, unit=unit))
    gen = make_generator(llm_model=llm_model, llm_url=llm_url, llm_name=llm_name, n_ctx=n_ctx)
    if stream and not as_json:
        final = None
        for ev in make_answer(question, res.hits, gen, max_tokens=max_tokens, floor=floor, stream=True):
            if ev.type == "token":
                sys.stdout.write(ev.data["text"])
                sys.stdout.flush()
            elif ev.type == "done":
                final = ev.data
            elif ev.type == "error":
                raise UserError(f"generation failed: {ev.data.get('message')}")
        sys.stdout.write("\n")
        if final:
            _print_sources(final.get("citations", []))
        return
    ans = make_answer(question, res.hits, gen, max_tokens=max_tokens, floor=floor)
    if as_json:
        _print_json({**ans.to_dict(), "retrieval": res.to_dict()})
        return
    out.print(ans.text)
    from dataclasses import asdict

    _print_sources([asdict(c) for c in ans.citations])


def _print_sources(citations: list[dict]) -> None:
    if not citations:
        return
    out.print("\n[bold]sources[/]")
    for c in citations:
        where = f", page {c['page']}" if c.get("page") else f", passage {c.get('passage_ordinal')}"
        snippet = (c.get("snippet") or "")[:160]
        out.print(f"[{c['number']}] {c['doc_id']} — {c.get('title') or ''}{where}\n    [dim]{snippet}[/]")


@app.command()
def info(index: Path = INDEX_OPT, as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the manifest, counts, models and sizes of an index."""
    from rag.service import index_info

    data = index_info(index)
    if as_json:
        _print_json(data)
        return
    t = Table(title=f"latte index {index}", show_header=False)
    for key in ("format", "format_version", "version", "committed_at"):
        t.add_row(key, str(data["manifest"].get(key)))
    for key, v in data["counts"].items():
        t.add_row(f"count: {key}", f"{v:,}" if isinstance(v, int) else str(v))
    for key, v in data["sizes"].items():
        t.add_row(f"size: {key}", str(v))
    for key, v in data["manifest"].get("models", {}).items():
        t.add_row(f"model: {key}", str(v.get("name") if isinstance(v, dict) else v))
    out.print(t)


@app.command()
def delete(
    ids: list[str] = typer.Argument(..., help="document ids"),
    index: Path = INDEX_OPT,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Delete documents by id from every index (one atomic commit)."""
    from rag.service import delete_ids

    deleted, missing, version = delete_ids(index, ids)
    if as_json:
        _print_json({"deleted": deleted, "unknown": missing, "version": version})
    else:
        out.print(f"deleted {len(deleted)} document(s); version {version}")
        if missing:
            console.print(f"[yellow]unknown id(s), nothing deleted for them:[/] {', '.join(missing)}")
    if missing and not deleted:
        raise typer.Exit(1)


@app.command()
def optimize(
    index: Path = INDEX_OPT,
    max_segments: int = typer.Option(10, "--max-segments", min=1, help="merge until each index has at most this many segments"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Merge segments (BM25, dense, sparse, tensors, documents), dropping deleted documents' data; one atomic commit.

    Searches keep running on the previous version meanwhile; an interrupted optimize loses nothing."""
    from indexers.folder import IndexFolder
    from indexers.writer import IndexWriter

    if not IndexFolder(index).exists():
        raise UserError(f"no index at {index}; build one with: latte ingest PATH --index {index}")
    with IndexWriter(index, auto_merge=False) as w:
        before = {k: len(c.segments) for k, c in w.components.items() if hasattr(c, "segments")}
        version = w.merge(max_segments=max_segments) or w.version
        after = {k: len(c.segments) for k, c in w.components.items() if hasattr(c, "segments")}
    if as_json:
        _print_json({"version": version, "segments_before": before, "segments_after": after})
    else:
        out.print(f"version {version}: segments " + ", ".join(f"{k} {before[k]} -> {after[k]}" for k in after))


@app.command()
def serve(
    index: Optional[str] = typer.Option(
        None, "--index", "-i", help="index folder (LATTE_INDEX), or s3://bucket/prefix: a read replica that mirrors it "
        "locally and follows its new versions (LATTE_INDEX_URL)"),
    host: Optional[str] = typer.Option(None, help="bind address (LATTE_HOST, default 127.0.0.1)"),
    port: Optional[int] = typer.Option(None, help="port (LATTE_PORT, default 8000)"),
    settings_file: Optional[Path] = typer.Option(None, "--settings", help="settings file: .env, .json or .toml"),
    profile: Optional[str] = typer.Option(None, help="profile for a new index (LATTE_PROFILE)"),
    device: Optional[str] = typer.Option(None, help="auto|cpu|cuda[:n] (LATTE_DEVICE)"),
) -> None:
    """Serve the REST API and the search-and-ask web page (models and index loaded once)."""
    from api.serve import serve as run_server

    run_server(index, host, port, settings_file=settings_file, profile=profile, device=device)


@app.command("plaid-build")
def plaid_build(
    index: Path = INDEX_OPT,
    checkpoint: str = typer.Option(..., help="colbert-ai checkpoint (HF_ColBERT layout) folder"),
    nbits: int = typer.Option(2, help="PLAID residual bits (the checkpoint's dim must be a multiple of 8 * nbits)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Build a PLAID index (colbert-ai, extra [colbert]) over the index's passages, for --mode plaid."""
    from rag.plaid import build_plaid

    meta = build_plaid(index, checkpoint, nbits=nbits)
    if as_json:
        _print_json(meta)
    else:
        out.print(f"PLAID index of {meta['passages']:,} passages for version {meta['version']}; search with --mode plaid")


@app.command("eval")
def eval_cmd(
    dataset: str = typer.Option("beir", help="beir|mldr|pdf-pages (PDFs in DIR/pdfs ingested by latte, pages judged)"),
    data_dir: Path = typer.Option(..., help="dataset folder (BEIR layout, MLDR's official layout, or pdfs/ + queries + qrels)"),
    split: str = typer.Option("test"),
    lang: str = typer.Option("en", help="MLDR language (ar de en es fr hi it ja ko pt ru th zh): documents and "
                             "queries are analyzed as it; BEIR collections are detected per document"),
    pipelines: str = typer.Option("bm25", help="comma-separated pipelines, e.g. bm25,dense,bm25+dense,bm25+dense+colbert"),
    index: Optional[Path] = typer.Option(None, "--index", "-i", help="index folder to build or reuse (default: a cache folder)"),
    out_dir: Path = typer.Option(Path("runs/eval"), "--out", help="where results.md / results.json / ndcg.png go"),
    profile: Optional[str] = typer.Option(None, help="model profile (default: the one the pipelines need)"),
    max_queries: Optional[int] = typer.Option(None, help="evaluate a sample of queries (figures then not comparable)"),
    rerank_depth: int = typer.Option(100, help="candidates reranked by MaxSim in +colbert pipelines"),
    quantization: str = typer.Option("binary", help="binary|float16 tensors for MaxSim"),
    keep_float16: bool = typer.Option(
        False, "--keep-float16", help="a new index also keeps float16 token values (benchmarks/tune_rerank.py)"),
    rerank_combine: str = typer.Option("weighted", help="replace|rrf|weighted: how MaxSim meets the first stage"),
    rerank_weight: float = typer.Option(0.65, help="MaxSim share for rrf/weighted combination"),
    depth: int = typer.Option(1000, help="first-stage depth per retriever"),
    device: str = typer.Option("auto"),
    unit: Optional[str] = typer.Option(None, help="document|passage|page (default: what the dataset judges)"),
    pages_as_documents: bool = typer.Option(
        False, "--pages-as-documents", help="pdf-pages only: ingest every page as its own document (the reference)"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Evaluate retrieval pipelines with ir-measures (nDCG@10, R@100, R@1000, MRR@10; pages: R@10 for R@1000)."""
    from evals.runner import run_eval

    res = run_eval(
        dataset=dataset, data_dir=data_dir, split=split, lang=lang,
        pipelines=[p.strip() for p in pipelines.split(",") if p.strip()],
        index=index, out_dir=out_dir, profile=profile, max_queries=max_queries, rerank_depth=rerank_depth,
        quantization=quantization, keep_float16=keep_float16, depth=depth, device=device, progress=not as_json,
        rerank_combine=rerank_combine, rerank_weight=rerank_weight, unit=unit, pages_as_documents=pages_as_documents,
    )
    if as_json:
        _print_json(res)
    else:
        out.print(res["markdown"])
        out.print(f"written: {', '.join(str(p) for p in res['files'].values())}")


def main() -> None:
    from indexers.folder import IndexFormatError, IndexLocked, IndexNotFound

    try:
        app()
    except (UserError, IndexNotFound, IndexLocked, IndexFormatError, FileNotFoundError, ValueError, ImportError) as e:
        console.print(f"[red]error:[/] {e}")
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; the last committed version is intact[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
