"""Tiny random ColPali and ColQwen2 checkpoints, built on the spot (no download), in the real layout.

Each builder trains a small BPE tokenizer with the ``tokenizers`` library in the style of the real
one (Gemma: "▁" for spaces plus byte fallback; Qwen2: byte-level), wraps it in transformers'
``GemmaTokenizer`` / ``Qwen2Tokenizer``, builds the real processor (``ColPaliProcessor`` adds the
``<image>`` token and PaliGemma's ``<locXXXX>``/``<segXXX>`` tokens; ``ColQwen2Processor`` uses the
``<|image_pad|>`` token), sizes the model's vocabulary to the tokenizer, and saves model and
processor with ``save_pretrained`` in one folder, loadable with ``from_pretrained``.

Weights are random (fixed seed): the models produce well-formed but meaningless embeddings.
Shared by ``tests/rag/encoders/test_colpali.py`` and ``benchmarks/bench_colpali.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

_CORPUS = [
    "Describe the image.",
    "Question: what was the revenue of the company in the quarter?",
    "Query: net sales increased compared to the prior year period",
    "total assets, liabilities and shareholders equity",
    "user assistant system diluted earnings per share",
    "operating income cash flow 2023 first quarter results",
]

#: Vision/text sizes shared by both tiny models.
HIDDEN = 32
EMBEDDING_DIM = 128  # as in the published checkpoints, so storage figures are realistic


def _train_bpe(tokenizer, specials: list[str], vocab_size: int, alphabet: list[str] | None = None):
    """Train ``tokenizer`` (a ``tokenizers.Tokenizer`` with a BPE model) on the toy corpus; return (vocab, merges)."""
    from tokenizers import trainers

    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False, initial_alphabet=alphabet or []
    )
    tokenizer.train_from_iterator(_CORPUS * 10, trainer)
    state = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    return state["vocab"], merges


def _gemma_tokenizer():
    """A Gemma-style tokenizer: specials at ids 0..4, 256 byte-fallback tokens, then learned merges."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"] + [f"<0x{i:02X}>" for i in range(256)]
    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    bpe.normalizer = normalizers.Replace(" ", "▁")
    bpe.pre_tokenizer = pre_tokenizers.Split(pattern="▁", behavior="merged_with_next")
    vocab, merges = _train_bpe(bpe, specials, vocab_size=420)
    return GemmaTokenizer(vocab=vocab, merges=merges)


_QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]


def _qwen2_tokenizer():
    """A Qwen2-style byte-level BPE tokenizer with the Qwen2-VL special tokens added after the vocabulary."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    vocab, merges = _train_bpe(bpe, [], vocab_size=400, alphabet=pre_tokenizers.ByteLevel.alphabet())
    vocab["<|endoftext|>"] = len(vocab)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges)
    tokenizer.add_special_tokens({"additional_special_tokens": _QWEN_SPECIALS[1:]})
    return tokenizer


def build_tiny_colpali(folder: Path, *, image_size: int = 32, patch_size: int = 8, seed: int = 0) -> Path:
    """Save a random ColPali (tiny SigLIP + tiny Gemma, PaliGemma layout) with its processor into ``folder``.

    A page becomes ``(image_size // patch_size) ** 2`` image tokens (16 by default) plus the 5
    tokens of ColPali's visual prompt ``<bos>Describe the image.\\n``.
    """
    from transformers import ColPaliConfig, ColPaliForRetrieval, ColPaliProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    n_image_tokens = (image_size // patch_size) ** 2
    tokenizer = _gemma_tokenizer()
    image_processor = SiglipImageProcessorPil(
        size={"height": image_size, "width": image_size}, image_seq_length=n_image_tokens
    )
    processor = ColPaliProcessor(image_processor=image_processor, tokenizer=tokenizer)
    vocab_size = len(processor.tokenizer)
    config = ColPaliConfig(
        vlm_config={
            "model_type": "paligemma",
            "text_config": {
                "model_type": "gemma",
                "vocab_size": vocab_size,
                "hidden_size": HIDDEN,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 1,
                "head_dim": 8,
                "intermediate_size": 64,
                "pad_token_id": tokenizer.pad_token_id,
                "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id,
            },
            "vision_config": {
                "model_type": "siglip_vision_model",
                "image_size": image_size,
                "patch_size": patch_size,
                "hidden_size": HIDDEN,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "intermediate_size": 64,
            },
            "image_token_index": processor.image_token_id,
            "projection_dim": HIDDEN,
            "hidden_size": HIDDEN,
            "vocab_size": vocab_size,
        },
        embedding_dim=EMBEDDING_DIM,
    )
    torch.manual_seed(seed)
    model = ColPaliForRetrieval(config).eval()
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_tiny_colqwen2(
    folder: Path, *, patch_size: int = 4, merge_size: int = 2, max_image_tokens: int = 64, seed: int = 0
) -> Path:
    """Save a random ColQwen2 (tiny Qwen2-VL vision tower + text model) with its processor into ``folder``.

    Pages are resized so that their side lengths are multiples of ``patch_size * merge_size`` and
    they give at most ``max_image_tokens`` image tokens (``h * w / (patch_size * merge_size)**2``).
    """
    from transformers import ColQwen2Config, ColQwen2ForRetrieval, ColQwen2Processor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = _qwen2_tokenizer()
    factor = patch_size * merge_size
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=patch_size,
        merge_size=merge_size,
        temporal_patch_size=2,
        min_pixels=4 * factor * factor,
        max_pixels=max_image_tokens * factor * factor,
    )
    processor = ColQwen2Processor(image_processor=image_processor, tokenizer=tokenizer)
    ids = dict(zip(_QWEN_SPECIALS, tokenizer.convert_tokens_to_ids(_QWEN_SPECIALS)))
    vocab_size = len(tokenizer)
    config = ColQwen2Config(
        vlm_config={
            "model_type": "qwen2_vl",
            "text_config": {
                "vocab_size": vocab_size,
                "hidden_size": HIDDEN,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "intermediate_size": 64,
                # multimodal RoPE: temporal/height/width sections add up to head_dim / 2 = (32 / 4) / 2
                "rope_parameters": {"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": 10000.0},
                "bos_token_id": ids["<|endoftext|>"],
                "eos_token_id": ids["<|endoftext|>"],
                "pad_token_id": ids["<|endoftext|>"],
            },
            "vision_config": {
                "depth": 2,
                "embed_dim": HIDDEN,
                "hidden_size": HIDDEN,
                "num_heads": 4,
                "patch_size": patch_size,
                "spatial_merge_size": merge_size,
                "temporal_patch_size": 2,
            },
            "image_token_id": ids["<|image_pad|>"],
            "video_token_id": ids["<|video_pad|>"],
            "vision_start_token_id": ids["<|vision_start|>"],
            "vision_end_token_id": ids["<|vision_end|>"],
            "vocab_size": vocab_size,
        },
        embedding_dim=EMBEDDING_DIM,
    )
    torch.manual_seed(seed)
    model = ColQwen2ForRetrieval(config).eval()
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
