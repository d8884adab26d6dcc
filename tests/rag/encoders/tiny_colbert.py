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
#: sample texts for the ColBERT encoder tests: punctuation, an empty document, a one-word query
QUERIES = ["What is the capital of France?", "fox", "Do proteins bind to receptors in cells?"]
DOCS = [
    "Paris is the capital of France.",
    "The quick brown fox, jumps over the lazy dog!",
    "",
    "Cells divide by mitosis; the protein binds to the receptor (and activates the pathway).",
]

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


#: jina's implementation repository as ``auto_map`` names it in jina-colbert-v2's ``config.json``.
JINA_CODE = "jinaai/xlm-roberta-flash-implementation"
JINA_MARKERS = ("[QueryMarker]", "[DocumentMarker]")


def jina_backbone_shapes(hidden: int, layers: int, intermediate: int, vocab: int, type_vocab: int = 1) -> dict[str, tuple[int, ...]]:
    """Weight names and shapes of jina's rotary XLM-RoBERTa ``XLMRobertaModel`` (pooler included), unprefixed.

    Written out by name from jina's ``modeling_xlm_roberta.py`` / ``convert_roberta_weights_to_flash.py``
    rather than taken from ``rag.encoders.jina_xlmr``, so the loader is tested against an independent list.
    """
    shapes: dict[str, tuple[int, ...]] = {"embeddings.word_embeddings.weight": (vocab, hidden)}
    if type_vocab > 0:
        shapes["embeddings.token_type_embeddings.weight"] = (type_vocab, hidden)
    shapes.update({"emb_ln.weight": (hidden,), "emb_ln.bias": (hidden,)})
    for i in range(layers):
        p = f"encoder.layers.{i}."
        shapes.update({
            p + "mixer.Wqkv.weight": (3 * hidden, hidden), p + "mixer.Wqkv.bias": (3 * hidden,),
            p + "mixer.out_proj.weight": (hidden, hidden), p + "mixer.out_proj.bias": (hidden,),
            p + "norm1.weight": (hidden,), p + "norm1.bias": (hidden,),
            p + "mlp.fc1.weight": (intermediate, hidden), p + "mlp.fc1.bias": (intermediate,),
            p + "mlp.fc2.weight": (hidden, intermediate), p + "mlp.fc2.bias": (hidden,),
            p + "norm2.weight": (hidden,), p + "norm2.bias": (hidden,),
        })
    shapes.update({"pooler.dense.weight": (hidden, hidden), "pooler.dense.bias": (hidden,)})
    return shapes


