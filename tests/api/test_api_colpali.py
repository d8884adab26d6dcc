"""The ColPali profile through a real server, with a tiny random ColPali built on the spot: PDF pages are the
passages, page-image tensors rerank them, and hits carry the page, the rerank score and the page image URL.
Both ways an index gets its pages: `latte ingest` of the shared PDFs, and an upload into a new index (the kept
PDF is what the page-image encoder renders)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from api_live import DATA, KEY, live_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag" / "encoders"))

pytestmark = pytest.mark.slow  # builds a tiny ColPali, loads MiniLM and encodes the shared PDFs' pages

AUTH = {"Authorization": f"Bearer {KEY}"}
PDFS = [DATA / "pdfs" / name for name in ("EBAY_2023Q1_8K.pdf", "COSTCO_2023Q1_EARNINGS.pdf")]
PDF_PAGES = 3 + 4


@pytest.fixture(scope="module")
def tiny_colpali(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    from tiny_colpali import build_tiny_colpali

    return build_tiny_colpali(tmp_path_factory.mktemp("colpali") / "tiny-colpali")


def need_pdfs() -> list[Path]:
    missing = [p.name for p in PDFS if not p.is_file()]
    if missing:
        pytest.skip(f"the shared SEC filings {missing} are not at {PDFS[0].parent}")
    return PDFS


def check_reranked_page_hits(client, query: str) -> list[dict]:
    body = client.post("/v1/search", json={"query": query, "k": 3, "rerank": True}).json()
    assert "rerank" in body["timings_ms"], body
    hits = body["hits"]
    assert hits
    for h in hits:
        page = h["passage"]["page"]
        assert page >= 1 and h["rerank_score"] is not None
        assert h["page_image_url"] == f"/v1/documents/{h['doc_id']}/pages/{page}.png"
    r = client.get(hits[0]["page_image_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    return hits


def test_colpali_index_from_the_cli(tmp_path, tiny_colpali):
    from api.settings import Settings
    from rag.service import ingest_paths

    pdfs = need_pdfs()
    src = tmp_path / "src"
    src.mkdir()
    for p in pdfs:
        (src / p.name).symlink_to(p.resolve())
    ingest_paths([src], tmp_path / "idx", profile="colpali", image_model=str(tiny_colpali), device="cpu")
    settings = Settings(index=tmp_path / "idx", device="cpu", colpali_model=str(tiny_colpali))
    with live_server(settings) as live, live.client() as c:
        info = c.get("/v1/index").json()
        assert info["profile"] == "colpali" and info["rerank"] and info["counts"]["passages"] == PDF_PAGES
        hits = check_reranked_page_hits(c, "Costco net sales quarter")
        assert {h["doc_id"] for h in hits} <= {p.name for p in pdfs}


def test_upload_into_a_new_colpali_index_encodes_the_kept_pages(tmp_path, tiny_colpali):
    from api.settings import Settings
    from indexers.folder import Snapshot

    pdfs = need_pdfs()
    index = tmp_path / "fresh"
    settings = Settings(index=index, profile="colpali", device="cpu", colpali_model=str(tiny_colpali), api_keys=[KEY])
    with live_server(settings, ready=False) as live, live.client(headers=AUTH, timeout=300) as c:
        for _ in range(600):  # the models load in the background; a new index has nothing to serve yet
            if not c.get("/readyz").json()["reason"].startswith("loading"):
                break
            time.sleep(0.1)
        r = c.post("/v1/documents/upload", files=[("files", (p.name, p.read_bytes(), "application/pdf")) for p in pdfs])
        assert r.status_code == 200, r.text
        assert [o["status"] for o in r.json()["results"]] == ["indexed", "indexed"]
        snap = Snapshot.open(index)
        assert snap.manifest.settings["ingest"]["page_passages"]  # one passage per page, as `latte ingest` does
        report = snap["tensors"].size_report()
        assert report["passages"] == PDF_PAGES
        assert report["tokens"] >= PDF_PAGES * 16  # the kept PDFs' pages were rendered and encoded (not empty)
        check_reranked_page_hits(c, "eBay employees message")
