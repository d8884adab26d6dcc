"""ColPali end to end: PDF pages become passages whose page images are the tensor arrays; page text still feeds
BM25 and dense; the page tensors rerank; hits and answers cite the PDF page."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "encoders"))

PDFS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pdfs"


@pytest.fixture(scope="module")
def tiny_colpali(tmp_path_factory):
    pytest.importorskip("transformers")
    from tiny_colpali import build_tiny_colpali

    return build_tiny_colpali(tmp_path_factory.mktemp("colpali") / "tiny-colpali")


def test_pdf_pages_become_binary_page_tensors_and_rerank(tmp_path, tiny_colpali):
    pdfs = [PDFS / "EBAY_2023Q1_8K.pdf", PDFS / "COSTCO_2023Q1_EARNINGS.pdf"]
    if not all(p.exists() for p in pdfs):
        pytest.skip(f"shared PDFs not found at {PDFS}")
    from indexers.folder import Snapshot
    from rag.answer import answer
    from rag.planner import SearchOptions
    from rag.service import ingest_paths, open_searcher

    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.7\nnot really a pdf")
    src = tmp_path / "src"
    src.mkdir()
    for p in pdfs:
        (src / p.name).symlink_to(p.resolve())
    (src / "corrupt.pdf").write_bytes(b"%PDF-1.7\nnot really a pdf")
    s = ingest_paths([src], tmp_path / "idx", profile="colpali", image_model=str(tiny_colpali), device="cpu")
    assert s.indexed == 2 and s.load_errors == 1  # the corrupt PDF is reported, the rest ingested
    snap = Snapshot.open(tmp_path / "idx")
    n_pages = 3 + 4
    assert snap.manifest.counts["passages"] == n_pages  # one passage per page
    rep = snap["tensors"].size_report()
    assert rep["passages"] == n_pages
    from rag.encoders.colpali import ColPaliEncoder
    from rag.pdf_render import render_pages

    page = next(render_pages(pdfs[0], dpi=96, pages=[1])).image
    per_page = len(ColPaliEncoder(str(tiny_colpali), device="cpu").encode_images([page])[0])
    assert per_page >= 16  # the tiny model's 16 image patches plus its visual prompt tokens
    assert rep["tokens"] == n_pages * per_page
    assert rep["binary_bytes"] * 32 == rep["float32_equivalent_bytes"]
    assert snap.manifest.models["multivector"]["kind"] == "colpali"

    planner = open_searcher(tmp_path / "idx", device="cpu")
    res = planner.search("Costco net sales quarter", SearchOptions(k=3, rerank=True))
    assert res.hits and "rerank" in res.timings_ms
    top = res.hits[0]
    assert top.rerank_score is not None and top.passage is not None and top.passage.page >= 1
    assert set(top.retrievers) <= {"bm25", "dense"}
    ans = answer("What were Costco's net sales?", res.hits)
    assert ans.citations and all(c.page is not None for c in ans.citations)


def test_non_pdf_documents_get_empty_page_tensors(tmp_path, tiny_colpali):
    from indexers.folder import Snapshot
    from rag.planner import SearchOptions
    from rag.service import ingest_paths, open_searcher

    (tmp_path / "a.md").write_text("# Notes\nQuarterly revenue grew in every region this year.\n")
    ingest_paths([tmp_path / "a.md"], tmp_path / "idx", profile="colpali", image_model=str(tiny_colpali), device="cpu")
    snap = Snapshot.open(tmp_path / "idx")
    assert snap["tensors"].size_report()["tokens"] == 0
    res = open_searcher(tmp_path / "idx", device="cpu").search("revenue", SearchOptions(k=1))
    assert res.hits[0].doc_id == "a.md" and np.isfinite(res.hits[0].score)
