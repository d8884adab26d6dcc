"""Render PDF pages to images with pypdfium2, for page-image encoders (ColPali, ColQwen2).

``render_pages`` opens the file at call time, so a missing, corrupt or password-protected
file raises ``PdfError`` before any page is produced; a batch caller records the error
(``LoadProblem(source=err.path, message=str(err))``) and goes on with the next file.
Pages are then rendered lazily, one at a time, so a 300-page filing never sits in
memory as 300 bitmaps.

PDFium is not thread-safe: render from one thread per process (use processes to scale out).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from PIL import Image

PDF_POINTS_PER_INCH = 72.0
DEFAULT_DPI = 96.0

# PDFium's FPDF_GetLastError codes (fpdfview.h), as carried by ``PdfiumError.err_code``.
_FPDF_ERR_FILE = 2
_FPDF_ERR_FORMAT = 3
_FPDF_ERR_PASSWORD = 4
_FPDF_ERR_SECURITY = 5


class PdfError(Exception):
    """A PDF that cannot be opened or rendered; names the file and says what to do.

    ``reason`` is a short machine name: ``not_found``, ``password_required``,
    ``wrong_password``, ``corrupt``, ``unsupported_security`` or ``render_failed``.
    ``page`` is the 1-based page that failed to render, else None.
    """

    def __init__(self, path: str | Path, reason: str, message: str, *, page: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.page = page
        where = f"{self.path} (page {page})" if page is not None else self.path
        super().__init__(f"{where}: {message}")


@dataclass(slots=True)
class PageImage:
    """One rendered page: ``page`` counts from 1; ``width`` x ``height`` are the image's pixels (RGB)."""

    page: int
    image: Image.Image
    width: int
    height: int


def scale_for_dpi(dpi: float) -> float:
    """PDFium render scale for a resolution: PDF user space has 72 points per inch.

    >>> scale_for_dpi(72)
    1.0
    >>> scale_for_dpi(144)
    2.0
    """
    if not dpi > 0:
        raise ValueError(f"dpi must be > 0, got {dpi!r}")
    return float(dpi) / PDF_POINTS_PER_INCH


def page_pixels(width_pt: float, height_pt: float, scale: float) -> tuple[int, int]:
    """Pixel size PDFium renders a ``width_pt`` x ``height_pt`` page to at ``scale`` (rounded).

    >>> page_pixels(612, 792, scale_for_dpi(96))  # US letter at 96 dpi
    (816, 1056)
    """
    return round(width_pt * scale), round(height_pt * scale)


def _import_pdfium() -> Any:
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:  # pragma: no cover - pypdfium2 is a core dependency
        raise ImportError("rendering PDF pages needs pypdfium2: pip install pypdfium2") from exc
    return pdfium


def _open_error(path: Path, exc: Exception, password: str | None) -> PdfError:
    """Turn PDFium's load failure into a PdfError that says what to do next."""
    code = getattr(exc, "err_code", None)
    if code == _FPDF_ERR_PASSWORD and password is None:
        return PdfError(path, "password_required", "the PDF is password-protected; pass password=... to render it")
    if code == _FPDF_ERR_PASSWORD:
        return PdfError(path, "wrong_password", "the password given does not open this PDF")
    if code == _FPDF_ERR_SECURITY:
        return PdfError(path, "unsupported_security", f"the PDF uses a security handler PDFium cannot open ({exc})")
    if code == _FPDF_ERR_FILE:
        return PdfError(path, "not_found", f"the file cannot be opened ({exc})")
    return PdfError(path, "corrupt", f"not a readable PDF (corrupt, truncated or not a PDF): {exc}")


def _check_pages(path: Path, pages: Sequence[int] | None, n_pages: int) -> list[int]:
    if pages is None:
        return list(range(1, n_pages + 1))
    wanted = list(pages)
    for p in wanted:
        if isinstance(p, bool) or not isinstance(p, int):
            raise TypeError(f"{path}: pages must be 1-based integers, got {p!r}")
        if not 1 <= p <= n_pages:
            raise ValueError(f"{path}: page {p} is out of range; this PDF has pages 1..{n_pages}")
    return wanted


def render_pages(
    pdf_path: str | Path,
    *,
    dpi: float | None = None,
    scale: float | None = None,
    pages: Sequence[int] | None = None,
    password: str | None = None,
) -> Iterator[PageImage]:
    """Render pages of one PDF as RGB PIL images, in the order asked.

    Resolution: ``dpi`` (default 96) or ``scale`` (pixels per PDF point, ``dpi / 72``), not both.
    A US letter page (612 x 792 pt) at 96 dpi is 816 x 1056 px; ColPali resizes every page to
    448 x 448 and ColQwen2 to at most about 768 x 28 x 28 pixels, so 96 dpi loses nothing for them.
    ``pages``: 1-based page numbers (None = all); an out-of-range page raises ValueError.

    The file is opened here, eagerly: a missing, corrupt or password-protected file raises
    ``PdfError`` from this call; a page that fails to render raises ``PdfError`` (with ``page``)
    from the iteration. The document is closed when the iterator is exhausted or closed.
    """
    if dpi is not None and scale is not None:
        raise ValueError("give dpi or scale, not both (scale = dpi / 72)")
    if scale is None:
        scale = scale_for_dpi(DEFAULT_DPI if dpi is None else dpi)
    elif not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")

    pdfium = _import_pdfium()
    path = Path(pdf_path)
    if not path.is_file():
        raise PdfError(path, "not_found", "no such file; check the path")
    try:
        doc = pdfium.PdfDocument(str(path), password=password)
    except pdfium.PdfiumError as exc:
        raise _open_error(path, exc, password) from exc
    try:
        wanted = _check_pages(path, pages, len(doc))
    except Exception:
        doc.close()
        raise
    return _render(doc, path, wanted, float(scale), pdfium)


def _render(doc: Any, path: Path, wanted: list[int], scale: float, pdfium: Any) -> Iterator[PageImage]:
    try:
        for number in wanted:
            try:
                page = doc[number - 1]
                try:
                    image = page.render(scale=scale).to_pil()  # BGR bitmap -> PIL copies it into an RGB image
                    if image.mode != "RGB":  # RGBA/RGBX/L would share the bitmap's memory: convert copies
                        image = image.convert("RGB")
                finally:
                    page.close()
            except pdfium.PdfiumError as exc:
                raise PdfError(path, "render_failed", f"PDFium could not render the page: {exc}", page=number) from exc
            yield PageImage(page=number, image=image, width=image.width, height=image.height)
    finally:
        doc.close()


def count_pages(pdf_path: str | Path, *, password: str | None = None) -> int:
    """Number of pages in a PDF; raises ``PdfError`` like ``render_pages`` for unreadable files."""
    pdfium = _import_pdfium()
    path = Path(pdf_path)
    if not path.is_file():
        raise PdfError(path, "not_found", "no such file; check the path")
    try:
        doc = pdfium.PdfDocument(str(path), password=password)
    except pdfium.PdfiumError as exc:
        raise _open_error(path, exc, password) from exc
    try:
        return len(doc)
    finally:
        doc.close()
