"""Start and stop a real ``python -m llama_cpp.server`` process (the llama-cpp-python ``[server]`` extra)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(
    model: Path,
    *,
    n_ctx: int,
    log_path: Path,
    alias: str = "tiny",
    threads: int = 1,
    timeout_s: float = START_TIMEOUT_S,
) -> tuple[subprocess.Popen, str]:
    """Start the server on a free local port and wait (at most ``timeout_s``) until ``/v1/models`` answers.

    Returns ``(process, base_url)``. Raises RuntimeError with the end of the server log when it does not
    come up in time or exits early.
    """
    import httpx

    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--model_alias", alias,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/v1/models", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_llama_server(proc)
    tail = Path(log_path).read_text(errors="replace")[-2000:]
    raise RuntimeError(f"llama_cpp.server did not become ready within {timeout_s:g}s:\n{tail}")


def stop_llama_server(proc: subprocess.Popen) -> None:
    """Terminate, then kill after 10 s; always reaps the process."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait(timeout=10)
