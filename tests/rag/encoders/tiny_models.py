"""Tiny random models in real checkpoint layouts, built on the spot (no downloads).

- ``build_tiny_bge_m3(folder)``: XLM-RoBERTa in the BGE-M3 release layout (``config.json``,
  ``model.safetensors``, ``tokenizer.json`` + ``tokenizer_config.json`` of an XLM-R style Unigram
  tokenizer, ``sparse_linear.pt`` and ``colbert_linear.pt`` state dicts).
- ``build_tiny_sentence_transformer(folder)``: BERT in the sentence-transformers layout
  (``modules.json``, ``sentence_bert_config.json``, ``1_Pooling/config.json``, WordPiece tokenizer).

Other test folders can import the builders (``from tests.rag.encoders.tiny_models import ...`` with the
repository root on ``sys.path``, e.g. ``python -m pytest``) or the session fixtures below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "A woman is playing the violin.",
    "The quick brown fox jumps over the lazy dog.",
    "Late interaction retrieval scores every query token against every document token.",
    "Binary quantized vectors make the MaxSim rerank fast on a CPU.",
    "Sparse lexical weights keep the largest weight for each vocabulary term.",
    "Revenue increased by 12 percent compared with the prior fiscal year.",
    "Cells were incubated at 37 degrees for two hours before imaging.",
]

XLMR_SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4, as in XLM-RoBERTa (mask id differs)
BERT_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_xlmr_tokenizer(sentences: list[str] = SENTENCES, vocab_size: int = 200):
    """An XLM-R style tokenizer (Unigram, Metaspace, ``<s> $A </s>``) as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaTokenizer

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=XLMR_SPECIAL, unk_token="<unk>")
    tok.train_from_iterator(sentences * 3, trainer)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    return XLMRobertaTokenizer(tokenizer_object=tok, model_max_length=512)


def train_bert_tokenizer(sentences: list[str] = SENTENCES, vocab_size: int = 300):
    """A BERT style uncased WordPiece tokenizer (``[CLS] $A [SEP]``) as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizer

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(sentences * 3, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=BERT_SPECIAL))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return BertTokenizer(tokenizer_object=tok, model_max_length=512)


def build_tiny_bge_m3(
    folder: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4, colbert_dim: int | None = None, seed: int = 0
) -> Path:
    """Write a random tiny BGE-M3 checkpoint into ``folder`` and return it."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_xlmr_tokenizer()
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = XLMRobertaModel(config, add_pooling_layer=False).eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    sparse_linear = torch.nn.Linear(hidden, 1)
    colbert_linear = torch.nn.Linear(hidden, colbert_dim or hidden)
    torch.save(sparse_linear.state_dict(), folder / "sparse_linear.pt")
    torch.save(colbert_linear.state_dict(), folder / "colbert_linear.pt")
    return folder


def build_tiny_sentence_transformer(
    folder: Path,
    *,
    pooling: str = "mean",
    hidden: int = 32,
    layers: int = 2,
    heads: int = 4,
    max_seq_length: int = 64,
    prompts: dict[str, str] | None = None,
    seed: int = 0,
) -> Path:
    """Write a random tiny BERT sentence-transformers checkpoint into ``folder`` and return it."""
    from transformers import BertConfig, BertModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_bert_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    pooling_config = {"word_embedding_dimension": hidden} | {
        f"pooling_mode_{key}": pooling == mode
        for key, mode in (("cls_token", "cls"), ("mean_tokens", "mean"), ("max_tokens", "max"), ("mean_sqrt_len_tokens", "mean_sqrt_len_tokens"))
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config, indent=2))
    st_config = {"__version__": {"sentence_transformers": "3.0.0"}, "prompts": prompts or {}, "default_prompt_name": None}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2))
    return folder


@pytest.fixture(scope="session")
def tiny_bge_m3_path(tmp_path_factory) -> Path:
    """A tiny random BGE-M3 checkpoint folder, built once per test session."""
    return build_tiny_bge_m3(tmp_path_factory.mktemp("tiny-bge-m3"))


@pytest.fixture(scope="session")
def tiny_st_path(tmp_path_factory) -> Path:
    """A tiny random BERT sentence-transformers checkpoint folder (mean pooling), built once per test session."""
    return build_tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-st"))
