"""Page images of PDF documents: the URL hits and citations carry, the ETag, an LRU cache of rendered PNGs, and
the render workers (child processes running :mod:`api.page_worker`, started on first use).

>>> page_image_url("EBAY_2023Q1_8K.pdf", 2)
'/v1/documents/EBAY_2023Q1_8K.pdf/pages/2.png'
>>> page_image_url("reports/q1 #2.pdf", 1, root_path="/latte")
'/latte/v1/documents/reports%2Fq1%20%232.pdf/pages/1.png'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from api.page_worker import RenderedPage

log = logging.getLogger("latte.api")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def page_image_url(doc_id: str, page: int, root_path: str = "") -> str:
    """The relative URL of ``GET /v1/documents/{id}/pages/{page}.png`` (the id percent-encoded, ``/`` too)."""
    return f"{root_path}/v1/documents/{quote(doc_id, safe='')}/pages/{int(page)}.png"


def add_hit_urls(hits: Sequence[dict[str, Any]], root_path: str = "") -> None:
    """Set ``page_image_url`` on each hit dict whose passage has a page (None otherwise).

    >>> hits = [{"doc_id": "a.pdf", "passage": {"page": 3}}, {"doc_id": "n1", "passage": {"page": None}}]
    >>> add_hit_urls(hits); [h["page_image_url"] for h in hits]
    ['/v1/documents/a.pdf/pages/3.png', None]
    """
    for h in hits:
        page = (h.get("passage") or {}).get("page")
        h["page_image_url"] = page_image_url(h["doc_id"], page, root_path) if page else None


def add_citation_urls(citations: Sequence[dict[str, Any]], root_path: str = "") -> None:
    """Set ``page_image_url`` on each citation dict that has a page (None otherwise)."""
    for c in citations:
        page = c.get("page")
        c["page_image_url"] = page_image_url(c["doc_id"], page, root_path) if page else None


def page_etag(version: int, doc_id: str, page: int, dpi: int) -> str:
    """A strong ETag for one page image of one index version (quoted, ASCII whatever the id).

    >>> page_etag(3, "a.pdf", 1, 96) == page_etag(3, "a.pdf", 1, 96), page_etag(3, "a.pdf", 1, 96) == page_etag(4, "a.pdf", 1, 96)
    (True, False)
    >>> len(page_etag(3, "a.pdf", 1, 96))
    26
    """
    key = f"{version}\x00{doc_id}\x00{page}\x00{dpi}".encode("utf-8", "surrogatepass")
    return '"' + hashlib.blake2b(key, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, as RFC 9110 asks for it).

    >>> etag_matches('"abc", W/"def"', '"def"'), etag_matches("*", '"x"'), etag_matches('"abc"', '"x"'), etag_matches(None, '"x"')
    (True, True, False, False)
    """
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags


class PageCache:
    """A least-recently-used cache of rendered pages bounded by their PNG bytes (0 disables it); thread-safe.

    >>> c = PageCache(10)
    >>> c.put("a", RenderedPage(b"123456", 1, 1, 72.0)); c.put("b", RenderedPage(b"1234", 1, 1, 72.0))
    >>> c.get("a") is not None; c.put("c", RenderedPage(b"12", 1, 1, 72.0))  # "b" is now the oldest: evicted
    True
    >>> sorted(c.keys()), c.size
    (['a', 'c'], 8)
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[Hashable, RenderedPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> RenderedPage | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Hashable, item: RenderedPage) -> None:
        n = len(item.png)
        if n > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old.png)
            self._items[key] = item
            self.size += n
            while self.size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self.size -= len(evicted.png)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)


class RenderError(Exception):
    """A page that could not be rendered. ``reason``: ``out_of_range`` (``pages`` holds the PDF's page count), a
    :class:`rag.pdf_render.PdfError` reason (``corrupt``, ``password_required``...), ``timeout``, ``crashed`` or
    ``busy``. ``detail`` is for the server log only (it may name the file)."""

    def __init__(self, reason: str, detail: str = "", pages: int | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.pages = pages
        super().__init__(f"{reason}: {detail}" if detail else reason)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class RenderWorker:
    """One ``python -m api.page_worker`` child: started on first use, replaced after a crash or a timeout."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen[bytes] | None = None

    def _process(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.page_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=_child_env(),
                cwd=str(PROJECT_ROOT),
            )
        return self.proc

    def render(self, path: Path, page: int, dpi: float, max_pixels: int) -> RenderedPage:
        """Render in the child; raises RenderError. A render over ``timeout`` seconds kills the child."""
        proc = self._process()
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(self.timeout, expire)
        timer.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None  # pipes were asked for
            request = {"path": str(path), "page": page, "dpi": dpi, "max_pixels": max_pixels}
            proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            header = json.loads(line) if line else None
            body = proc.stdout.read(header["bytes"]) if header and header.get("ok") else b""
        except (OSError, ValueError) as exc:  # a broken pipe or a garbled answer: the child is gone or unusable
            header, body = None, b""
            log.warning("page render worker failed: %s", exc)
        finally:
            timer.cancel()
        if expired.is_set():
            self.stop()
            raise RenderError("timeout", f"page {page} of {path} took over {self.timeout} s")
        if header is None or (header.get("ok") and len(body) != header["bytes"]):
            self.stop()
            raise RenderError("crashed", f"the render worker died on page {page} of {path}")
        if not header["ok"]:
            raise RenderError(header["reason"], header.get("message", ""), header.get("pages"))
        return RenderedPage(body, header["width"], header["height"], header["dpi"])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()


class PageRenderer:
    """Renders pages through ``workers`` child processes, with an LRU cache keyed by the file's identity.

    A cached page is reused across index versions as long as the file (inode, mtime, size) is unchanged.
    ``render`` blocks: call it from the threadpool.
    """

    def __init__(self, *, workers: int = 1, timeout: float = 30.0, cache_bytes: int = 32 * 1024 * 1024) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.timeout = timeout
        self.cache = PageCache(cache_bytes)
        self._workers = [RenderWorker(timeout) for _ in range(workers)]
        self._idle: queue.LifoQueue[RenderWorker] = queue.LifoQueue()
        for w in self._workers:
            self._idle.put(w)
        self._closed = False

    def render(self, path: Path, page: int, dpi: int, max_pixels: int) -> tuple[RenderedPage, bool]:
        """``(page image, came from the cache)``; raises FileNotFoundError when the file is gone, RenderError."""
        st = path.stat()
        key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size, page, dpi, max_pixels)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, True
        if self._closed:
            raise RenderError("busy", "the server is shutting down")
        try:
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            raise RenderError("busy", f"every render worker was busy for {self.timeout} s") from None
        try:
            rendered = worker.render(path, page, dpi, max_pixels)
        finally:
            self._idle.put(worker)
        self.cache.put(key, rendered)
        return rendered, False

    def close(self) -> None:
        self._closed = True
        for w in self._workers:
            w.stop()
