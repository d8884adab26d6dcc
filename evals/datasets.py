"""Evaluation datasets on disk: BEIR and MLDR, read into one typed record.

Two layouts are read, both as their publishers ship them:

- **BEIR** (``data_dir`` holds ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``).
  Queries are ``{"_id", "text"}`` lines; qrels are tab-separated with a ``query-id corpus-id score``
  header. Qrels are kept exactly as given, scores <= 0 included (ir-measures treats them as judged
  non-relevant), as BEIR's own ``GenericDataLoader`` does.
- **MLDR** (Hugging Face dataset ``Shitao/MLDR``): ``mldr-v1.0-<lang>/{corpus,train,dev,test}.jsonl.gz``
  (gzip or plain ``.jsonl``; gzip is recognised by its magic bytes, not by the name) and, at the
  repository root, ``qrels/qrels.mldr-v1.0-<lang>-<split>.tsv`` (TREC ``qid Q0 docid rel``).
  ``data_dir`` may be the language folder or its parent. Split lines are
  ``{"query_id", "query", "positive_passages": [{"docid", "text"}], "negative_passages": [...]}``.
  When the TSV qrels exist they replace the judgements of the split file entirely.

  Negative passages are **kept** with relevance 0. They are judged non-relevant documents: they add
  no gain and are not counted as relevant, so nDCG, recall and MRR are the same with or without
  them, while keeping them records what the annotators judged (judged@k needs it) and matches the
  qrels FlagEmbedding's own MLDR evaluation builds from these files.

Only queries that have qrels in the split are kept (BEIR's ``queries.jsonl`` holds every split).
Ids are always strings.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SAMPLING_WARNING = (
    "Figures were computed on a sample of the queries; they are not comparable with published "
    "results, which use every query of the split."
)

DATASET_KINDS = ("beir", "mldr", "pdf-pages")
# the result unit each kind is judged at: BEIR and MLDR judge documents, pdf-pages judges PDF pages
DATASET_UNITS = {"beir": "document", "mldr": "document", "pdf-pages": "page"}

_MLDR_LAYOUT = (
    "expected the Hugging Face layout of Shitao/MLDR: <root>/mldr-v1.0-<lang>/corpus.jsonl.gz and "
    "<root>/mldr-v1.0-<lang>/<split>.jsonl.gz (plain .jsonl also accepted), optional qrels in "
    "<root>/qrels/qrels.mldr-v1.0-<lang>-<split>.tsv; pass <root> or <root>/mldr-v1.0-<lang> as data_dir"
)
_PDF_PAGES_LAYOUT = (
    "expected <data_dir>/pdfs/*.pdf, <data_dir>/queries.jsonl ({\"_id\", \"text\"} lines) and "
    "<data_dir>/qrels/<split>.tsv whose corpus-ids are <pdf file stem>#p<zero-based page>"
)
_BEIR_LAYOUT = (
    "expected the BEIR layout: <data_dir>/corpus.jsonl, <data_dir>/queries.jsonl, "
    "<data_dir>/qrels/<split>.tsv (unzip the dataset archive from the BEIR release first)"
)


@dataclass(slots=True)
class EvalDataset:
    """A corpus to ingest plus the queries and judgements of one split.

    ``queries`` holds only queries that have qrels in the split; ``qrels`` maps a query id to
    ``{doc_id: relevance}``. ``sampled_from`` is the query count before :func:`sample_queries`
    (None when every query of the split is present); ``qrels_path`` names the file the qrels came from.
    """

    name: str
    corpus_paths: list[Path]
    corpus_format: Literal["beir", "mldr", "pdf"]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    split: str
    sampled_from: int | None = None
    qrels_path: Path | None = None

    @property
    def is_sampled(self) -> bool:
        return self.sampled_from is not None

    @property
    def num_judgements(self) -> int:
        return sum(len(docs) for docs in self.qrels.values())


def _open_text(path: Path) -> io.TextIOBase:
    """Open ``path`` for reading text, gunzipping it when it starts with the gzip magic bytes."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")  # -sig: a byte-order mark is dropped, not read as text


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; a bad line raises naming file and line."""
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or remove the line") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def _field(record: dict[str, Any], key: str, path: Path, number: int) -> Any:
    if key not in record:
        raise ValueError(f"{path}:{number}: missing field {key!r} (fields present: {sorted(record)})")
    return record[key]


def read_qrels_tsv(path: Path) -> dict[str, dict[str, int]]:
    """Read qrels from BEIR TSV (``query-id corpus-id score``) or TREC (``qid Q0 docid rel``) lines.

    Columns are tab-separated when the line has a tab, else whitespace-separated; a header line
    (first column ``query-id``/``query_id``/``qid``) is skipped; a repeated pair keeps the last value.
    """
    qrels: dict[str, dict[str, int]] = {}
    with _open_text(Path(path)) as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            parts = [p.strip() for p in (stripped.split("\t") if "\t" in stripped else stripped.split())]
            if number == 1 and parts[0].lower() in ("query-id", "query_id", "qid"):
                continue
            if len(parts) == 3:
                qid, doc_id, rel = parts
            elif len(parts) == 4:
                qid, _, doc_id, rel = parts
            else:
                raise ValueError(
                    f"{path}:{number}: expected 3 columns (query-id corpus-id score) or 4 (qid Q0 docid rel), "
                    f"got {len(parts)}: {line.rstrip()!r}"
                )
            try:
                relevance = int(rel)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: relevance {rel!r} is not an integer") from exc
            qrels.setdefault(qid, {})[doc_id] = relevance
    return qrels


def _check_queries_cover(
    qrels: dict[str, dict[str, int]], queries: dict[str, str], qrels_src: Path, q_src: Path
) -> None:
    missing = [qid for qid in qrels if qid not in queries]
    if missing:
        raise ValueError(
            f"{qrels_src} judges {len(missing)} queries that {q_src} does not contain "
            f"(first: {missing[:5]}); the files come from different releases or splits"
        )


def _first_existing(candidates: list[Path]) -> Path | None:
    return next((p for p in candidates if p.is_file()), None)


def load_beir(data_dir: Path, split: str = "test") -> EvalDataset:
    """Load a BEIR dataset folder; only queries judged in ``qrels/<split>.tsv`` are kept."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"BEIR folder {data_dir} does not exist; {_BEIR_LAYOUT}")
    corpus = _first_existing([data_dir / "corpus.jsonl", data_dir / "corpus.jsonl.gz"])
    queries_path = _first_existing([data_dir / "queries.jsonl", data_dir / "queries.jsonl.gz"])
    qrels_path = data_dir / "qrels" / f"{split}.tsv"
    if corpus is None or queries_path is None:
        missing = [n for n, p in (("corpus.jsonl", corpus), ("queries.jsonl", queries_path)) if p is None]
        raise FileNotFoundError(f"{data_dir}: missing {', '.join(missing)}; {_BEIR_LAYOUT}")
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (data_dir / "qrels").glob("*.tsv"))
        raise FileNotFoundError(
            f"no qrels for split {split!r}: {qrels_path} does not exist (splits found: {available or 'none'}); "
            f"{_BEIR_LAYOUT}"
        )
    qrels = read_qrels_tsv(qrels_path)
    queries: dict[str, str] = {}
    for number, record in _iter_jsonl(queries_path):
        qid = str(_field(record, "_id", queries_path, number))
        if qid in qrels:
            queries[qid] = str(_field(record, "text", queries_path, number))
    _check_queries_cover(qrels, queries, qrels_path, queries_path)
    return EvalDataset(
        name=f"beir/{data_dir.resolve().name}",
        corpus_paths=[corpus],
        corpus_format="beir",
        queries=queries,
        qrels={qid: qrels[qid] for qid in queries},
        split=split,
        qrels_path=qrels_path,
    )


