"""In-process generation with llama.cpp (``llama-cpp-python``, the ``[llm]`` extra), from a GGUF file.

The model is loaded once, in ``__init__``, and reused by every call; a lock serialises generations because
a ``llama_cpp.Llama`` holds one KV cache (a second caller waits until the first stream is finished or closed).
Token counts use ``Llama.tokenize``, the model's own tokenizer. When the GGUF carries a chat template and no
``chat_format`` is forced, ``count_prompt_tokens`` renders it exactly as llama-cpp-python does, so the
prompt's token count including role markers is exact.

``max_tokens`` guard: llama-cpp-python (0.3.x) skips its ``max_tokens`` check while the text so far ends in
an incomplete UTF-8 sequence, so a model that keeps emitting stray lead bytes (random or badly quantised
weights) generates until the context is full and fails. A small logits processor counts sampled tokens and
forces end-of-sequence once ``max_tokens`` is reached, so the answer ends where it should.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.answer.base import Message, Prompt, check_generation_args, check_prompt
from rag.answer.records import GenerationError

LLM_EXTRA_HINT = 'pip install "latte[llm]"  (or: pip install llama-cpp-python)'


def import_llama_cpp() -> Any:
    """Import ``llama_cpp`` lazily; the ImportError names the install command."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ImportError(f"LlamaCppGenerator needs llama-cpp-python: {LLM_EXTRA_HINT}") from exc
    return llama_cpp


