"""Rendering page images: ``render_png`` in-process (sizes, the pixel budget, errors), the child-process worker
(protocol, a timeout that kills it, recovery), and the renderer's LRU cache keyed by the file's identity."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from api_live import DATA

EBAY = DATA / "pdfs" / "EBAY_2023Q1_8K.pdf"


@pytest.fixture
def pdf(tmp_path) -> Path:
    if not EBAY.is_file():
        pytest.skip(f"the shared SEC filing {EBAY.name} is not at {EBAY.parent}")
    return Path(shutil.copy(EBAY, tmp_path / "ebay.pdf"))


def image_size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return im.size


def test_render_png_sizes_and_pixel_budget(pdf):
    from api.page_worker import render_png
    from rag.pdf_render import page_pixels, scale_for_dpi

    r = render_png(pdf, 1, dpi=96, max_pixels=16_000_000)
    assert (r.width, r.height) == image_size(r.png) == page_pixels(612, 792, scale_for_dpi(96)) and r.dpi == 96
    capped = render_png(pdf, 1, dpi=200, max_pixels=500_000)  # 1700 x 2200 px asked, 500k pixels allowed
    assert capped.width * capped.height <= 500_000 * 1.01 and capped.dpi < 200
    assert capped.width / capped.height == pytest.approx(612 / 792, rel=0.01)


def test_render_png_errors(pdf, tmp_path):
    from api.page_worker import PageOutOfRange, render_png
    from rag.pdf_render import PdfError

    with pytest.raises(PageOutOfRange) as err:
        render_png(pdf, 4, dpi=96, max_pixels=10**7)
    assert err.value.pages == 3
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\nnot a pdf at all")
    with pytest.raises(PdfError) as perr:
        render_png(bad, 1, dpi=96, max_pixels=10**7)
    assert perr.value.reason == "corrupt"
    with pytest.raises(TypeError):
        render_png(pdf, "1", dpi=96, max_pixels=10**7)  # type: ignore[arg-type]


def test_worker_process_renders_reports_errors_and_survives_them(pdf, tmp_path):
    from api.page_images import RenderError, RenderWorker
    from api.page_worker import render_png

    w = RenderWorker(timeout=60)
    try:
        r = w.render(pdf, 2, 72, 10**7)
        assert r.png == render_png(pdf, 2, dpi=72, max_pixels=10**7).png  # the same bytes as in-process
        pid = w.proc.pid
        with pytest.raises(RenderError) as err:
            w.render(pdf, 9, 72, 10**7)
        assert err.value.reason == "out_of_range" and err.value.pages == 3
        (tmp_path / "bad.pdf").write_bytes(b"garbage")
        with pytest.raises(RenderError) as err:
            w.render(tmp_path / "bad.pdf", 1, 72, 10**7)
        assert err.value.reason == "corrupt"
        assert w.render(pdf, 1, 36, 10**7).png and w.proc.pid == pid  # errors do not cost the process
    finally:
        w.stop()
    assert w.proc is None


def test_a_render_over_the_timeout_kills_the_worker_and_the_next_one_starts_fresh(pdf):
    from api.page_images import RenderError, RenderWorker

    w = RenderWorker(timeout=0.001)  # shorter than starting Python: the child cannot answer in time
    try:
        with pytest.raises(RenderError) as err:
            w.render(pdf, 1, 72, 10**7)
        assert err.value.reason == "timeout" and w.proc is None
        w.timeout = 60
        assert w.render(pdf, 1, 72, 10**7).width == 612
        w.proc.kill()  # a worker that died between requests is replaced on the next one
        w.proc.wait()
        assert w.render(pdf, 1, 72, 10**7).width == 612
    finally:
        w.stop()


def test_renderer_caches_by_file_identity(pdf):
    import os

    from api.page_images import PageRenderer

    r = PageRenderer(workers=1, timeout=60, cache_bytes=8 * 1024 * 1024)
    try:
        first, cached = r.render(pdf, 1, 48, 10**7)
        assert not cached
        again, cached = r.render(pdf, 1, 48, 10**7)
        assert cached and again is first
        st = pdf.stat()
        os.utime(pdf, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file changed on disk: render again
        _, cached = r.render(pdf, 1, 48, 10**7)
        assert not cached and len(r.cache.keys()) == 2
        pdf.unlink()
        with pytest.raises(FileNotFoundError):
            r.render(pdf, 1, 48, 10**7)
    finally:
        r.close()


def test_renderer_without_cache(pdf):
    from api.page_images import PageRenderer

    r = PageRenderer(workers=2, timeout=60, cache_bytes=0)
    try:
        assert [r.render(pdf, p, 36, 10**7)[1] for p in (1, 1)] == [False, False]
        assert r.cache.keys() == []
    finally:
        r.close()
    with pytest.raises(ValueError, match="workers"):
        PageRenderer(workers=0)