def _mldr_language_dir(data_dir: Path, lang: str) -> Path:
    """The ``mldr-v1.0-<lang>`` folder: ``data_dir`` itself or the one inside it."""
    if not data_dir.is_dir():
        raise FileNotFoundError(f"MLDR folder {data_dir} does not exist; {_MLDR_LAYOUT}")
    named = re.fullmatch(r"mldr-v1\.0-(\w+)", data_dir.name)
    if named:
        if named.group(1) != lang:
            raise ValueError(f"{data_dir} holds MLDR language {named.group(1)!r} but lang={lang!r} was asked for")
        return data_dir
    inner = data_dir / f"mldr-v1.0-{lang}"
    if inner.is_dir():
        return inner
    if (data_dir / "corpus.jsonl.gz").is_file() or (data_dir / "corpus.jsonl").is_file():
        return data_dir  # a language folder under another name
    raise FileNotFoundError(f"{data_dir}: no folder mldr-v1.0-{lang} and no corpus.jsonl(.gz); {_MLDR_LAYOUT}")


def _mldr_file(lang_dir: Path, stem: str) -> Path:
    candidates = [lang_dir / f"{stem}.jsonl.gz", lang_dir / f"{stem}.jsonl"]
    found = _first_existing(candidates)
    if found is None:
        raise FileNotFoundError(f"looked for {' and '.join(map(str, candidates))}, found neither; {_MLDR_LAYOUT}")
    return found


