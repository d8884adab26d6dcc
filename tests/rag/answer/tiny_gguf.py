"""Write a tiny random llama model as a GGUF file that ``llama_cpp.Llama`` loads and generates from.

Nothing is downloaded: the byte-level BPE vocabulary is trained on the spot with the ``tokenizers``
library on a few built-in English sentences and stored in the GGUF (``tokenizer.ggml.model = "gpt2"``,
with merges), so ``tokenize``/``detokenize`` work and counts are real BPE counts. The weights are random
(seeded), so generated text is gibberish: tests check plumbing, never content. The file holds a ChatML
chat template so chat completions work in-process and through ``llama_cpp.server``.

Reuse (e.g. from the API tests)::

    from tiny_gguf import build_tiny_gguf       # with tests/rag/answer on sys.path
    path = build_tiny_gguf(tmp_path / "tiny.gguf")

About 0.6 MB; builds in well under a second; ``Llama(model_path=...)`` loads it in milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Late interaction models compare every query token with every document token.",
    "Retrieval augmented generation answers questions from numbered sources and cites them.",
    "The company reported revenue growth in the fourth quarter of the fiscal year.",
    "Vitamin D deficiency is associated with a higher risk of bone fractures in older adults.",
    "Cells divide by mitosis; the protein binds to the receptor and activates the pathway.",
    "Answer only from the sources. If the sources do not contain the answer, say you do not know.",
    "Question: what does the passage say about the results of the clinical trial?",
    "Sources are numbered [1], [2] and [3]; cite them like [1] or [2, 3].",
    "Paris is the capital of France. Berlin is the capital of Germany. Water boils at 100 degrees.",
]


def ascii_alphabet() -> list[str]:
    """Byte-level BPE spellings (GPT-2 byte-to-unicode table) of printable ASCII, space, tab and newline."""
    table = {}
    shifted = 0
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + shifted)
            shifted += 1
    return [table[b] for b in [*range(33, 127), 32, 9, 10]]


def train_tokenizer(vocab_size: int = 512, ascii_only: bool = False):
    """Train a byte-level BPE tokenizer (GPT-2 pre-tokenization, no prefix space) on the built-in corpus.

    ``ascii_only``: the base alphabet is printable ASCII plus whitespace instead of all 256 bytes, so every
    token decodes to complete text (no lone UTF-8 bytes); non-ASCII input characters are then dropped.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=ascii_alphabet() if ascii_only else pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return tok


def _vocab_and_merges(tok) -> tuple[list[str], list[str]]:
    vocab = tok.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise RuntimeError("trained vocabulary ids are not contiguous")
    merges = json.loads(tok.to_str())["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    return tokens, merges


def build_tiny_gguf(
    path: str | Path,
    *,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_ff: int = 128,
    n_ctx_train: int = 4096,
    vocab_size: int = 512,
    seed: int = 0,
    chat_template: str | None = CHATML_TEMPLATE,
    dtype: str = "f32",
    pad_vocab_to: int | None = None,
    always_token: str | None = None,
    ascii_only: bool = False,
    no_eos: bool = False,
) -> Path:
    """Write a random llama GGUF with a real BPE vocabulary to ``path`` and return the path.

    ``dtype``: ``"f32"`` or ``"f16"`` weights (norms stay f32). ``pad_vocab_to``: append filler tokens
    spelled `` ~pad<i>`` up to this vocabulary size, so the embedding and output layers have a real model's
    size (for speed measurements with realistic shapes); tokenizing never produces them (no merge leads
    there) but the model may sample them, and each one decodes to visible text. ``always_token``: a vocabulary
    entry (byte-level BPE spelling) that greedy decoding then picks at every step: every embedding gets a
    constant first component, which survives the small random layers, and only that token's output row
    reads it. ``no_eos``: the same constant component pushes every special token's logit far down, so the
    model never ends by itself and always generates exactly ``max_tokens``. ``ascii_only``: see
    ``train_tokenizer``. (Benchmarks use both, so runs are equally long and one streamed piece is one token.)

    Tensor shapes (numpy order ``[out, in]``; GGUF stores them reversed): ``token_embd``/``output``
    ``[n_vocab, n_embd]``, attention ``[n_embd, n_embd]``, ``ffn_gate``/``ffn_up`` ``[n_ff, n_embd]``,
    ``ffn_down`` ``[n_embd, n_ff]``, norms ``[n_embd]``.
    """
    import gguf

    if n_embd % n_head:
        raise ValueError(f"n_embd={n_embd} must be a multiple of n_head={n_head}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if dtype not in ("f32", "f16"):
        raise ValueError(f"dtype must be 'f32' or 'f16', got {dtype!r}")
    tokens, merges = _vocab_and_merges(train_tokenizer(vocab_size, ascii_only=ascii_only))
    n_real = len(tokens)
    if pad_vocab_to is not None and pad_vocab_to > n_real:
        tokens = tokens + [f"\u0120~pad{i}" for i in range(pad_vocab_to - n_real)]  # "\u0120" is BPE's space
    n_vocab = len(tokens)
    ids = {t: i for i, t in enumerate(tokens)}

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("latte-tiny-random")
    w.add_context_length(n_ctx_train)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(
        [
            gguf.TokenType.CONTROL if t in SPECIAL_TOKENS else gguf.TokenType.NORMAL for t in tokens
        ]
    )
    w.add_token_merges(merges)
    w.add_bos_token_id(ids["<|endoftext|>"])
    w.add_eos_token_id(ids["<|im_end|>"])
    w.add_add_bos_token(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)

    rng = np.random.default_rng(seed)

    def rand(*shape: int) -> np.ndarray:
        x = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        return x if dtype == "f32" else x.astype(np.float16)

    ones = np.ones(n_embd, dtype=np.float32)
    embd, out = rand(n_vocab, n_embd), rand(n_vocab, n_embd)
    if always_token is not None and always_token not in ids:
        raise ValueError(f"always_token {always_token!r} is not in the vocabulary")
    if always_token is not None or no_eos:
        embd[:, 0] = 1.0
        out[:, 0] = 0.0
        if always_token is not None:
            out[ids[always_token], 0] = 5.0
        if no_eos:  # llama.cpp treats all three as end-of-generation
            for t in SPECIAL_TOKENS:
                out[ids[t], 0] = -5.0
    w.add_tensor("token_embd.weight", embd)
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        w.add_tensor(f"blk.{i}.attn_q.weight", rand(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.attn_k.weight", rand(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.attn_v.weight", rand(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.attn_output.weight", rand(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        w.add_tensor(f"blk.{i}.ffn_gate.weight", rand(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_up.weight", rand(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_down.weight", rand(n_embd, n_ff))
    w.add_tensor("output_norm.weight", ones)
    w.add_tensor("output.weight", out)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


if __name__ == "__main__":  # pragma: no cover - manual helper
    import sys

    print(build_tiny_gguf(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf"))
