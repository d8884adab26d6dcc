"""Page images of PDF documents through a real server: an uploaded PDF is kept (content-addressed) in
``index/files/``, hits and citations carry ``page_image_url``, the URL answers a PNG of the page (ETag, 304,
dpi bounds), and every way of asking for a page that is not there answers 404 with a clear message."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from api_live import DATA, KEY, build_index, live_server, make_rows, sse_events

AUTH = {"Authorization": f"Bearer {KEY}"}
EBAY = DATA / "pdfs" / "EBAY_2023Q1_8K.pdf"
EBAY_PAGES = 3
PAGE2_QUERY = "Jamie Iannone message to eBay employees"  # words of page 2 only
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def need_ebay() -> Path:
    if not EBAY.is_file():
        pytest.skip(f"the shared SEC filing {EBAY.name} is not at {EBAY.parent}")
    return EBAY


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload(client, *named: tuple[str, bytes]):
    r = client.post("/v1/documents/upload", files=[("files", (n, b, "application/pdf")) for n, b in named])
    assert r.status_code == 200, r.text
    return r.json()


def png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    assert data[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # decodes the whole image: a truncated PNG fails here
        assert im.mode == "RGB"
        return im.size


def kept_files(index: Path) -> list[str]:
    folder = index / "files"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def pdf_server(tmp_path):
    """A server over 20 synthetic documents plus the uploaded eBay 8-K (3 pages)."""
    from api.settings import Settings

    pdf = need_ebay()
    index = build_index(tmp_path / "w", make_rows(20))
    with live_server(Settings(index=index, api_keys=[KEY], page_image_max_dpi=150)) as live:
        with live.client(headers=AUTH) as c:
            body = upload(c, (pdf.name, pdf.read_bytes()))
            assert [(o["id"], o["status"], o["source"]) for o in body["results"]] == [
                (pdf.name, "indexed", f"upload:{pdf.name}")
            ]
        yield live


def test_upload_keeps_the_pdf_and_a_hit_links_its_page_image(pdf_server):
    from rag.pdf_render import page_pixels, scale_for_dpi

    index = Path(pdf_server.state.settings.index)
    digest = sha256(EBAY)
    assert kept_files(index) == [f"{digest}.pdf"]  # named by content, inside the index folder
    assert (index / "files" / f"{digest}.pdf").read_bytes() == EBAY.read_bytes()
    assert list((index / "uploads").iterdir()) == []  # the temporary upload folder is gone
    with pdf_server.client() as c:
        doc = c.get(f"/v1/documents/{EBAY.name}").json()
        assert doc["source"] == f"files/{digest}.pdf" and doc["metadata"]["path"] == f"upload:{EBAY.name}"
        # the upload's file name in words (rag.loaders.pdf.pdf_title: the accession-number Title says nothing more)
        assert doc["title"] == "EBAY 2023Q1 8K"

        hits = c.post("/v1/search", json={"query": PAGE2_QUERY, "k": 3}).json()["hits"]
        top = hits[0]
        assert top["doc_id"] == EBAY.name and top["passage"]["page"] == 2
        assert top["page_image_url"] == f"/v1/documents/{EBAY.name}/pages/2.png"
        assert all(h["page_image_url"] is None for h in hits if h["passage"]["page"] is None)  # text documents

        r = c.get(top["page_image_url"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert png_size(r.content) == page_pixels(612, 792, scale_for_dpi(96))  # US letter at the default 96 dpi
        assert r.headers["x-page-dpi"] == "96"
        etag = r.headers["etag"]
        assert etag.startswith('"') and "private" in r.headers["cache-control"]

        again = c.get(top["page_image_url"], headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag

        small = c.get(top["page_image_url"], params={"dpi": 48})
        assert png_size(small.content) == page_pixels(612, 792, scale_for_dpi(48)) and small.headers["etag"] != etag
        page3 = c.get(f"/v1/documents/{EBAY.name}/pages/3.png")
        assert page3.status_code == 200 and page3.content != r.content

        over = c.get(top["page_image_url"], params={"dpi": 151})
        assert over.status_code == 422 and "LATTE_PAGE_IMAGE_MAX_DPI" in over.json()["detail"][0]["msg"]
        assert c.get(top["page_image_url"], params={"dpi": 10}).status_code == 422
        metrics = c.get("/metrics").text
        assert 'latte_page_images_total{result="not_modified"} 1.0' in metrics


@pytest.mark.parametrize(
    "path, message",
    [
        ("/v1/documents/nope.pdf/pages/1.png", "no document with id 'nope.pdf'"),
        ("/v1/documents/doc1/pages/1.png", "is not a PDF"),
        (f"/v1/documents/{EBAY.name}/pages/0.png", f"has pages 1..{EBAY_PAGES}; there is no page 0"),
        (f"/v1/documents/{EBAY.name}/pages/{EBAY_PAGES + 1}.png", f"there is no page {EBAY_PAGES + 1}"),
    ],
)
def test_pages_that_are_not_there_are_404(pdf_server, path, message):
    with pdf_server.client() as c:
        r = c.get(path)
    assert r.status_code == 404 and message in r.json()["detail"], r.text


def test_source_deleted_from_disk_then_restored_by_uploading_again(pdf_server):
    index = Path(pdf_server.state.settings.index)
    url = f"/v1/documents/{EBAY.name}/pages/1.png"
    with pdf_server.client(headers=AUTH) as c:
        assert c.get(url).status_code == 200  # rendered once: cached in memory, yet a deleted file is noticed
        (index / "files" / f"{sha256(EBAY)}.pdf").unlink()
        r = c.get(url)
        detail = r.json()["detail"]
        assert r.status_code == 404 and "no longer on disk" in detail and "upload it again" in detail
        assert str(index) not in detail and "files" not in detail  # no server path in the message

        body = upload(c, (EBAY.name, EBAY.read_bytes()))  # same name, same bytes: unchanged, file kept again
        assert body["results"][0]["status"] == "unchanged"
        assert c.get(url).status_code == 200


def test_uploading_the_same_pdf_again_keeps_one_file(pdf_server):
    index = Path(pdf_server.state.settings.index)
    with pdf_server.client(headers=AUTH) as c:
        data = EBAY.read_bytes()
        body = upload(c, (EBAY.name, data), ("copy-of-ebay.pdf", data))
    assert [(o["id"], o["status"]) for o in body["results"]] == [
        (EBAY.name, "unchanged"),
        ("copy-of-ebay.pdf", "duplicate"),
    ]
    assert kept_files(index) == [f"{sha256(EBAY)}.pdf"]
    assert list((index / "uploads").iterdir()) == []


def test_a_dropped_pdf_is_not_kept(pdf_server):
    import pypdfium2 as pdfium

    blank = pdfium.PdfDocument.new()
    blank.new_page(612, 792)
    buf = io.BytesIO()
    blank.save(buf)
    blank.close()
    index = Path(pdf_server.state.settings.index)
    with pdf_server.client(headers=AUTH) as c:
        body = upload(c, ("blank.pdf", buf.getvalue()))
    assert body["results"][0]["status"] == "dropped"  # no text: the quality rules drop it
    assert kept_files(index) == [f"{sha256(EBAY)}.pdf"]  # and its file was not kept


def test_answer_citations_and_sources_carry_page_image_urls(pdf_server):
    with pdf_server.client() as c:
        body = c.post("/v1/answer", json={"question": f"What did {PAGE2_QUERY} say?", "k": 3}).json()
        pdf_sources = [s for s in body["sources"] if s["doc_id"] == EBAY.name]
        assert pdf_sources and body["citations"]
        for s in body["sources"] + body["citations"]:
            want = f"/v1/documents/{s['doc_id']}/pages/{s['page']}.png" if s["page"] else None
            assert s["page_image_url"] == want
        assert c.get(pdf_sources[0]["page_image_url"]).status_code == 200

        r = c.post("/v1/answer", json={"question": f"What did {PAGE2_QUERY} say?", "k": 3, "stream": True})
        events = dict(sse_events(r.text))
        assert events["citations"]["citations"] == events["done"]["citations"]
        assert any(s["page_image_url"] for s in events["done"]["sources"])
        assert all("page_image_url" in cit for cit in events["citations"]["citations"])


def test_ids_with_a_folder_from_a_cli_ingest(tmp_path):
    """`latte ingest` of a folder names a PDF by its relative path ("filings/x.pdf") and keeps its own path as the
    source: the URL encodes the slash, and the page renders from that path."""
    from api.settings import Settings
    from rag.service import ingest_paths

    pdf = need_ebay()
    src = tmp_path / "src" / "filings"
    src.mkdir(parents=True)
    (src / pdf.name).symlink_to(pdf.resolve())
    ingest_paths([tmp_path / "src"], tmp_path / "idx", profile="bm25")
    doc_id = f"filings/{pdf.name}"
    with live_server(Settings(index=tmp_path / "idx")) as live, live.client() as c:
        hit = c.post("/v1/search", json={"query": PAGE2_QUERY, "k": 1}).json()["hits"][0]
        assert hit["doc_id"] == doc_id
        assert hit["page_image_url"] == f"/v1/documents/filings%2F{pdf.name}/pages/2.png"
        r = c.get(hit["page_image_url"])
        assert r.status_code == 200 and r.content[:8] == PNG_SIGNATURE
        assert c.get(f"/v1/documents/{doc_id}/pages/2.png").content == r.content  # a literal slash works too
        assert c.get(f"/v1/documents/{doc_id}").json()["source"] == pdf.name  # a server path is never shown
        (src / pdf.name).unlink()
        assert c.get(hit["page_image_url"]).status_code == 404