def load_mldr(data_dir: Path, split: str = "test", lang: str = "en") -> EvalDataset:
    """Load MLDR in its Hugging Face layout; TSV qrels, when present, replace the split file's judgements."""
    lang_dir = _mldr_language_dir(Path(data_dir), lang)
    corpus = _mldr_file(lang_dir, "corpus")
    split_path = _mldr_file(lang_dir, split)
    tsv_name = f"qrels.mldr-v1.0-{lang}-{split}.tsv"
    tsv = _first_existing(
        [
            lang_dir / tsv_name,
            lang_dir / "qrels" / tsv_name,
            lang_dir.parent / "qrels" / tsv_name,
            lang_dir.parent / tsv_name,
        ]
    )
    texts: dict[str, str] = {}
    judged: dict[str, dict[str, int]] = {}
    for number, record in _iter_jsonl(split_path):
        qid = str(_field(record, "query_id", split_path, number))
        texts[qid] = str(_field(record, "query", split_path, number))
        if tsv is None:
            docs: dict[str, int] = {}
            for passage in record.get("negative_passages") or []:
                docs[str(_field(passage, "docid", split_path, number))] = 0
            for passage in _field(record, "positive_passages", split_path, number) or []:
                docs[str(_field(passage, "docid", split_path, number))] = 1  # listed both ways: relevant
            if docs:
                judged[qid] = docs
    qrels = read_qrels_tsv(tsv) if tsv is not None else judged
    _check_queries_cover(qrels, texts, tsv or split_path, split_path)
    queries = {qid: text for qid, text in texts.items() if qid in qrels}
    return EvalDataset(
        name=f"mldr/{lang}",
        corpus_paths=[corpus],
        corpus_format="mldr",
        queries=queries,
        qrels={qid: qrels[qid] for qid in queries},
        split=split,
        qrels_path=tsv or split_path,
    )


def page_id(doc_id: str, page: int) -> str:
    """The qrels corpus-id of a PDF page: file stem, ``#p``, zero-based page (``page`` here is 1-based).

    >>> page_id("filings/3M_2018_10K.pdf", 1)
    '3M_2018_10K#p0'
    """
    return f"{Path(doc_id).stem}#p{int(page) - 1}"


