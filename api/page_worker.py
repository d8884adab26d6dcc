"""PDF pages rendered to PNG in a child process (``python -m api.page_worker``), one request at a time.

Why a process: PDFium is not thread-safe, and the server already calls it from worker threads (the PDF loader
and the ColPali encoder during an upload), so a page image rendered in another thread of the same process could
corrupt memory. A child process has its own PDFium; a render that hangs is ended by killing the child, and a
crash on a hostile PDF takes down the child, not the server.

Protocol (stdin/stdout of the child): the parent writes one JSON line ``{"path", "page", "dpi", "max_pixels"}``;
the child answers one JSON line, ``{"ok": true, "width", "height", "dpi", "bytes": n}`` followed by ``n`` bytes
of PNG, or ``{"ok": false, "reason", "message", "pages"}``. Errors carry a ``reason`` (``out_of_range`` or a
:class:`rag.pdf_render.PdfError` reason); their messages may hold the file's path and stay in the server log.

``render_png`` is the rendering itself, usable in-process where only one thread uses PDFium (tests, scripts).
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MIN_DPI = 36
PNG_COMPRESS_LEVEL = 3  # zlib level: rendered text pages compress well already; 3 is about 3x faster than 9


class PageOutOfRange(ValueError):
    """The PDF has no such page; ``pages`` is its page count."""

    def __init__(self, page: int, pages: int) -> None:
        self.page = page
        self.pages = pages
        super().__init__(f"page {page} is out of range; the PDF has pages 1..{pages}")


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """One page as PNG bytes; ``width`` x ``height`` pixels, rendered at ``dpi`` (lower than asked when the page
    would pass the pixel budget)."""

    png: bytes
    width: int
    height: int
    dpi: float


def capped_scale(dpi: float, width_pt: float, height_pt: float, max_pixels: int) -> float:
    """PDFium scale (pixels per point) for ``dpi``, lowered so the page stays within ``max_pixels`` pixels.

    >>> capped_scale(144, 612, 792, 10_000_000)  # US letter at 144 dpi: 1224 x 1584 px, under the budget
    2.0
    >>> s = capped_scale(144, 14400, 14400, 4_000_000)  # a 200-inch poster page: capped to 2000 x 2000 px
    >>> round(s * 14400)
    2000
    """
    if not dpi > 0 or not max_pixels > 0:
        raise ValueError(f"dpi and max_pixels must be > 0, got {dpi!r} and {max_pixels!r}")
    scale = dpi / 72.0
    area = max(width_pt, 1.0) * max(height_pt, 1.0)
    return min(scale, math.sqrt(max_pixels / area))


def _page_size(path: Path, page: int) -> tuple[float, float]:
    """(width, height) of a page in PDF points; raises PdfError for unreadable files, PageOutOfRange."""
    from rag.pdf_render import count_pages

    pages = count_pages(path)  # PdfError (missing, corrupt, password) with the reason set
    if not 1 <= page <= pages:
        raise PageOutOfRange(page, pages)
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        p = doc[page - 1]
        try:
            w, h = p.get_size()
        finally:
            p.close()
    finally:
        doc.close()
    return float(w), float(h)


def render_png(path: str | Path, page: int, *, dpi: float, max_pixels: int) -> RenderedPage:
    """Render 1-based ``page`` of the PDF at ``path`` as PNG (RGB) at ``dpi``, within ``max_pixels`` pixels.

    Raises :class:`PageOutOfRange`, or :class:`rag.pdf_render.PdfError` for a missing, corrupt or locked file.
    Call it from one thread per process (PDFium is not thread-safe); the server calls it in this module's child.
    """
    from rag.pdf_render import render_pages

    path = Path(path)
    if isinstance(page, bool) or not isinstance(page, int):
        raise TypeError(f"page must be a 1-based integer, got {page!r}")
    w, h = _page_size(path, page)
    scale = capped_scale(dpi, w, h, max_pixels)
    rendered = next(iter(render_pages(path, scale=scale, pages=[page])))
    buf = io.BytesIO()
    rendered.image.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return RenderedPage(buf.getvalue(), rendered.width, rendered.height, round(scale * 72.0, 2))


def handle(request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """One protocol request -> (header, PNG bytes). Never raises for a bad PDF: the error goes in the header."""
    from rag.pdf_render import PdfError

    try:
        r = render_png(request["path"], int(request["page"]), dpi=float(request["dpi"]), max_pixels=int(request["max_pixels"]))
    except PageOutOfRange as exc:
        return {"ok": False, "reason": "out_of_range", "message": str(exc), "pages": exc.pages}, b""
    except PdfError as exc:
        return {"ok": False, "reason": exc.reason, "message": str(exc), "pages": None}, b""
    return {"ok": True, "width": r.width, "height": r.height, "dpi": r.dpi, "bytes": len(r.png)}, r.png


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer requests from ``stdin`` until it closes."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            header, body = handle(json.loads(line))
        except Exception as exc:  # a bug or an unexpected PDFium error: report it, keep serving
            header, body = {"ok": False, "reason": "render_failed", "message": f"{type(exc).__name__}: {exc}", "pages": None}, b""
        stdout.write(json.dumps(header).encode("utf-8") + b"\n" + body)
        stdout.flush()


def main() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the server stops us
    # the protocol owns the real stdout; anything a library prints goes to stderr (the server log) instead
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, protocol)


if __name__ == "__main__":
    main()
