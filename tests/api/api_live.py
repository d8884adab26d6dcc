"""Helpers for the API tests: synthetic corpora, tmp indexes, and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ze", "bo", "ni", "fa", "ho"]
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
KEY = "test-key-0123456789"


def word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(SYLLABLES, size=3))


def make_text(i: int, n_words: int = 60, extra: str = "") -> str:
    """A document of random three-syllable words (4,096 distinct), seeded by ``i``: no two are near duplicates."""
    rng = np.random.default_rng(i)
    words = [word(rng) for _ in range(n_words)]
    sentences = [" ".join(words[j : j + 10]).capitalize() + "." for j in range(0, n_words, 10)]
    return " ".join(sentences) + (f" {extra}" if extra else "")


def make_rows(n: int, start: int = 0, extra: str = "") -> list[dict[str, Any]]:
    return [
        {"_id": f"doc{i}", "title": f"Document {i}", "text": make_text(i, extra=extra), "year": 2000 + i % 10}
        for i in range(start, start + n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build_index(folder: Path, rows: list[dict[str, Any]], *, profile: str = "bm25", batch_docs: int = 2000) -> Path:
    from rag.ingest import IngestSettings
    from rag.service import ingest_paths

    folder.mkdir(parents=True, exist_ok=True)
    corpus = write_jsonl(folder / "corpus.jsonl", rows)
    index = folder / "index"
    ingest_paths([corpus], index, profile=profile, settings=IngestSettings(batch_docs=batch_docs))
    return index


@dataclass
class Live:
    url: str
    app: Any
    server: Any

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kw.pop("timeout", 60.0), **kw)

    @property
    def state(self) -> Any:
        return self.app.state.latte


@contextmanager
def live_server(settings: Any, *, ready: bool = True, timeout: float = 120.0) -> Iterator[Live]:
    """``create_app(settings)`` served by uvicorn in a thread on 127.0.0.1 (a socket bound to port 0)."""
    import uvicorn

    from api.app import create_app

    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn-test")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        if ready:
            wait_ready(url, deadline)
        yield Live(url, app, server)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def wait_ready(url: str, deadline: float) -> None:
    last = None
    while time.monotonic() < deadline:
        r = httpx.get(url + "/readyz", timeout=10)
        if r.status_code == 200:
            return
        last = r.json()
        if not last.get("reason", "").startswith("loading"):
            raise RuntimeError(f"the test server will not become ready: {last}")
        time.sleep(0.05)
    raise RuntimeError(f"the test server was not ready in time: {last}")


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a Server-Sent Events body."""
    out = []
    for frame in body.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in frame.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            out.append((event, json.loads("\n".join(data))))
    return out
