"""The web page in a real headless Chromium (Debian's, driven by playwright; no browser is downloaded):
type a query, see hits with their trace, ask, see the streamed answer, click a citation."""

from __future__ import annotations

import os
import shutil
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
