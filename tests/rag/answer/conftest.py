"""Fixtures for the answer tests: the tiny random GGUF, an in-process llama.cpp generator, a real
``llama_cpp.server`` process serving the same file, and a guard that fails a call instead of hanging."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llama_server_proc import start_llama_server, stop_llama_server  # noqa: E402
from tiny_gguf import build_tiny_gguf  # noqa: E402

SERVER_N_CTX = 512


def _need_llama_cpp() -> None:
    pytest.importorskip("llama_cpp", reason='llama-cpp-python is not installed: pip install "latte[llm]"')


@pytest.fixture(scope="session")
def tiny_gguf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gguf", reason="the tiny test model is written with gguf: pip install gguf")
    pytest.importorskip("tokenizers", reason="the tiny test vocabulary is trained with tokenizers")
    return build_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="session")
def llama_gen(tiny_gguf_path: Path):
    """The tiny model in-process with a small 256-token context, so packing limits are easy to reach."""
    _need_llama_cpp()
    from rag.answer import LlamaCppGenerator

    gen = LlamaCppGenerator(tiny_gguf_path, n_ctx=256, n_threads=1, seed=0)
    yield gen
    gen.close()


@pytest.fixture(scope="session")
def llama_server(tiny_gguf_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real ``python -m llama_cpp.server`` serving the tiny model; yields ``{"url", "model", "n_ctx", "proc"}``."""
    _need_llama_cpp()
    pytest.importorskip("sse_starlette", reason='the llama.cpp server needs its extra: pip install "llama-cpp-python[server]"')
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    try:
        proc, url = start_llama_server(tiny_gguf_path, n_ctx=SERVER_N_CTX, log_path=log_path)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield {"url": url, "model": "tiny", "n_ctx": SERVER_N_CTX, "proc": proc}
    stop_llama_server(proc)


@pytest.fixture
def run_bounded() -> Callable[..., Any]:
    """``run_bounded(fn, seconds)``: call ``fn()`` in a thread; fail the test if it has not returned in time.

    Returns ``(result, exception, elapsed_s)`` so tests can assert on errors and on promptness.
    """

    def run(fn: Callable[[], Any], seconds: float) -> tuple[Any, BaseException | None, float]:
        box: dict[str, Any] = {}

        def target() -> None:
            t0 = time.monotonic()
            try:
                box["result"] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                box["error"] = exc
            box["elapsed"] = time.monotonic() - t0

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(seconds)
        if thread.is_alive():
            pytest.fail(f"call did not return within {seconds:g}s (it would hang)")
        return box.get("result"), box.get("error"), box["elapsed"]

    return run


class SetAfter(threading.Event):
    """A cancel event that reads as set from its ``n + 1``-th check on: cancels at a known token, not a moment."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.checks = 0

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks > self.n or super().is_set()


@pytest.fixture
def set_after() -> type[SetAfter]:
    """``set_after(n)``: a ``threading.Event`` for ``cancel=`` that the generator finds set at its ``n + 1``-th check."""
    return SetAfter
