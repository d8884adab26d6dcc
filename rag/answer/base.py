"""The one generator interface: count tokens with the model's tokenizer, stream text pieces.

Backends: ``LlamaCppGenerator`` (in-process llama.cpp) and ``OpenAIHTTPGenerator`` (any
OpenAI-compatible server). ``answer()`` needs nothing else from a generator, so a new backend
only has to fill these four members.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    """One chat message, as the OpenAI chat API takes it."""

    role: str  # "system" | "user" | "assistant"
    content: str


Prompt = str | Sequence[Message]


@runtime_checkable
class Generator(Protocol):
    """A text generator with a known context window.

    - ``name``: short id recorded in ``Answer.generator`` (e.g. ``"llama.cpp:qwen2.5-1.5b-q4_k_m.gguf"``).
    - ``context_size``: tokens the model sees at once (prompt + answer).
    - ``count_tokens(text)``: tokens of ``text`` with the model's own tokenizer, no BOS/special tokens added.
    - ``stream(prompt, ...)``: chat messages (the model's chat template is applied) or a raw prompt string
      (plain completion); yields text pieces as the model produces them. Raises ``GenerationError`` when
      generation fails or stops abnormally; a finished stream means the model finished (EOS, stop string or
      ``max_tokens``) or ``cancel`` was set: generation then stops at the next token (not the next piece: a
      model can sample many tokens that add no text), so a reader that leaves frees the model at once.
    """

    name: str

    @property
    def context_size(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 512,
        temperature: float = 0.1,
        stop: Sequence[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]: ...


def flatten_messages(messages: Sequence[Message]) -> str:
    """Render chat messages as one plain prompt for completion-only backends.

    >>> flatten_messages([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}])
    'System: Be brief.\\n\\nUser: Hi?\\n\\nAssistant:'
    """
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(parts + ["Assistant:"])


def check_prompt(prompt: Prompt) -> None:
    """Raise ValueError with a clear message when ``prompt`` is neither a string nor chat messages."""
    if isinstance(prompt, str):
        return
    if not isinstance(prompt, Sequence) or not prompt:
        raise ValueError("prompt must be a string or a non-empty list of {'role', 'content'} messages")
    for m in prompt:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ValueError(f"each chat message must be a dict with string 'role' and 'content', got {m!r}")


def check_generation_args(max_tokens: int, temperature: float) -> None:
    """Raise ValueError for a non-positive ``max_tokens`` or a negative ``temperature``."""
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
