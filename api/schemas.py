"""Request and response schemas of the REST API (with the examples the OpenAPI page shows).

Static bounds here are hard limits every server has; the per-server limits (``LATTE_MAX_K``...) are checked in
the routes against the settings and answered with a 422 that names the setting.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from rag.retrievers import ALL_FIRST_STAGE, first_stage_names, mode_pattern, ranker_names

Scalar = Union[StrictStr, StrictInt, StrictFloat, StrictBool, None]
FilterCond = Union[Scalar, list[Scalar], dict[Literal["eq", "ne", "in", "gt", "gte", "lt", "lte"], Union[Scalar, list[Scalar]]]]
MODE_PATTERN = mode_pattern(from_ingest=True)  # from the retriever table (rag/retrievers.py)
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
HARD_MAX_K = 10_000
HARD_MAX_DEPTH = 1_000_000
HARD_MAX_QUERY = 100_000


def unsafe_json(value: Any, where: str = "") -> str | None:
    """Why ``value`` (decoded JSON of free form, such as metadata) cannot be stored and sent back, or None: a
    non-finite number (``1e400``, ``NaN``) or a string with a lone surrogate (``"\\ud800"``), anywhere inside.

    >>> unsafe_json({"a": [1, {"b": float("inf")}]}, "metadata")
    'metadata.a[1].b is a non-finite number (inf); send a finite number'
    >>> "lone surrogate" in unsafe_json({chr(0xDC00): 1}), unsafe_json({"x": "ok"})
    (True, None)
    """
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return f"{path or 'the value'} is a non-finite number ({v}); send a finite number"
        if isinstance(v, str) and not _encodable(v):
            return f"{path or 'a string'} has a lone surrogate (invalid Unicode); send valid UTF-8 text"
        if isinstance(v, dict):
            for k in v:
                if isinstance(k, str) and not _encodable(k):
                    shown = k[:40].encode("utf-8", "backslashreplace").decode()
                    return f"{path or 'the body'} has a key {shown!r} with a lone surrogate (invalid Unicode); send valid UTF-8 text"
            stack.extend((f"{path}.{k}" if path else str(k), item) for k, item in reversed(v.items()))
        elif isinstance(v, list):
            stack.extend((f"{path}[{i}]", v[i]) for i in range(len(v) - 1, -1, -1))  # first problem first
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _In(BaseModel):
    """A request body: unknown fields refused, and nothing anywhere inside that cannot be stored or sent back
    (non-finite numbers, lone surrogates: see ``unsafe_json``), so such input is a 422, never a 500."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _safe_json(cls, data: Any) -> Any:
        problem = unsafe_json(data)
        if problem is not None:
            raise ValueError(problem)
        return data


class SearchOptionsIn(_In):
    k: int = Field(10, ge=1, le=HARD_MAX_K, description="hits to return (at most LATTE_MAX_K)")
    mode: str = Field(
        "auto",
        pattern=MODE_PATTERN,
        description=" | ".join([*ALL_FIRST_STAGE, *ranker_names(from_ingest=True), *first_stage_names()])
        + f", or a '+' list such as {'+'.join(first_stage_names()[:2])}",
    )
    depth: int = Field(1000, ge=1, le=HARD_MAX_DEPTH, description="first-stage candidates per retriever (at most LATTE_MAX_DEPTH)")
    fusion: Literal["rrf", "weighted"] = Field("rrf", description="how first-stage rankings are fused")
    rrf_k: float = Field(60.0, gt=0, le=1e6, description="RRF constant k")
    weights: dict[Literal["bm25", "dense", "sparse"], float] | None = Field(
        None, description="per-retriever weights for fusion, e.g. {\"bm25\": 1, \"dense\": 2}"
    )
    rerank: bool | None = Field(None, description="MaxSim rerank; null: on where the index has tensors, except for mode bm25 (lexical only)")
    rerank_depth: int = Field(100, ge=1, le=HARD_MAX_DEPTH, description="fused candidates reranked (at most LATTE_MAX_RERANK_DEPTH)")
    filters: dict[str, FilterCond] | None = Field(
        None,
        description="metadata filters: value (equality), list (any of) or operators eq, ne, in, gt, gte, lt, lte",
        examples=[{"year": {"gte": 2020}, "lang": "en"}],
    )
    unit: Literal["document", "passage", "page"] = Field(
        "document",
        description="what a hit is: a document (its best passage decides), a passage, or a PDF page (scored as its "
        "best passage; passages of documents without pages stand for themselves)",
    )
    lang: str | None = Field(
        None,
        max_length=40,
        description="the query's language for BM25 (ISO 639-1 code or English name, e.g. \"ru\"); null: the index's "
        "language, or the languages it holds in the query's script",
        examples=["zh"],
    )

    @field_validator("lang")
    @classmethod
    def _lang(cls, lang: str | None) -> str | None:
        if lang is None:
            return None
        from indexers.analyzers.table import normalize_language

        return normalize_language(lang)  # a ValueError naming the known codes is a 422

    @field_validator("filters")
    @classmethod
    def _filters(cls, filters: dict[str, Any] | None) -> dict[str, Any] | None:
        for field, cond in (filters or {}).items():
            if isinstance(cond, dict):
                if not cond:
                    raise ValueError(f"filter on {field!r} has no operator; use eq, ne, in, gt, gte, lt or lte")
                if "in" in cond and not isinstance(cond["in"], list):
                    raise ValueError(f"filter on {field!r}: 'in' takes a list, e.g. {{\"in\": [\"a\", \"b\"]}}")
                for op in ("gt", "gte", "lt", "lte"):
                    if isinstance(cond.get(op), list):
                        raise ValueError(f"filter on {field!r}: {op!r} takes one value, not a list")
        return filters


