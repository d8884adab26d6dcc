"""PDF page rendering with pypdfium2: sizes as arithmetic, 1-based pages, clear errors for bad files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from rag.pdf_render import PageImage, PdfError, count_pages, page_pixels, render_pages, scale_for_dpi

PDF_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pdfs"


def _real_pdf(name: str) -> Path:
    path = PDF_DIR / name
    if not path.is_file():
        pytest.skip(f"real PDF {name} not found in {PDF_DIR.resolve()} (the shared SEC filings, ../shared/data/pdfs)")
    return path


def _pypdf():
    return pytest.importorskip("pypdf", reason="pypdf writes the test PDFs: pip install pypdf")


def _write_pdf(path: Path, sizes: list[tuple[float, float]], *, user_password: str | None = None) -> Path:
    """Blank pages of the given (width, height) in points; RC4-128 encrypted when a password is given."""
    pypdf = _pypdf()
    writer = pypdf.PdfWriter()
    for width, height in sizes:
        writer.add_blank_page(width=width, height=height)
    if user_password is not None:
        # RC4-128 needs no crypto library (AES would need `cryptography`)
        writer.encrypt(user_password=user_password, owner_password="owner-" + user_password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_real_filing_pages_render_at_the_asked_resolution():
    import pypdfium2 as pdfium

    path = _real_pdf("APPLE_2023Q3_10Q.pdf")
    n = count_pages(path)
    doc = pdfium.PdfDocument(str(path))
    try:
        sizes = {p: doc[p - 1].get_size() for p in (1, 2, n)}
    finally:
        doc.close()
    rendered = list(render_pages(path, dpi=36, pages=[n, 1, 2]))
    assert [r.page for r in rendered] == [n, 1, 2]  # in the order asked, 1-based
    for r in rendered:
        assert isinstance(r, PageImage) and r.image.mode == "RGB"
        assert (r.width, r.height) == r.image.size == page_pixels(*sizes[r.page], 36 / 72)
        pixels = np.asarray(r.image)
        assert pixels.min() < 128 and pixels.max() == 255  # dark text on a white page


def test_dpi_and_scale_agree_and_all_pages_are_rendered():
    path = _real_pdf("EBAY_2023Q1_8K.pdf")
    by_dpi = list(render_pages(path, dpi=54))
    by_scale = list(render_pages(path, scale=0.75))
    assert [p.page for p in by_dpi] == list(range(1, count_pages(path) + 1))
    for a, b in zip(by_dpi, by_scale):
        assert a.image.size == b.image.size == (round(612 * 0.75), round(792 * 0.75))  # US letter
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


def test_generated_page_sizes(tmp_path):
    path = _write_pdf(tmp_path / "two.pdf", [(200, 300), (595, 842)])
    first, second = render_pages(path, dpi=72)
    assert (first.page, first.width, first.height) == (1, 200, 300)
    assert (second.page, second.width, second.height) == (2, 595, 842)
    assert [p.image.size for p in render_pages(path, scale=2, pages=[1])] == [(400, 600)]
    assert np.asarray(first.image).min() == 255  # a blank page renders white
    assert scale_for_dpi(144) == 2.0


def test_corrupt_files_raise_pdf_error_naming_the_file(tmp_path):
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\nthis is not really a pdf\n")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    for bad in (garbage, empty):
        with pytest.raises(PdfError) as info:
            render_pages(bad)
        assert info.value.reason == "corrupt" and info.value.path == str(bad)
        assert str(bad) in str(info.value) and "not a readable PDF" in str(info.value)
    missing = tmp_path / "missing.pdf"
    with pytest.raises(PdfError, match="no such file") as info:
        count_pages(missing)
    assert info.value.reason == "not_found"


def test_truncated_real_pdf_is_corrupt(tmp_path):
    data = _real_pdf("EBAY_2023Q1_8K.pdf").read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(PdfError, match="truncated.pdf") as info:
        render_pages(truncated)
    assert info.value.reason == "corrupt"


def test_password_protected_pdf(tmp_path):
    path = _write_pdf(tmp_path / "locked.pdf", [(100, 150)], user_password="s3cret")
    with pytest.raises(PdfError, match=r"locked\.pdf.*password-protected; pass password=") as info:
        render_pages(path)
    assert info.value.reason == "password_required"
    with pytest.raises(PdfError, match="password given does not open") as info:
        render_pages(path, password="wrong")
    assert info.value.reason == "wrong_password"
    assert [(p.width, p.height) for p in render_pages(path, password="s3cret", dpi=72)] == [(100, 150)]
    assert count_pages(path, password="s3cret") == 1


def test_a_batch_records_bad_files_and_goes_on(tmp_path):
    good = _write_pdf(tmp_path / "good.pdf", [(72, 72), (72, 144)])
    locked = _write_pdf(tmp_path / "locked.pdf", [(72, 72)], user_password="pw")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"not a pdf at all")
    rendered, problems = [], []
    for path in (good, broken, locked, good):
        try:
            rendered.extend((path.name, p.page) for p in render_pages(path, dpi=72))
        except PdfError as err:
            problems.append((Path(err.path).name, err.reason))
    assert rendered == [("good.pdf", 1), ("good.pdf", 2)] * 2
    assert problems == [("broken.pdf", "corrupt"), ("locked.pdf", "password_required")]


def test_bad_arguments(tmp_path):
    path = _write_pdf(tmp_path / "one.pdf", [(72, 72)])
    with pytest.raises(ValueError, match=r"page 2 is out of range; this PDF has pages 1\.\.1"):
        render_pages(path, pages=[2])
    with pytest.raises(ValueError, match="out of range"):
        render_pages(path, pages=[0])
    with pytest.raises(TypeError, match="1-based integers"):
        render_pages(path, pages=["1"])
    with pytest.raises(ValueError, match="not both"):
        render_pages(path, dpi=72, scale=1)
    with pytest.raises(ValueError, match="dpi must be > 0"):
        render_pages(path, dpi=0)
    with pytest.raises(ValueError, match="scale must be > 0"):
        render_pages(path, scale=-1)


def test_doctests():
    import doctest

    import rag.pdf_render as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
