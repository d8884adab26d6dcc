"""Build tiny random ColBERT checkpoints on disk, in the real layouts, without downloading anything.

Two layouts, both with seeded random weights (the vectors mean nothing; tests check plumbing and
arithmetic, never relevance):

- ``build_tiny_colbertv2``: the Stanford ``HF_ColBERT`` layout of ``colbert-ir/colbertv2.0`` and
  ``answerdotai/answerai-colbert-small-v1``: ``config.json`` (a tiny ``BertConfig`` with
  ``architectures: ["HF_ColBERT"]``), ``model.safetensors`` (or ``pytorch_model.bin``) holding
  ``bert.*`` and ``linear.weight [dim, hidden]``, ``artifact.metadata`` (the ColBERTConfig JSON),
  and BertTokenizerFast files (``vocab.txt``, ``tokenizer.json``...). The WordPiece vocabulary is
  built on the spot and laid out like BERT's: ``[PAD]`` first, then plain
  (non-special) ``[unused0]``/``[unused1]`` entries, then ``[UNK] [CLS] [SEP] [MASK]``, every
  ``string.punctuation`` character, letters and digits with their ``##`` pieces, and the corpus words
  (found with ``tokenizers``' BERT normaliser and pre-tokenizer, so the vocabulary is the same on every run).
- ``build_tiny_pylate``: the PyLate / sentence-transformers layout of
  ``lightonai/GTE-ModernColBERT-v1``: a tiny ModernBERT at the root with a byte-level BPE
  tokenizer (``[CLS] $A [SEP]`` template) to which the prefix tokens ``"[Q] "`` and ``"[D] "`` were
  added as PyLate adds them, ``modules.json`` (Transformer at ``""``, ``pylate.models.Dense.Dense``
  at ``1_Dense``), ``1_Dense/config.json`` + ``1_Dense/model.safetensors`` (``linear.weight``),
  ``sentence_bert_config.json`` and ``config_sentence_transformers.json`` (prefixes, lengths,
  ``attend_to_expansion_tokens``, ``skiplist_words``, ``do_query_expansion``).

Reuse (with tests/rag/encoders on sys.path)::

    from tiny_colbert import build_tiny_colbertv2, build_tiny_pylate
    folder = build_tiny_colbertv2(tmp_path / "colbert")

Each builds in well under a second and weighs about 100 KB.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import torch

# Several sentences with punctuation, so that the trained vocabularies hold whole words and every
# punctuation character is a token of its own.
CORPUS = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Late interaction models compare every query token with every document token!",
    "Retrieval augmented generation answers questions from numbered sources, and cites them.",
    "The company reported revenue growth in the fourth quarter of the fiscal year (2023).",
    "Vitamin D deficiency is associated with a higher risk of bone fractures in older adults?",
    "Cells divide by mitosis; the protein binds to the receptor and activates the pathway.",
    "What is the capital of France? Paris is the capital of France: it is a large city.",
    "Berlin is the capital of Germany - it has many museums, parks & rivers.",
    "Queries are padded with mask tokens; documents drop punctuation such as #, $, % and *.",
]

BERT_SPECIALS = ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _wordpiece_vocab() -> list[str]:
    """BERT-style vocabulary: specials in BERT's order, punctuation, characters, ``##`` pieces, corpus words.

    Built from the corpus with ``tokenizers``' BERT normaliser and pre-tokenizer rather than with its
    WordPiece trainer: the trainer breaks frequency ties in hash order, so its vocabulary (and which
    ids the seeded weights meet) changes from run to run.
    """
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = {w for text in CORPUS for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    chars = sorted(set(string.ascii_lowercase + string.digits))
    pieces = list(string.punctuation) + chars + [f"##{c}" for c in chars]
    return BERT_SPECIALS + pieces + sorted(words - set(pieces))


def _save_bert_tokenizer(folder: Path, vocab: list[str]) -> None:
    import inspect

    from transformers import BertTokenizerFast

    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers >= 5
        tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    else:  # transformers 4.x reads vocab.txt
        tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    tokenizer.save_pretrained(str(folder))


def build_tiny_colbertv2(
    folder: str | Path,
    *,
    dim: int = 8,
    hidden: int = 16,
    layers: int = 2,
    heads: int = 2,
    query_maxlen: int = 16,
    doc_maxlen: int = 48,
    attend_to_mask_tokens: bool = False,
    weights: str = "safetensors",
    with_metadata: bool = True,
    seed: int = 0,
) -> Path:
    """Write a tiny ``HF_ColBERT`` checkpoint to ``folder`` and return the folder.

    ``weights`` is ``"safetensors"`` (``model.safetensors``) or ``"bin"`` (``pytorch_model.bin``);
    ``with_metadata=False`` leaves out ``artifact.metadata`` (colbert-ai then needs
    ``ColBERTConfig(checkpoint=path)``, and readers fall back to ColBERT's defaults).
    """
    from transformers import BertConfig, BertModel

    if weights not in ("safetensors", "bin"):
        raise ValueError(f"weights must be 'safetensors' or 'bin', not {weights!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = _wordpiece_vocab()
    _save_bert_tokenizer(folder, vocab)

    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=max(64, doc_maxlen),
        pad_token_id=0,
        architectures=["HF_ColBERT"],
    )
    torch.manual_seed(seed)
    bert = BertModel(config).eval()
    state = {f"bert.{k}": v.detach().clone().contiguous() for k, v in bert.state_dict().items()}
    state["linear.weight"] = torch.randn(dim, hidden) / hidden**0.5
    config.save_pretrained(str(folder))
    if weights == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(state, folder / "pytorch_model.bin")

    if with_metadata:
        metadata = {
            "query_token_id": "[unused0]",
            "doc_token_id": "[unused1]",
            "query_token": "[Q]",
            "doc_token": "[D]",
            "ncells": None,
            "centroid_score_threshold": None,
            "ndocs": None,
            "index_path": None,
            "nbits": 2,
            "kmeans_niters": 4,
            "resume": False,
            "similarity": "cosine",
            "bsize": 8,
            "accumsteps": 1,
            "lr": 1e-05,
            "maxsteps": 1,
            "save_every": None,
            "warmup": None,
            "warmup_bert": None,
            "relu": False,
            "nway": 2,
            "use_ib_negatives": False,
            "reranker": False,
            "distillation_alpha": 1.0,
            "ignore_scores": False,
            "model_name": None,
            "query_maxlen": query_maxlen,
            "attend_to_mask_tokens": attend_to_mask_tokens,
            "interaction": "colbert",
            "dim": dim,
            "doc_maxlen": doc_maxlen,
            "mask_punctuation": True,
            "checkpoint": "tiny-colbert",
            "triples": None,
            "collection": None,
            "queries": None,
            "index_name": None,
            "overwrite": False,
            "root": None,
            "experiment": "default",
            "index_root": None,
            "name": "tiny",
            "rank": 0,
            "nranks": 1,
            "amp": True,
            "gpus": 0,
        }
        (folder / "artifact.metadata").write_text(json.dumps(metadata, indent=4), encoding="utf-8")
    return folder


def _train_bpe_tokenizer(vocab_size: int):
    """A ModernBERT-like fast tokenizer: byte-level BPE, ``[CLS] $A [SEP]``, BERT-style specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
    )