class SearchRequest(SearchOptionsIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"query": "vitamin D and bone fractures", "k": 5},
                {"query": "quarterly revenue", "k": 10, "mode": "bm25+dense", "rerank": True, "filters": {"year": 2023}},
            ]
        }
    )
    query: str = Field(..., min_length=1, max_length=HARD_MAX_QUERY, description="the search query (at most LATTE_MAX_QUERY_CHARS)")

    @field_validator("query")
    @classmethod
    def _query(cls, q: str) -> str:
        if not q.strip():
            raise ValueError("the query is blank; type some words to search for")
        return q


class PassageOut(BaseModel):
    ordinal: int = Field(description="passage number within its document, from 0")
    start: int = Field(description="character offset where the passage starts in the document text")
    end: int = Field(description="character offset where it ends (exclusive)")
    page: int | None = Field(None, description="1-based PDF page, or null")
    text: str


class RetrieverScoreOut(BaseModel):
    rank: int = Field(description="1-based rank this retriever gave the document")
    score: float


class HitOut(BaseModel):
    doc_id: str
    unit: Literal["document", "passage", "page"] = Field("document", description="what this hit ranks")
    score: float = Field(description="final score (fused, or reranked): orders one query's hits, not comparable across queries")
    relevance: float | None = Field(
        None, description="relevance on a scale shared by all queries (see the response's `relevance`); answer floors compare it"
    )
    rank: int
    title: str = ""
    passage: PassageOut | None = Field(
        None,
        description="unit document: the document's best passage for this query; unit passage: the passage itself; "
        "unit page: the page (its span and text; ordinal names its best passage)",
    )
    retrievers: dict[str, RetrieverScoreOut] = Field(default_factory=dict, description="per-retriever rank and score")
    rerank_score: float | None = Field(None, description="MaxSim score when the hit was reranked")
    metadata: dict[str, Any] = Field(default_factory=dict)
    page_image_url: str | None = Field(
        None, description="for a PDF passage: the relative URL of its page as a PNG (GET /v1/documents/{id}/pages/{page}.png)"
    )


class SearchResponse(BaseModel):
    query: str
    version: int = Field(description="the committed index version searched")
    retrievers: list[str] = Field(description="retrievers that ran")
    timings_ms: dict[str, float] = Field(description="milliseconds per stage: encode, bm25, dense, fusion, rerank, hits")
    relevance: str | None = Field(
        None, description="what hits' relevance measures: dense_cosine (best passage cosine, -1..1) or bm25_share "
        "(share of the query's maximal BM25 score, 0..1); null when neither ran"
    )
    hits: list[HitOut]


class AnswerRequest(SearchOptionsIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": "Does vitamin D reduce fractures?", "k": 5},
                {"question": "What was Apple's revenue?", "k": 5, "stream": True, "max_tokens": 256},
            ]
        }
    )
    question: str = Field(..., min_length=1, max_length=HARD_MAX_QUERY, description="the question (at most LATTE_MAX_QUERY_CHARS)")
    k: int = Field(5, ge=1, le=HARD_MAX_K, description="hits given to the answer as numbered sources")
    unit: Literal["document", "passage", "page"] = Field(
        "passage",
        description="what the sources are: the best passages across the collection (several may come from one "
        "document), PDF pages, or each document's best passage",
    )
    stream: bool = Field(False, description="true: Server-Sent Events (token..., citations, done; or error)")
    max_tokens: int | None = Field(None, ge=1, le=1_000_000, description="answer length (default LATTE_ANSWER_MAX_TOKENS)")
    temperature: float | None = Field(None, ge=0, le=2, description="sampling temperature (default LATTE_ANSWER_TEMPERATURE)")
    floor: float | None = Field(
        None, description="hits must have a relevance above this to be used (a dense cosine, or a BM25 share: see "
        "SearchResponse.relevance); below it for every hit, the answer says it does not know. null keeps every hit"
    )

    @field_validator("question")
    @classmethod
    def _question(cls, q: str) -> str:
        if not q.strip():
            raise ValueError("the question is blank; ask something")
        return q


