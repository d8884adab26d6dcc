"""PLAID ranker mode through colbert-ai on a tiny colbertv2-layout model (skipped without the [colbert] extra)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "encoders"))


@pytest.mark.slow
def test_plaid_mode_finds_documents_and_respects_deletes(tmp_path, monkeypatch):
    pytest.importorskip("colbert", reason="colbert-ai is not installed (optional extra: pip install 'latte[colbert]')")
    from tiny_colbert import CORPUS, build_tiny_colbertv2

    from rag.plaid import build_plaid
    from rag.planner import SearchOptions
    from rag.service import delete_ids, ingest_paths, open_searcher

    monkeypatch.chdir(tmp_path)
    model = build_tiny_colbertv2(tmp_path / "model", dim=32, hidden=32)
    words = " ".join(CORPUS).split()
    import numpy as np

    rng = np.random.default_rng(1)
    rows = [{"_id": f"d{i}", "title": "", "text": " ".join(rng.choice(words, size=25))} for i in range(120)]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingest_paths([tmp_path / "c.jsonl"], tmp_path / "idx", profile="bm25")
    meta = build_plaid(tmp_path / "idx", model)
    assert meta["passages"] == 120
    planner = open_searcher(tmp_path / "idx")
    assert "plaid" in planner.retrievers and not planner.retrievers["plaid"].stale
    res = planner.search(rows[7]["text"], SearchOptions(k=3, mode="plaid"))
    assert res.hits[0].doc_id == "d7"
    delete_ids(tmp_path / "idx", ["d7"])
    planner = open_searcher(tmp_path / "idx")
    assert planner.retrievers["plaid"].stale  # built for an older version
    res = planner.search(rows[7]["text"], SearchOptions(k=3, mode="plaid"))
    assert "d7" not in [h.doc_id for h in res.hits]