def load_pdf_pages(data_dir: Path, split: str = "test") -> EvalDataset:
    """Page retrieval from PDFs (FinanceBench layout): ``pdfs/`` is ingested by latte, pages are judged.

    Qrels corpus-ids are ``<pdf stem>#p<zero-based page>`` (see :func:`page_id`); a qrels line naming a PDF that
    ``pdfs/`` lacks is an error (the ranking could never find it)."""
    data_dir = Path(data_dir)
    pdfs = data_dir / "pdfs"
    queries_path = _first_existing([data_dir / "queries.jsonl", data_dir / "queries.jsonl.gz"])
    qrels_path = data_dir / "qrels" / f"{split}.tsv"
    if not pdfs.is_dir() or queries_path is None or not qrels_path.is_file():
        missing = [str(p) for p, ok in ((pdfs, pdfs.is_dir()), (data_dir / "queries.jsonl", queries_path is not None),
                                        (qrels_path, qrels_path.is_file())) if not ok]
        raise FileNotFoundError(f"{data_dir}: missing {', '.join(missing)}; {_PDF_PAGES_LAYOUT}")
    stems = {p.stem for p in pdfs.rglob("*") if p.suffix.lower() == ".pdf"}
    qrels = read_qrels_tsv(qrels_path)
    for qid, judged in qrels.items():
        for cid in judged:
            stem, sep, page = cid.rpartition("#p")
            if not sep or not page.isdigit():
                raise ValueError(f"{qrels_path}: corpus-id {cid!r} of query {qid} is not <pdf stem>#p<page>; {_PDF_PAGES_LAYOUT}")
            if stem not in stems:
                raise ValueError(f"{qrels_path}: query {qid} judges {cid!r} but {pdfs} has no {stem}.pdf")
    queries: dict[str, str] = {}
    for number, record in _iter_jsonl(queries_path):
        qid = str(_field(record, "_id", queries_path, number))
        if qid in qrels:
            queries[qid] = str(_field(record, "text", queries_path, number))
    _check_queries_cover(qrels, queries, qrels_path, queries_path)
    return EvalDataset(
        name=f"pdf-pages/{data_dir.resolve().name}",
        corpus_paths=[pdfs],
        corpus_format="pdf",
        queries=queries,
        qrels={qid: qrels[qid] for qid in queries},
        split=split,
        qrels_path=qrels_path,
    )


def load_dataset(kind: str, data_dir: Path, split: str, lang: str = "en") -> EvalDataset:
    """Load a dataset by kind: ``"beir"``, ``"mldr"`` or ``"pdf-pages"`` (``lang`` applies to MLDR only)."""
    if kind == "beir":
        return load_beir(data_dir, split)
    if kind == "mldr":
        return load_mldr(data_dir, split, lang)
    if kind == "pdf-pages":
        return load_pdf_pages(data_dir, split)
    raise ValueError(f"unknown dataset kind {kind!r}; use one of {DATASET_KINDS}")


def sample_queries(ds: EvalDataset, max_queries: int, seed: int = 0) -> EvalDataset:
    """Keep a deterministic random subset of at most ``max_queries`` queries (and their qrels).

    The subset depends only on the query ids and ``seed``, not on file order; kept queries stay in
    their original order. When the dataset already has ``max_queries`` or fewer, it is returned as is.
    Callers should print :data:`SAMPLING_WARNING` when ``result.is_sampled``.

    >>> queries = {"a": "x", "b": "y", "c": "z"}
    >>> ds = EvalDataset("toy", [], "beir", queries, {q: {"d": 1} for q in queries}, "test")
    >>> small = sample_queries(ds, 2)
    >>> len(small.queries), small.sampled_from, set(small.qrels) == set(small.queries)
    (2, 3, True)
    """
    if max_queries < 1:
        raise ValueError(f"max_queries must be at least 1, got {max_queries}")
    if len(ds.queries) <= max_queries:
        return ds
    chosen = set(random.Random(seed).sample(sorted(ds.queries), max_queries))
    queries = {qid: text for qid, text in ds.queries.items() if qid in chosen}
    return dataclasses.replace(
        ds,
        queries=queries,
        qrels={qid: dict(ds.qrels[qid]) for qid in queries},
        sampled_from=ds.sampled_from if ds.sampled_from is not None else len(ds.queries),
    )


def dataset_meta(ds: EvalDataset) -> dict[str, Any]:
    """Lines for a report header: dataset, split, counts, and the sampling warning when sampled."""
    meta: dict[str, Any] = {
        "dataset": ds.name,
        "split": ds.split,
        "queries": len(ds.queries),
        "judgements": ds.num_judgements,
        "corpus": [str(p) for p in ds.corpus_paths],
    }
    if ds.is_sampled:
        meta["queries"] = f"{len(ds.queries)} sampled from {ds.sampled_from}"
        meta["warning"] = SAMPLING_WARNING
    return meta
