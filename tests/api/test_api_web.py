"""The web page in a real headless Chromium (Debian's, driven by playwright; no browser is downloaded):
type a query, see hits with their trace, ask, see the streamed answer, click a citation; PDF hits and sources show
their page thumbnails, which open the whole page, and a cited PDF page is enlarged."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine: apt-get install -y chromium (Debian) to run the browser test")


@pytest.fixture
def page():
    executable = chromium_path()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser test drives Chromium with playwright: pip install playwright"
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1100, "height": 900})
            yield pg
        finally:
            browser.close()


def test_search_then_ask_with_a_clickable_citation(server, page, tmp_path):
    from api_live import make_text

    words = " ".join(w.strip(".").lower() for w in make_text(3).split()[:4])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('index-status').textContent.includes('documents')")
    assert "60 documents" in page.inner_text("#index-status")

    page.fill("#query", words)
    page.click("#search-btn")
    page.wait_for_selector("#hits li.hit")
    first = page.locator("#hits li.hit").first
    assert first.get_attribute("data-doc-id") == "doc3"
    assert "bm25 #1" in first.inner_text() and first.locator(".passage").inner_text().startswith(make_text(3)[:20])

    page.fill("#query", f"What about {words}?")
    page.click("#ask-btn")
    page.wait_for_function("document.getElementById('answer-meta').textContent.includes('version')", timeout=30_000)
    answer = page.inner_text("#answer")
    assert "[1]" in answer or "1" in page.locator("#answer a.cite").first.inner_text()
    assert "extractive" in page.inner_text("#answer-meta")
    cite = page.locator("#answer a.cite").first
    number = cite.get_attribute("data-n")
    cited_doc = page.evaluate(f"sourcesByNumber.get({number}).doc_id")
    cite.click()
    target = page.locator("li.highlight")
    target.wait_for()
    assert target.get_attribute("data-doc-id") == cited_doc  # the hit card of the cited source
    assert page.locator("#sources li.source").count() >= 1
    assert errors == []

    shots = Path(os.environ.get("LATTE_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "web_page.png"), full_page=True)


def test_page_shows_server_errors(server, page):
    page.goto(server.url + "/")
    page.click("#options summary")
    page.fill("#k", "500")  # over the server's LATTE_MAX_K
    page.fill("#query", "anything")
    page.click("#search-btn")
    page.wait_for_selector("#message.error")
    assert "LATTE_MAX_K" in page.inner_text("#message")



EBAY = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pdfs" / "EBAY_2023Q1_8K.pdf"


@contextmanager
def pdf_server_with(tmp_path, **settings):
    """A live server over synthetic documents plus the uploaded eBay 8-K (3 pages)."""
    from api_live import KEY, build_index, live_server, make_rows

    from api.settings import Settings

    if not EBAY.is_file():
        pytest.skip(f"the shared SEC filing {EBAY.name} is not at {EBAY.parent}")
    index = build_index(tmp_path / "w", make_rows(10))
    with live_server(Settings(index=index, api_keys=[KEY], **settings)) as live:
        with live.client(headers={"Authorization": f"Bearer {KEY}"}) as c:
            files = [("files", (EBAY.name, EBAY.read_bytes(), "application/pdf"))]
            assert c.post("/v1/documents/upload", files=files).status_code == 200
        yield live


@pytest.fixture
def pdf_server(tmp_path):
    with pdf_server_with(tmp_path) as live:
        yield live


def wait_image(page, selector: str, width: int | None = None) -> int:
    """Wait until the <img> at ``selector`` has loaded (of ``width`` pixels, when given); its natural width."""
    check = "i.naturalWidth > 0" if width is None else f"i.naturalWidth === {width}"
    page.wait_for_function(f"(() => {{ const i = document.querySelector({selector!r}); return !!i && i.complete && {check}; }})()")
    return page.evaluate(f"document.querySelector({selector!r}).naturalWidth")


def test_pdf_hits_and_citations_show_their_page_images(pdf_server, page, tmp_path):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(pdf_server.url + "/")
    page.fill("#query", "Jamie Iannone message to eBay employees")
    page.click("#search-btn")
    page.wait_for_selector("#hits li.hit")
    first = page.locator("#hits li.hit").first
    assert first.get_attribute("data-doc-id") == EBAY.name and "p. 2" in first.inner_text()
    thumb = f"#{first.get_attribute('id')} .page-thumb img"
    assert wait_image(page, thumb) == 408  # a US letter page at the thumbnail's 48 dpi
    assert page.locator("#hits li.hit .page-thumb").count() == 1  # synthetic text documents have no page

    page.click(thumb)  # the thumbnail opens the whole page
    page.wait_for_function("document.getElementById('page-viewer').open")
    assert wait_image(page, "#viewer-img") == 816  # the server's default 96 dpi
    assert "page 2" in page.inner_text("#viewer-caption")
    shots = Path(os.environ.get("LATTE_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "web_page_pdf_viewer.png"))
    page.click("#viewer-close")
    assert not page.evaluate("document.getElementById('page-viewer').open")

    page.fill("#query", "What did Jamie Iannone tell eBay employees?")
    page.click("#ask-btn")
    page.wait_for_function("document.getElementById('answer-meta').textContent.includes('version')", timeout=30_000)
    assert wait_image(page, "#sources .page-thumb img") == 408  # the cited source shows its page too
    cite = page.locator("#answer a.cite").first
    cited = page.evaluate(f"sourcesByNumber.get({cite.get_attribute('data-n')})")
    assert cited["doc_id"] == EBAY.name and cited["page_image_url"].endswith("/pages/2.png")
    cite.click()
    target = page.locator("li.highlight")
    target.wait_for()
    assert target.get_attribute("data-doc-id") == EBAY.name
    assert target.locator(".page-thumb.expanded").count() == 1  # the cited page, shown large...
    assert wait_image(page, "li.highlight .page-thumb.expanded img", 816) == 816  # ...at 96 dpi instead of 48
    assert errors == []
    page.screenshot(path=str(shots / "web_page_pdf.png"), full_page=True)


def test_page_images_are_fetched_with_the_key_when_reads_need_one(tmp_path, page):
    """With LATTE_REQUIRE_KEY_FOR_READS an <img> cannot send the key: the page fetches the image with it."""
    from api_live import KEY

    with pdf_server_with(tmp_path, require_key_for_reads=True) as live:
        page.goto(live.url + "/")
        page.click("#options summary")
        page.fill("#api-key", KEY)
        page.fill("#query", "Molly Finn Deputy General Counsel")
        page.click("#search-btn")
        assert wait_image(page, "#hits .page-thumb img") == 408
        assert page.evaluate("document.querySelector('#hits .page-thumb img').src").startswith("blob:")