def max_tokens_guard(limit: int, eos_token: int, cancel: threading.Event | None = None) -> Any:
    """A llama-cpp-python logits processor that lets ``limit`` tokens be sampled, then forces ``eos_token``.

    ``scores``: float32 ``[n_vocab]`` logits in token-id order; returned unchanged until call ``limit + 1``, or
    until ``cancel`` is set (checked at every token; both completion and chat calls take a logits processor).

    >>> import numpy as np
    >>> guard = max_tokens_guard(1, eos_token=2)
    >>> guard(None, np.zeros(4, dtype=np.float32)).tolist()
    [0.0, 0.0, 0.0, 0.0]
    >>> guard(None, np.zeros(4, dtype=np.float32)).tolist()
    [-inf, -inf, 0.0, -inf]
    >>> stop = threading.Event()
    >>> guard = max_tokens_guard(10, eos_token=0, cancel=stop)
    >>> guard(None, np.zeros(2, dtype=np.float32)).tolist()
    [0.0, 0.0]
    >>> stop.set()
    >>> guard(None, np.zeros(2, dtype=np.float32)).tolist()
    [0.0, -inf]
    """
    import numpy as np

    calls = 0

    def processor(input_ids: Any, scores: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls <= limit and (cancel is None or not cancel.is_set()):
            return scores
        forced = np.full_like(scores, -np.inf)
        forced[eos_token] = 0.0
        return forced

    return processor


class LlamaCppGenerator:
    """A GGUF model run in this process by llama.cpp.

    ``n_ctx``: context window in tokens (prompt + answer); ``n_threads``: CPU threads for generation (None:
    llama.cpp's default); ``n_threads_batch``: threads for prompt processing (None: same as ``n_threads`` when
    that is set — on a shared, busy CPU more threads than free cores make prompt processing several times
    slower); ``n_gpu_layers``: layers offloaded to the GPU (0: CPU only; -1: all; needs a
    CUDA/Metal build of llama-cpp-python); ``chat_format``: a llama-cpp-python chat format name (``"chatml"``,
    ``"llama-3"``...) to use instead of the template stored in the GGUF; ``seed``: sampling seed (None: random).
    """

    def __init__(
        self,
        model_path: str | Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
        *,
        n_threads_batch: int | None = None,
        seed: int | None = None,
        verbose: bool = False,
    ) -> None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"GGUF model file not found: {path}. Download a GGUF (e.g. a Q4_K_M instruct model) and pass its path."
            )
        if n_ctx < 16:
            raise ValueError(f"n_ctx must be at least 16 tokens, got {n_ctx}")
        llama_cpp = import_llama_cpp()
        kwargs: dict[str, Any] = dict(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads_batch if n_threads_batch is not None else n_threads,
            n_gpu_layers=n_gpu_layers,
            chat_format=chat_format,
            verbose=verbose,
        )
        if seed is not None:
            kwargs["seed"] = seed
        try:
            self._llama = llama_cpp.Llama(**kwargs)
        except ValueError as exc:
            raise ValueError(f"llama.cpp could not load {path} ({exc}); is it a valid GGUF model file?") from exc
        self.model_path = path
        self.name = f"llama.cpp:{path.name}"
        self._lock = threading.Lock()
        self._closed = False
        self._formatter = self._gguf_chat_formatter(llama_cpp) if chat_format is None else None

    def _gguf_chat_formatter(self, llama_cpp: Any) -> Any | None:
        """The Jinja formatter llama-cpp-python builds from the GGUF's ``tokenizer.chat_template``, or None."""
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp import llama_chat_format

        def text(token_id: int) -> str:
            return self._llama._model.token_get_text(token_id) if token_id != -1 else ""

        eos, bos = self._llama.token_eos(), self._llama.token_bos()
        return llama_chat_format.Jinja2ChatFormatter(
            template=template, eos_token=text(eos), bos_token=text(bos), stop_token_ids=[eos]
        )

    @property
    def context_size(self) -> int:
        return int(self._llama.n_ctx())

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` with the model's tokenizer (no BOS, special-token text counted as plain text)."""
        if not text:
            return 0
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int | None:
        """Exact prompt tokens of chat ``messages`` after the GGUF chat template, generation prompt included;
        None when the GGUF has no template or a ``chat_format`` was forced (then callers keep a reserve)."""
        if self._formatter is None:
            return None
        check_prompt(messages)
        result = self._formatter(messages=[dict(m) for m in messages])
        tokens = self._llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        return len(tokens)

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 512,
        temperature: float = 0.1,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as llama.cpp samples them; chat messages go through the chat template.

        Raises ``GenerationError`` when llama.cpp rejects the prompt (e.g. longer than the context window).
        Arguments are checked before the first piece is requested. ``cancel``: checked before every token is
        sampled; once set, end-of-sequence is forced there and the stream ends.
        """
        check_prompt(prompt)
        check_generation_args(max_tokens, temperature)
        return self._stream(prompt, max_tokens=max_tokens, temperature=temperature, stop=list(stop or []), cancel=cancel)

    def _stream(
        self, prompt: Prompt, *, max_tokens: int, temperature: float, stop: list[str], cancel: threading.Event | None
    ) -> Iterator[str]:
        from llama_cpp import LogitsProcessorList

        guard = LogitsProcessorList([max_tokens_guard(max_tokens, self._llama.token_eos(), cancel)])
        with self._lock:
            try:
                if isinstance(prompt, str):
                    chunks = self._llama.create_completion(
                        prompt,
                        max_tokens=max_tokens,
                        temperature=temperature,
                        stop=stop or None,
                        stream=True,
                        logits_processor=guard,
                    )
                    for chunk in chunks:
                        piece = chunk["choices"][0].get("text") or ""
                        if piece:
                            yield piece
                else:
                    chunks = self._llama.create_chat_completion(
                        messages=[dict(m) for m in prompt],
                        max_tokens=max_tokens,
                        temperature=temperature,
                        stop=stop or None,
                        stream=True,
                        logits_processor=guard,
                    )
                    for chunk in chunks:
                        piece = chunk["choices"][0].get("delta", {}).get("content") or ""
                        if piece:
                            yield piece
            except (ValueError, RuntimeError) as exc:
                raise GenerationError(f"llama.cpp generation failed with {self.model_path.name}: {exc}") from exc

    def close(self) -> None:
        """Free the model's memory now (otherwise freed when the generator is garbage-collected)."""
        with self._lock:
            close = getattr(self._llama, "close", None)
            if close is not None and not self._closed:
                close()
            self._closed = True

    def __repr__(self) -> str:
        return f"LlamaCppGenerator({str(self.model_path)!r}, n_ctx={self.context_size})"