def build_tiny_jina_colbert(
    folder: str | Path,
    *,
    dim: int = 8,
    hidden: int = 16,
    layers: int = 2,
    heads: int = 2,
    query_maxlen: int = 16,
    doc_maxlen: int = 48,
    attend_to_mask_tokens: bool = True,
    rotary_emb_base: float = 20000.0,
    storage_dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
) -> Path:
    """Write a tiny random checkpoint in ``jinaai/jina-colbert-v2``'s layout to ``folder``; return the folder.

    - ``config.json``: jina's ``XLMRobertaFlashConfig`` keys (``architectures: ["HF_ColBERT"]``, ``auto_map``
      naming ``jinaai/xlm-roberta-flash-implementation``, ``model_type: "xlm-roberta"``,
      ``position_embedding_type: "rotary"``, ``rotary_emb_base``, the LoRA/flash keys, ``max_position_embeddings: 8194``);
    - ``model.safetensors`` (bfloat16 by default, as jina ships it): the backbone under ``roberta.`` (colbert-ai's
      ``HF_ColBERT`` saves it under jina's ``base_model_prefix``), pooler included, and ``linear.weight [dim, hidden]``;
    - ``artifact.metadata``: colbert-ai's ColBERTConfig with jina's markers ``[QueryMarker]`` / ``[DocumentMarker]``
      and ``attend_to_mask_tokens`` (true in jina's current file);
    - an XLM-R style Unigram tokenizer (``tiny_models.train_xlmr_tokenizer`` on ``CORPUS``) with the two markers
      added as special tokens.
    """
    from safetensors.torch import save_file
    from tiny_models import train_xlmr_tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_xlmr_tokenizer(CORPUS, vocab_size=400)
    tokenizer.add_special_tokens({"additional_special_tokens": list(JINA_MARKERS)})
    tokenizer.save_pretrained(str(folder))
    vocab = len(tokenizer)
    config = {
        "_name_or_path": "jinaai/jina-colbert-v2",
        "architectures": ["HF_ColBERT"],
        "attention_probs_dropout_prob": 0.1,
        "auto_map": {
            "AutoConfig": f"{JINA_CODE}--configuration_xlm_roberta.XLMRobertaFlashConfig",
            "AutoModel": f"{JINA_CODE}--modeling_xlm_roberta.XLMRobertaModel",
            "AutoModelForMaskedLM": f"{JINA_CODE}--modeling_xlm_roberta.XLMRobertaForMaskedLM",
            "AutoModelForPreTraining": f"{JINA_CODE}--modeling_xlm_roberta.XLMRobertaForPreTraining",
        },
        "bos_token_id": tokenizer.cls_token_id,
        "classifier_dropout": None,
        "emb_pooler": None,
        "eos_token_id": tokenizer.eos_token_id,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": 2 * hidden,
        "layer_norm_eps": 1e-05,
        "load_trained_adapters": False,
        "lora_adaptations": None,
        "lora_alpha": 1,
        "lora_dropout_p": 0.0,
        "lora_main_params_trainable": False,
        "lora_rank": 4,
        "matryoshka_dimensions": None,
        "max_position_embeddings": 8194,
        "model_type": "xlm-roberta",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "output_past": True,
        "pad_token_id": tokenizer.pad_token_id,
        "position_embedding_type": "rotary",
        "rotary_emb_base": rotary_emb_base,
        "torch_dtype": str(storage_dtype).replace("torch.", ""),
        "transformers_version": "4.43.4",
        "truncate_dim": None,
        "type_vocab_size": 1,
        "use_cache": True,
        "use_flash_attn": True,
        "vocab_size": vocab,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in jina_backbone_shapes(hidden, layers, 2 * hidden, vocab).items():
        if len(shape) == 1:  # LayerNorm gains near 1, biases near 0
            base = 1.0 if name.endswith(("norm1.weight", "norm2.weight", "emb_ln.weight")) else 0.0
            tensor = base + 0.1 * torch.randn(shape, generator=generator)
        else:
            tensor = torch.randn(shape, generator=generator) / shape[-1] ** 0.5
        state[f"roberta.{name}"] = tensor.to(storage_dtype).contiguous()
    state["linear.weight"] = (torch.randn((dim, hidden), generator=generator) / hidden**0.5).to(storage_dtype)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})

    metadata = {
        "query_token_id": JINA_MARKERS[0],
        "doc_token_id": JINA_MARKERS[1],
        "query_token": JINA_MARKERS[0],
        "doc_token": JINA_MARKERS[1],
        "ncells": None,
        "centroid_score_threshold": None,
        "ndocs": None,
        "load_index_with_mmap": False,
        "index_path": None,
        "nbits": 1,
        "kmeans_niters": 4,
        "resume": False,
        "similarity": "cosine",
        "bsize": 32,
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
        "ignore_scores": True,
        "model_name": "jinaai/jina-colbert-v2",
        "query_maxlen": query_maxlen,
        "attend_to_mask_tokens": attend_to_mask_tokens,
        "interaction": "colbert",
        "dim": dim,
        "doc_maxlen": doc_maxlen,
        "mask_punctuation": True,
        "checkpoint": "jinaai/jina-colbert-v2",
        "root": None,
        "experiment": "default",
        "name": "tiny-jina",
        "rank": 0,
        "nranks": 1,
        "amp": True,
        "gpus": 0,
    }
    (folder / "artifact.metadata").write_text(json.dumps(metadata, indent=4), encoding="utf-8")
    return folder

if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-colbert")
    print(build_tiny_colbertv2(out / "colbertv2"))
    print(build_tiny_pylate(out / "pylate"))
