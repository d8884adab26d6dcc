"""Small real socket servers for the HTTP generator tests: each one speaks just enough HTTP/1.1.

- ``ScriptedSSEServer``: answers ``POST /v1/chat/completions`` and ``/v1/completions`` with a stream of
  OpenAI-style SSE chunks carrying the given text pieces. ``ending`` picks how the stream ends:
  ``"done"`` (finish_reason + ``[DONE]``, a normal end), ``"cut"`` (chunked encoding, the socket is closed
  in the middle of the body: the server died), ``"close"`` (no chunked encoding, the connection is closed
  cleanly after the pieces but without ``[DONE]``). ``routes`` maps other paths to a JSON body, or to a
  function of the request's JSON that returns one; every other path gets 404 (so token counting falls
  back to the estimate). Requests are recorded in ``requests``.
- ``SilentServer``: accepts connections and never answers (read timeout).
- ``FullBacklogServer``: listens with a backlog of 0 and never accepts; once one connection fills the
  queue, further connects hang (connect timeout).

Every response says ``Connection: close`` and closes its socket. All bind ``127.0.0.1`` on a free port
and are context managers that stop their thread on exit.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any


def _read_request(conn: socket.socket) -> tuple[str, str, bytes]:
    """Read one request: method, path, body (by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return "", "", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return method, path, body


class _Base:
    def __init__(self, backlog: int = 16) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread: threading.Thread | None = None

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._handle_safely, args=(conn,), daemon=True).start()

    def _handle_safely(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self):
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()


class ScriptedSSEServer(_Base):
    def __init__(
        self, pieces: list[str], ending: str = "done", status: int = 200, routes: dict[str, Any] | None = None
    ) -> None:
        if ending not in ("done", "cut", "close"):
            raise ValueError(f"ending must be done, cut or close, got {ending!r}")
        super().__init__()
        self.pieces = pieces
        self.ending = ending
        self.status = status
        self.routes = routes or {}
        self.requests: list[dict[str, Any]] = []

    @staticmethod
    def _chunk(piece: str, chat: bool, finish: str | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
        if chat:
            choice["delta"] = {"content": piece} if piece else {}
        else:
            choice["text"] = piece
        return {"id": "x", "object": "chat.completion.chunk" if chat else "text_completion", "choices": [choice]}

    def handle(self, conn: socket.socket) -> None:
        method, path, body = _read_request(conn)
        if not method:
            return
        payload = json.loads(body) if body else None
        self.requests.append({"method": method, "path": path, "json": payload})
        if path in self.routes:
            route = self.routes[path]
            msg = json.dumps(route(payload) if callable(route) else route).encode()
            conn.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                f"Content-Length: {len(msg)}\r\n\r\n".encode()
                + msg
            )
            conn.close()
            return
        if path not in ("/v1/chat/completions", "/v1/completions"):
            msg = b'{"detail":"Not Found"}'
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                + str(len(msg)).encode()
                + b"\r\n\r\n"
                + msg
            )
            conn.close()
            return
        if self.status != 200:
            msg = json.dumps({"error": {"message": "scripted failure"}}).encode()
            conn.sendall(
                f"HTTP/1.1 {self.status} Error\r\nContent-Type: application/json\r\nContent-Length: {len(msg)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + msg
            )
            conn.close()
            return
        chat = path.endswith("chat/completions")
        events = [f"data: {json.dumps(self._chunk(p, chat))}\r\n\r\n".encode() for p in self.pieces]
        if self.ending == "done":
            events.append(f"data: {json.dumps(self._chunk('', chat, 'stop'))}\r\n\r\n".encode())
            events.append(b"data: [DONE]\r\n\r\n")
        if self.ending == "close":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            for e in events:
                conn.sendall(e)
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            return
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n"
        )
        for e in events:
            conn.sendall(f"{len(e):x}\r\n".encode() + e + b"\r\n")
        if self.ending == "cut":  # die mid-body: no terminating zero-length chunk
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            return
        conn.sendall(b"0\r\n\r\n")
        conn.close()


class SilentServer(_Base):
    """Accepts, reads nothing, answers nothing; connections stay open until the server stops."""

    def handle(self, conn: socket.socket) -> None:
        self._stop.wait()


class FullBacklogServer:
    """A listening socket that never accepts; ``fill()`` occupies its one-slot queue."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._fillers: list[socket.socket] = []

    def __enter__(self):
        filler = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        self._fillers.append(filler)
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self._fillers:
            f.close()
        self.sock.close()


def closed_port() -> int:
    """A local port with nothing listening (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