class CitationOut(BaseModel):
    number: int = Field(description="the [n] marker in the answer text")
    doc_id: str
    title: str
    passage_ordinal: int | None
    page: int | None
    snippet: str
    start: int | None
    end: int | None
    truncated: bool = False
    passage_ordinals: list[int] = Field(
        default_factory=list, description="every passage the source holds (neighbouring passages are merged)"
    )
    page_image_url: str | None = Field(None, description="for a PDF page: the relative URL of the page as a PNG")


class AnswerResponse(BaseModel):
    question: str
    text: str = Field(description="the answer, citing sources as [n]")
    citations: list[CitationOut] = Field(description="sources the text cites, in order of first citation")
    sources: list[CitationOut] = Field(description="every numbered source given to the model")
    removed_markers: int = Field(description="citation markers that pointed at no source and were removed")
    generator: str = Field(description="the generator's name, 'extractive' or 'none'")
    no_answer: bool
    version: int = Field(description="the committed index version searched")
    retrievers: list[str]
    timings_ms: dict[str, float] = Field(description="search stages; the answer's own timings are in trace")
    trace: dict[str, Any] = Field(default_factory=dict)


class DocumentIn(_In):
    id: str = Field(..., min_length=1, max_length=512, pattern=ID_PATTERN, description="your id for the document")
    text: str = Field(..., description="the document text (at most LATTE_MAX_DOC_CHARS characters)")
    title: str = Field("", max_length=10_000)
    metadata: dict[str, Any] = Field(default_factory=dict, description="filterable fields, e.g. {\"year\": 2023}")

    @field_validator("id")
    @classmethod
    def _id(cls, doc_id: str) -> str:
        from rag.records import id_problem

        problem = id_problem(doc_id)
        if problem is not None:
            raise ValueError(problem)
        return doc_id


class DocumentsRequest(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "documents": [
                        {"id": "note-1", "title": "Vitamin D", "text": "Vitamin D helps calcium absorption.", "metadata": {"year": 2023}},
                        {"id": "note-2", "text": "Late interaction compares every query token with every document token."},
                    ]
                }
            ]
        }
    )
    documents: list[DocumentIn] = Field(..., min_length=1, description="a batch (at most LATTE_MAX_BATCH_DOCS)")


Status = Literal["indexed", "replaced", "unchanged", "dropped", "duplicate"]


class OutcomeOut(BaseModel):
    id: str
    status: Status = Field(description="indexed | replaced (changed, re-indexed) | unchanged | dropped | duplicate")
    rule: str | None = Field(None, description="the rule that dropped it (min_words, exact_duplicate, ...)")
    detail: str | None = Field(None, description="measured value against the threshold")
    duplicate_of: str | None = Field(None, description="the kept document it duplicates")
    source: str | None = None


class ProblemOut(BaseModel):
    source: str
    message: str
    line: int | None = None
    level: str = "error"


class FileOut(BaseModel):
    filename: str = Field(description="the name the client sent")
    saved_as: str = Field(description="the sanitised name (the document id of a text or PDF file)")
    size: int
    documents: list[str] = Field(description="ids of the documents read from the file")
    problems: list[ProblemOut] = Field(default_factory=list)


class IngestResponse(BaseModel):
    version: int = Field(description="the committed version holding these documents")
    counts: dict[Status, int]
    results: list[OutcomeOut]
    problems: list[ProblemOut] = Field(default_factory=list)
    files: list[FileOut] | None = None
    seconds: float


class DocumentOut(BaseModel):
    id: str
    title: str
    text: str
    metadata: dict[str, Any]
    source: str
    pages: list[dict[str, int]] | None = Field(None, description="page spans {page, start, end} of a PDF")
    passages: list[PassageOut]
    version: int


class DeleteResponse(BaseModel):
    id: str
    deleted: bool
    version: int


class IndexOut(BaseModel):
    version: int
    profile: str
    committed_at: float | None
    counts: dict[str, Any]
    models: dict[str, Any]
    sizes: dict[str, str] = Field(description="disk use per component")
    retrievers: list[str] = Field(description="retrievers this index can run")
    rerank: bool = Field(description="whether MaxSim rerank is available")
    generator: str | None = Field(description="the answer generator, or null for extractive answers")
    manifest: dict[str, Any]


class ReadyOut(BaseModel):
    ready: bool
    version: int | None = None
    profile: str | None = None
    encoders: list[str] = Field(default_factory=list)
    generator: str | None = None
    reason: str | None = None


class ErrorOut(BaseModel):
    detail: Any
    request_id: str | None = None
