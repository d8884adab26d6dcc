"""evals.datasets: BEIR and MLDR layouts written in tmp_path, plus the real SciFact when present."""

from __future__ import annotations

import doctest
import gzip
import json
from pathlib import Path

import pytest

import evals.datasets
from evals.datasets import (
    SAMPLING_WARNING,
    EvalDataset,
    dataset_meta,
    load_beir,
    load_dataset,
    load_mldr,
    read_qrels_tsv,
    sample_queries,
)

SCIFACT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "scifact"


def _jsonl(path: Path, records: list[dict], *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _beir(root: Path) -> Path:
    _jsonl(root / "corpus.jsonl", [{"_id": f"d{i}", "title": "", "text": f"doc {i}"} for i in range(4)])
    _jsonl(
        root / "queries.jsonl",
        [
            {"_id": "q1", "text": "one"},
            {"_id": "q2", "text": "two"},
            {"_id": "q3", "text": "three"},
            {"_id": 4, "text": "four"},
        ],
    )
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\nq1\td1\t0\n4\td2\t2\n")
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td3\t1\n")
    return root


def test_doctests_pass():
    assert doctest.testmod(evals.datasets).failed == 0


def test_load_beir_keeps_only_judged_queries_and_all_scores(tmp_path):
    ds = load_beir(_beir(tmp_path / "toy"), "test")
    assert ds.name == "beir/toy" and ds.split == "test" and ds.corpus_format == "beir"
    assert ds.corpus_paths == [tmp_path / "toy" / "corpus.jsonl"]
    assert ds.queries == {"q1": "one", "4": "four"}  # q2 is train-only, q3 unjudged; int id read as str
    assert ds.qrels == {"q1": {"d0": 1, "d1": 0}, "4": {"d2": 2}}  # score 0 kept as given
    assert ds.num_judgements == 3 and not ds.is_sampled
    assert load_dataset("beir", tmp_path / "toy", "train").queries == {"q2": "two"}


def test_load_beir_errors_name_what_is_missing(tmp_path):
    root = _beir(tmp_path / "toy")
    with pytest.raises(FileNotFoundError, match=r"split 'dev'.*splits found: \['test', 'train'\]"):
        load_beir(root, "dev")
    (root / "qrels" / "test.tsv").write_text("q9\td0\t1\n")
    with pytest.raises(ValueError, match="judges 1 queries that .* does not contain"):
        load_beir(root, "test")
    (root / "corpus.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="missing corpus.jsonl"):
        load_beir(root, "train")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_beir(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown dataset kind 'msmarco'"):
        load_dataset("msmarco", root, "test")


def test_bad_json_line_names_file_and_line(tmp_path):
    root = _beir(tmp_path / "toy")
    with open(root / "queries.jsonl", "a") as handle:
        handle.write("{not json\n")
    with pytest.raises(ValueError, match=r"queries.jsonl:5: not valid JSON"):
        load_beir(root)


def _mldr_split_records() -> list[dict]:
    return [
        {
            "query_id": "q-en-1",
            "query": "first question",
            "positive_passages": [{"docid": "doc-en-1", "text": "long text"}],
            "negative_passages": [{"docid": "doc-en-2", "text": "other"}, {"docid": "doc-en-3", "text": "more"}],
        },
        {
            "query_id": "q-en-2",
            "query": "second question",
            "positive_passages": [{"docid": "doc-en-3", "text": "x"}],
            "negative_passages": [],
        },
        {"query_id": "q-en-3", "query": "unjudged question", "positive_passages": [], "negative_passages": []},
    ]


def _mldr(root: Path, *, gz: bool = True, with_tsv: bool = True) -> Path:
    lang_dir = root / "mldr-v1.0-en"
    suffix = ".jsonl.gz" if gz else ".jsonl"
    _jsonl(lang_dir / f"corpus{suffix}", [{"docid": f"doc-en-{i}", "text": f"text {i}"} for i in range(1, 5)], gz=gz)
    _jsonl(lang_dir / f"test{suffix}", _mldr_split_records(), gz=gz)
    _jsonl(lang_dir / "dev.jsonl", _mldr_split_records()[:1])  # plain file beside gzip ones
    if with_tsv:
        (root / "qrels").mkdir(parents=True)
        # TREC layout; differs from the split file on purpose (q-en-1 -> doc-en-4) to show it takes precedence.
        (root / "qrels" / "qrels.mldr-v1.0-en-test.tsv").write_text("q-en-1\tQ0\tdoc-en-4\t1\nq-en-2 Q0 doc-en-3 1\n")
    return root


@pytest.mark.parametrize("gz", [True, False])
def test_load_mldr_from_parent_uses_tsv_qrels(tmp_path, gz):
    root = _mldr(tmp_path / "MLDR", gz=gz)
    ds = load_mldr(root, "test", "en")
    assert ds.name == "mldr/en" and ds.corpus_format == "mldr" and ds.split == "test"
    assert ds.corpus_paths == [root / "mldr-v1.0-en" / ("corpus.jsonl.gz" if gz else "corpus.jsonl")]
    assert ds.queries == {"q-en-1": "first question", "q-en-2": "second question"}
    assert ds.qrels == {"q-en-1": {"doc-en-4": 1}, "q-en-2": {"doc-en-3": 1}}
    assert ds.qrels_path == root / "qrels" / "qrels.mldr-v1.0-en-test.tsv"


def test_load_mldr_from_language_folder_finds_sibling_qrels(tmp_path):
    root = _mldr(tmp_path / "MLDR")
    ds = load_dataset("mldr", root / "mldr-v1.0-en", "test", lang="en")
    assert ds.qrels == {"q-en-1": {"doc-en-4": 1}, "q-en-2": {"doc-en-3": 1}}


def test_load_mldr_without_tsv_reads_passages_and_keeps_negatives(tmp_path):
    root = _mldr(tmp_path / "MLDR", with_tsv=False)
    ds = load_mldr(root, "test")
    assert ds.queries == {"q-en-1": "first question", "q-en-2": "second question"}  # q-en-3 has no judgements
    assert ds.qrels == {"q-en-1": {"doc-en-1": 1, "doc-en-2": 0, "doc-en-3": 0}, "q-en-2": {"doc-en-3": 1}}
    assert ds.qrels_path == root / "mldr-v1.0-en" / "test.jsonl.gz"
    dev = load_mldr(root, "dev")
    assert list(dev.queries) == ["q-en-1"]


def test_load_mldr_tsv_inside_language_folder_and_three_columns(tmp_path):
    root = _mldr(tmp_path / "MLDR", with_tsv=False)
    (root / "mldr-v1.0-en" / "qrels.mldr-v1.0-en-test.tsv").write_text("q-en-2 doc-en-2 1\n")
    ds = load_mldr(root / "mldr-v1.0-en", "test")
    assert ds.qrels == {"q-en-2": {"doc-en-2": 1}} and list(ds.queries) == ["q-en-2"]


def test_load_mldr_errors(tmp_path):
    root = _mldr(tmp_path / "MLDR")
    with pytest.raises(FileNotFoundError, match=r"train\.jsonl\.gz and .*train\.jsonl, found neither.*Shitao/MLDR"):
        load_mldr(root, "train")
    with pytest.raises(FileNotFoundError, match=r"no folder mldr-v1\.0-de"):
        load_mldr(root, "test", lang="de")
    with pytest.raises(ValueError, match="holds MLDR language 'en' but lang='zh'"):
        load_mldr(root / "mldr-v1.0-en", "test", lang="zh")
    (root / "qrels" / "qrels.mldr-v1.0-en-test.tsv").write_text("q-en-9 Q0 doc-en-1 1\n")
    with pytest.raises(ValueError, match="judges 1 queries"):
        load_mldr(root, "test")
    (root / "qrels" / "qrels.mldr-v1.0-en-test.tsv").write_text("q-en-1 doc-en-1\n")
    with pytest.raises(ValueError, match="expected 3 columns"):
        load_mldr(root, "test")
    (root / "mldr-v1.0-en" / "corpus.jsonl.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"corpus\.jsonl\.gz and .*corpus\.jsonl, found neither"):
        load_mldr(root, "test")


def test_read_qrels_tsv_tolerates_bom_trailing_tabs_and_gzip(tmp_path):
    plain = tmp_path / "q.tsv"
    plain.write_text("\ufeffquery-id\tcorpus-id\tscore\nq\td 1\t2\t\n\nq\te\t0\n", encoding="utf-8")
    zipped = tmp_path / "q.tsv.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_qrels_tsv(plain) == read_qrels_tsv(zipped) == {"q": {"d 1": 2, "e": 0}}


def test_read_qrels_tsv_rejects_non_integer_relevance(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq\td\thigh\n")
    with pytest.raises(ValueError, match=r"q.tsv:2: relevance 'high' is not an integer"):
        read_qrels_tsv(path)


def _toy(n: int) -> EvalDataset:
    queries = {f"q{i}": f"text {i}" for i in range(n)}
    return EvalDataset("toy", [], "beir", queries, {q: {f"d{q}": 1} for q in queries}, "test")


def test_sample_queries_is_deterministic_and_consistent():
    ds = _toy(50)
    a, b = sample_queries(ds, 10, seed=3), sample_queries(ds, 10, seed=3)
    assert a.queries == b.queries and len(a.queries) == 10
    assert set(a.qrels) == set(a.queries) and all(a.qrels[q] == ds.qrels[q] for q in a.queries)
    assert list(a.queries) == [q for q in ds.queries if q in a.queries]  # original order kept
    assert a.is_sampled and a.sampled_from == 50
    assert sample_queries(ds, 10, seed=4).queries != a.queries
    shuffled = _toy(50)
    shuffled.queries = dict(reversed(list(shuffled.queries.items())))
    assert set(sample_queries(shuffled, 10, seed=3).queries) == set(a.queries)  # file order does not matter
    assert sample_queries(a, 5).sampled_from == 50  # re-sampling remembers the full split
    assert sample_queries(ds, 50) is ds and not ds.is_sampled
    with pytest.raises(ValueError, match="at least 1"):
        sample_queries(ds, 0)


def test_dataset_meta_carries_the_sampling_warning():
    ds = _toy(20)
    assert "warning" not in dataset_meta(ds) and dataset_meta(ds)["queries"] == 20
    meta = dataset_meta(sample_queries(ds, 5))
    assert meta["warning"] == SAMPLING_WARNING and meta["queries"] == "5 sampled from 20"
    assert "not comparable" in SAMPLING_WARNING


def _scifact_or_skip() -> Path:
    if not (SCIFACT / "qrels" / "test.tsv").is_file():
        pytest.skip(f"real SciFact data not found at {SCIFACT.resolve()} (../shared/data/scifact beside the repo)")
    return SCIFACT


def test_real_scifact_counts():
    root = _scifact_or_skip()
    test = load_dataset("beir", root, "test")
    assert test.name == "beir/scifact"
    assert len(test.queries) == 300 and len(test.qrels) == 300 and test.num_judgements == 339
    assert test.corpus_paths[0].name == "corpus.jsonl" and test.corpus_paths[0].is_file()
    train = load_beir(root, "train")
    assert len(train.queries) == 809 and train.num_judgements == 919
    assert not set(train.queries) & set(test.queries)
    sampled = sample_queries(test, 50)
    assert len(sampled.queries) == 50 and sampled.sampled_from == 300


def _pdf_pages_layout(root: Path, qrels: str) -> Path:
    (root / "pdfs").mkdir(parents=True)
    (root / "pdfs" / "ACME_2018_10K.pdf").write_bytes(b"%PDF-1.4 not read by the loader")
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels, encoding="utf-8")
    (root / "queries.jsonl").write_text(
        json.dumps({"_id": "q1", "text": "capex?"}) + "\n" + json.dumps({"_id": "q2", "text": "unjudged"}) + "\n",
        encoding="utf-8",
    )
    return root


def test_load_pdf_pages_reads_page_qrels(tmp_path):
    from evals.datasets import load_pdf_pages, page_id

    ds = load_pdf_pages(_pdf_pages_layout(tmp_path / "fb", "q1\tACME_2018_10K#p59\t1\n"))
    assert ds.corpus_format == "pdf" and ds.corpus_paths == [tmp_path / "fb" / "pdfs"]
    assert ds.queries == {"q1": "capex?"} and ds.qrels == {"q1": {"ACME_2018_10K#p59": 1}}
    assert page_id("sub/ACME_2018_10K.pdf", 60) == "ACME_2018_10K#p59"  # qrels pages are zero-based


def test_load_pdf_pages_errors_name_the_problem(tmp_path):
    from evals.datasets import load_pdf_pages

    with pytest.raises(FileNotFoundError, match="pdfs"):
        load_pdf_pages(tmp_path)
    with pytest.raises(ValueError, match="has no OTHER_2019_10K.pdf"):
        load_pdf_pages(_pdf_pages_layout(tmp_path / "a", "q1\tOTHER_2019_10K#p1\t1\n"))
    with pytest.raises(ValueError, match="not <pdf stem>#p<page>"):
        load_pdf_pages(_pdf_pages_layout(tmp_path / "b", "q1\tACME_2018_10K-page3\t1\n"))