def build_tiny_pylate(
    folder: str | Path,
    *,
    dim: int = 8,
    hidden: int = 16,
    layers: int = 2,
    heads: int = 2,
    query_length: int = 12,
    document_length: int = 40,
    attend_to_expansion_tokens: bool = False,
    do_query_expansion: bool = True,
    seed: int = 0,
) -> Path:
    """Write a tiny PyLate ColBERT (ModernBERT backbone + ``1_Dense``) to ``folder``; return the folder."""
    from safetensors.torch import save_file
    from transformers import ModernBertConfig, ModernBertModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_bpe_tokenizer(vocab_size=300)
    tokenizer.add_tokens(["[Q] ", "[D] "])  # exactly what PyLate does with its default prefixes
    tokenizer.save_pretrained(str(folder))

    config = ModernBertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=128,
        local_attention=16,
        pad_token_id=tokenizer.pad_token_id,
        cls_token_id=tokenizer.cls_token_id,
        sep_token_id=tokenizer.sep_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        architectures=["ModernBertModel"],
    )
    torch.manual_seed(seed)
    ModernBertModel(config).eval().save_pretrained(str(folder))

    dense = folder / "1_Dense"
    dense.mkdir(exist_ok=True)
    (dense / "config.json").write_text(
        json.dumps(
            {
                "in_features": hidden,
                "out_features": dim,
                "bias": False,
                "activation_function": "torch.nn.modules.linear.Identity",
                "use_residual": False,
            }
        ),
        encoding="utf-8",
    )
    save_file(
        {"linear.weight": torch.randn(dim, hidden) / hidden**0.5},
        str(dense / "model.safetensors"),
        metadata={"format": "pt"},
    )
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": document_length - 1, "do_lower_case": False}), encoding="utf-8"
    )
    st_config = {
        "__version__": {"sentence_transformers": "3.4.1", "transformers": "4.48.2", "pytorch": "2.5.1", "pylate": "1.1.7"},
        "prompts": {},
        "default_prompt_name": None,
        "similarity_fn_name": "MaxSim",
        "query_prefix": "[Q] ",
        "document_prefix": "[D] ",
        "query_length": query_length,
        "document_length": document_length,
        "attend_to_expansion_tokens": attend_to_expansion_tokens,
        "skiplist_words": list(string.punctuation),
        "do_query_expansion": do_query_expansion,
    }
    (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2), encoding="utf-8")
    return folder


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-colbert")
    print(build_tiny_colbertv2(out / "colbertv2"))
    print(build_tiny_pylate(out / "pylate"))
