"""ColBERT multi-vector encoders (late interaction) run over ``transformers`` directly.

A ColBERT checkpoint is a transformer encoder plus a linear projection. Texts become token ids as
ColBERT does it: a marker token right after ``[CLS]`` says query or document; queries are padded
with ``[MASK]`` up to ``query_maxlen`` (query augmentation) and keep every position, masks included;
documents drop padding and punctuation tokens (the skiplist). Every kept token vector is projected
and L2-normalised.

Two checkpoint layouts are read:

- ``stanford``: the ``HF_ColBERT`` layout written by colbert-ai (``colbert-ir/colbertv2.0``,
  ``answerdotai/answerai-colbert-small-v1``, ``jinaai/jina-colbert-v2``): ``config.json``, root
  weights holding ``<base_model_prefix>.*`` and ``linear.weight [dim, hidden]``, and
  ``artifact.metadata`` (the ColBERTConfig JSON: ``query_token_id``, ``doc_token_id``,
  ``query_maxlen``, ``doc_maxlen``, ``attend_to_mask_tokens``, ``mask_punctuation``...; colbert-ai's
  defaults apply where it is missing).
- ``pylate``: the PyLate / sentence-transformers layout (``lightonai/GTE-ModernColBERT-v1``):
  ``modules.json`` (a Transformer then one or more ``Dense`` modules), each ``N_Dense/`` with
  ``config.json`` and ``linear.weight``, and ``config_sentence_transformers.json`` with
  ``query_prefix``/``document_prefix`` (tokens such as ``"[Q] "``), ``query_length``,
  ``document_length``, ``attend_to_expansion_tokens``, ``skiplist_words``, ``do_query_expansion``.
  Texts are stripped first, as the sentence-transformers Transformer module PyLate runs on does;
  skiplist words that are not one vocabulary token are ignored (PyLate would map them to [UNK] and
  drop every [UNK]; sentence-transformers' MultiVectorEncoder ignores them too).

Saves of sentence-transformers' own ``MultiVectorEncoder`` (modules ``MultiVectorMask``/``Normalize``)
are refused with advice. jina-colbert-v2's backbone (XLM-RoBERTa with rotary position embeddings, custom code
``jinaai/xlm-roberta-flash-implementation`` that ``transformers`` does not have) runs on the native torch port in
``rag.encoders.jina_xlmr`` unless ``trust_remote_code=True`` asks for jina's own code. Other backbones with custom
model code (``auto_map`` in ``config.json``) load only with ``trust_remote_code=True``, and offline only when that
code is already in the Hugging Face cache.
"""

from __future__ import annotations

import importlib
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from rag.encoders.base import Encoded, EncoderInfo, Kind, Representation
from rag.encoders.batching import check_request, length_sorted_batches, model_token_limit, pad_right
from rag.encoders.device import dtype_name, resolve_device, resolve_dtype
from rag.encoders.fingerprint import model_fingerprint
from rag.encoders.pooling import l2_normalize, token_vectors
from rag.encoders.weights import load_tensors, weight_files

Layout = Literal["stanford", "pylate"]

#: colbert-ai's ColBERTConfig defaults, used where ``artifact.metadata`` is missing or silent.
STANFORD_DEFAULTS = {
    "query_token_id": "[unused0]",
    "doc_token_id": "[unused1]",
    "query_maxlen": 32,
    "doc_maxlen": 220,
    "attend_to_mask_tokens": False,
    "mask_punctuation": True,
    "similarity": "cosine",
}
#: PyLate's defaults, used where ``config_sentence_transformers.json`` is silent.
PYLATE_DEFAULTS = {
    "query_prefix": "[Q] ",
    "document_prefix": "[D] ",
    "query_length": 32,
    "document_length": 180,
    "attend_to_expansion_tokens": False,
    "do_query_expansion": True,
}
_PYLATE_KEYS = ("query_prefix", "document_prefix", "query_length", "document_length", "do_query_expansion",
                "attend_to_expansion_tokens", "skiplist_words")


class ColBERTCheckpointError(ValueError):
    """A folder is not a ColBERT checkpoint that can be loaded; the message says what to do."""


@dataclass(frozen=True)
class ColBERTSettings:
    """What a checkpoint's files say about turning text into ColBERT token vectors.

    ``query_marker``/``doc_marker`` are token strings inserted after the first token ("" for none);
    ``skiplist_mode`` says how ``skiplist_words`` become ids: ``"first_piece"`` (colbert-ai: the
    first id of encoding the word) or ``"token"`` (PyLate: the word as a vocabulary token).
    """

    layout: Layout
    backbone_dir: Path
    query_marker: str
    doc_marker: str
    query_maxlen: int
    doc_maxlen: int
    attend_to_mask_tokens: bool
    query_expansion: bool
    skiplist_words: tuple[str, ...]
    skiplist_mode: Literal["first_piece", "token"]
    lowercase: bool = False
    strip: bool = False
    similarity: str = "cosine"
    dense_dirs: tuple[Path, ...] = ()
    dense_types: tuple[str, ...] = ()


def _read_json(path: Path) -> Any:
    """A JSON file's value (a checkpoint's config: its shape is checked where it is read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ColBERTCheckpointError(f"{path} is not valid JSON ({exc}); re-download the model.") from exc


def _root_weight_files(folder: Path) -> list[Path]:
    """The checkpoint's root weight files (single file or every shard of an index)."""
    return weight_files(folder, error=ColBERTCheckpointError)


def _has_linear(files: Sequence[Path]) -> bool:
    """Whether root weights hold colbert-ai's ``linear.weight`` (safetensors headers only; other formats: assumed)."""
    if not all(f.suffix == ".safetensors" for f in files):
        return True
    from safetensors import safe_open

    for file in files:
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            if "linear.weight" in handle.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                return True
    return False


def _stanford_settings(folder: Path) -> ColBERTSettings:
    meta_path = folder / "artifact.metadata"
    meta: dict[str, Any] = dict(STANFORD_DEFAULTS)
    if meta_path.is_file():
        meta.update({k: v for k, v in _read_json(meta_path).items() if v is not None})
    return ColBERTSettings(
        layout="stanford",
        backbone_dir=folder,
        query_marker=str(meta["query_token_id"]),
        doc_marker=str(meta["doc_token_id"]),
        query_maxlen=int(meta["query_maxlen"]),
        doc_maxlen=int(meta["doc_maxlen"]),
        attend_to_mask_tokens=bool(meta["attend_to_mask_tokens"]),
        query_expansion=True,  # colbert-ai always pads queries with [MASK]
        skiplist_words=tuple(string.punctuation) if meta["mask_punctuation"] else (),
        skiplist_mode="first_piece",
        similarity=str(meta["similarity"]),
    )


def _pylate_settings(folder: Path, modules: list) -> ColBERTSettings:
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if "MultiVectorMask" in kinds:
        raise ColBERTCheckpointError(
            f"{folder} was saved by sentence-transformers' MultiVectorEncoder (modules {kinds}), a layout not read "
            "here: load it with sentence_transformers.MultiVectorEncoder, or use the PyLate / colbert-ai export."
        )
    if not kinds or kinds[0] != "Transformer" or len(kinds) < 2 or any(k != "Dense" for k in kinds[1:]):
        raise ColBERTCheckpointError(
            f"{folder}: modules.json lists {kinds}; a PyLate ColBERT lists a Transformer then Dense modules. "
            "A sentence-transformers model with Pooling is a single-vector model: load it with the transformer encoder."
        )
    st_path = folder / "config_sentence_transformers.json"
    st_config = _read_json(st_path) if st_path.is_file() else {}
    if st_config.get("model_type") != "ColBERT" and not any(k in st_config for k in _PYLATE_KEYS):
        raise ColBERTCheckpointError(
            f"{folder}: config_sentence_transformers.json has no PyLate ColBERT settings (query_prefix, "
            "query_length...), so this is not a PyLate ColBERT checkpoint."
        )
    conf: dict[str, Any] = dict(PYLATE_DEFAULTS)
    conf.update({k: v for k, v in st_config.items() if v is not None})
    backbone = folder / modules[0].get("path", "")
    bert_config_path = backbone / "sentence_bert_config.json"
    bert_config = _read_json(bert_config_path) if bert_config_path.is_file() else {}
    skiplist = conf.get("skiplist_words")
    return ColBERTSettings(
        layout="pylate",
        backbone_dir=backbone,
        query_marker=str(conf["query_prefix"] or ""),
        doc_marker=str(conf["document_prefix"] or ""),
        query_maxlen=int(conf["query_length"]),
        doc_maxlen=int(conf["document_length"]),
        attend_to_mask_tokens=bool(conf["attend_to_expansion_tokens"]) and bool(conf["do_query_expansion"]),
        query_expansion=bool(conf["do_query_expansion"]),
        skiplist_words=tuple(string.punctuation if skiplist is None else skiplist),
        skiplist_mode="token",
        lowercase=bool(bert_config.get("do_lower_case", False)),
        strip=True,  # sentence-transformers' Transformer strips every text before tokenizing
        similarity=str(conf.get("similarity_fn_name", "MaxSim")),
        dense_dirs=tuple(folder / m.get("path", "") for m in modules[1:]),
        dense_types=tuple(str(m.get("type", "")) for m in modules[1:]),
    )


def read_colbert_settings(path: Path) -> ColBERTSettings:
    """Read a checkpoint folder's layout and settings; raise ``ColBERTCheckpointError`` if it is not ColBERT.

    The Stanford layout wins when a folder holds both (answerai-colbert-small-v1 once shipped both).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ColBERTCheckpointError(f"{folder} is not a folder; pass the local folder of a ColBERT checkpoint.")
    config_path = folder / "config.json"
    config = _read_json(config_path) if config_path.is_file() else {}
    architectures = (config.get("architectures") or []) if isinstance(config, dict) else []
    weights = _root_weight_files(folder)
    has_modules = (folder / "modules.json").is_file()
    if weights and "HF_ColBERT" in architectures:
        return _stanford_settings(folder)
    if weights and (folder / "artifact.metadata").is_file() and (not has_modules or _has_linear(weights)):
        return _stanford_settings(folder)
    if has_modules:
        return _pylate_settings(folder, _read_json(folder / "modules.json"))
    raise ColBERTCheckpointError(
        f"{folder} is not a ColBERT checkpoint: expected config.json with architectures ['HF_ColBERT'] "
        "(or artifact.metadata) beside model weights (colbert-ai layout), or modules.json with a Transformer "
        "and Dense modules (PyLate layout)."
    )


def is_colbert_checkpoint(path: Path) -> bool:
    """True when ``path`` is a folder in a ColBERT layout this module reads (cheap: reads JSON only)."""
    try:
        read_colbert_settings(path)
    except (ColBERTCheckpointError, OSError):
        return False
    return True


def insert_marker(ids: Sequence[int], marker_id: int | None) -> list[int]:
    """Put the query/document marker right after the first token ([CLS]); no marker leaves ids as they are.

    >>> insert_marker([101, 7, 8, 102], 1)
    [101, 1, 7, 8, 102]
    >>> insert_marker([101, 102], None)
    [101, 102]
    """
    ids = list(ids)
    return ids if marker_id is None else ids[:1] + [marker_id] + ids[1:]


def expand_query(ids: Sequence[int], length: int, mask_id: int) -> list[int]:
    """ColBERT query augmentation: pad ``ids`` with ``mask_id`` up to ``length`` (ids are never cut here).

    >>> expand_query([101, 1, 7, 102], 6, 103)
    [101, 1, 7, 102, 103, 103]
    """
    return list(ids) + [mask_id] * max(0, length - len(ids))


def query_attention(n_real: Sequence[int], width: int, attend_to_masks: bool) -> torch.Tensor:
    """Attention over expanded queries: 1 on real tokens, on the [MASK] expansion only if attended; ``-> [b, width]`` long.

    >>> query_attention([3, 2], 4, False).tolist()
    [[1, 1, 1, 0], [1, 1, 0, 0]]
    >>> query_attention([3, 2], 4, True).tolist()
    [[1, 1, 1, 1], [1, 1, 1, 1]]
    """
    if attend_to_masks:
        return torch.ones((len(n_real), width), dtype=torch.long)
    return (torch.arange(width)[None, :] < torch.as_tensor(list(n_real))[:, None]).long()


def skiplist_keep(input_ids: torch.Tensor, attention: torch.Tensor, skip_ids: torch.Tensor) -> torch.Tensor:
    """Document positions to keep: real (attended) tokens whose id is not in the skiplist; ``[b, t] -> [b, t]`` bool.

    >>> skiplist_keep(torch.tensor([[101, 5, 9, 102, 0]]), torch.tensor([[1, 1, 1, 1, 0]]), torch.tensor([9]))
    tensor([[ True,  True, False,  True, False]])
    """
    keep = attention.bool()
    if skip_ids.numel():
        keep &= ~torch.isin(input_ids, skip_ids.to(input_ids.device))
    return keep


class _DenseLayer(torch.nn.Module):
    """One projection: ``activation(x W^T + b)`` (+ a residual, projected when widths differ); ``[..., h] -> [..., d]``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, activation: torch.nn.Module,
                 residual: torch.Tensor | None = None, use_residual: bool = False) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(weight)
            if bias is not None:
                self.linear.bias.copy_(bias)
        self.activation = activation
        self.use_residual = use_residual
        self.residual = None
        if residual is not None:
            self.residual = torch.nn.Linear(residual.shape[1], residual.shape[0], bias=False)
            with torch.no_grad():
                self.residual.weight.copy_(residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.linear(x))
        if self.use_residual:
            out = out + (self.residual(x) if self.residual is not None else x)
        return out


def _activation(name: str | None, module_type: str = "") -> torch.nn.Module:
    """``"torch.nn.modules.linear.Identity"`` -> ``Identity()``; only ``torch.nn`` modules are built.

    Without a name, each library's default: PyLate's Dense has none (Identity), sentence-transformers' Tanh.
    """
    if not name:
        return torch.nn.Identity() if "pylate" in module_type else torch.nn.Tanh()
    module_name, _, cls_name = str(name).rpartition(".")
    if not module_name.startswith("torch.nn"):
        raise ColBERTCheckpointError(f"Dense activation {name!r} is not a torch.nn module; only torch.nn activations load.")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name, None)
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ColBERTCheckpointError(f"Dense activation {name!r} was not found in {module_name}.")
    return cls()


def load_projection(settings: ColBERTSettings) -> torch.nn.Sequential:
    """The checkpoint's projection layers, float32 on the CPU: ``[..., hidden] -> [..., dim]``."""
    if settings.layout == "stanford":
        files = _root_weight_files(settings.backbone_dir)
        weight = load_tensors(files, ["linear.weight"]).get("linear.weight")
        if weight is None:
            raise ColBERTCheckpointError(
                f"{settings.backbone_dir}: no 'linear.weight' in {[f.name for f in files]}; a colbert-ai checkpoint "
                "stores its projection there. Re-download the model."
            )
        return torch.nn.Sequential(_DenseLayer(weight.float(), None, torch.nn.Identity()))
    layers = []
    for folder, module_type in zip(settings.dense_dirs, settings.dense_types):
        conf = _read_json(folder / "config.json")
        files = [f for f in (folder / "model.safetensors", folder / "pytorch_model.bin") if f.is_file()][:1]
        tensors = load_tensors(files, ["linear.weight", "linear.bias", "residual.weight"])
        wants_bias = bool(conf.get("bias", True))
        if "linear.weight" not in tensors or (wants_bias and "linear.bias" not in tensors):
            raise ColBERTCheckpointError(
                f"{folder}: Dense weights are missing ('linear.weight'{', linear.bias' if wants_bias else ''} in "
                "model.safetensors or pytorch_model.bin); re-download the model."
            )
        bias = tensors["linear.bias"].float() if wants_bias else None
        residual = tensors.get("residual.weight")
        layers.append(_DenseLayer(tensors["linear.weight"].float(), bias,
                                  _activation(conf.get("activation_function"), module_type),
                                  None if residual is None else residual.float(), bool(conf.get("use_residual", False))))
    return torch.nn.Sequential(*layers)


def _load_backbone(settings: ColBERTSettings, dtype: torch.dtype, trust_remote_code: bool):
    """Tokenizer and transformer of the checkpoint (weights checked: none missing).

    jina's rotary XLM-RoBERTa (jina-colbert-v2) runs on the native port ``rag.encoders.jina_xlmr`` unless
    ``trust_remote_code=True`` and ``auto_map`` name jina's own code; any other custom code needs
    ``trust_remote_code=True``. jina's tokenizer is a standard XLM-RoBERTa one: ``AutoTokenizer`` reads
    ``tokenizer_class`` from ``tokenizer_config.json``; where a transformers version consults ``config.json``
    (and its ``auto_map``) instead and refuses, the XLM-RoBERTa class is used directly.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from rag.encoders.jina_xlmr import JinaXLMRError, is_jina_xlmr_config, load_jina_xlmr

    folder = settings.backbone_dir
    raw = _read_json(folder / "config.json") if (folder / "config.json").is_file() else {}
    auto_map = raw.get("auto_map") or {}
    if is_jina_xlmr_config(raw) and not (trust_remote_code and auto_map):
        try:
            model = load_jina_xlmr(folder, dtype, _root_weight_files(folder))
        except JinaXLMRError as exc:
            raise ColBERTCheckpointError(
                f"{folder}: {exc} (read natively as jina's XLM-RoBERTa with rotary positions, because config.json "
                "names jinaai/xlm-roberta-flash-implementation or rotary positions)"
            ) from exc
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError):
            import transformers

            xlmr_tokenizer = getattr(transformers, "XLMRobertaTokenizerFast", None) or transformers.XLMRobertaTokenizer
            tokenizer = xlmr_tokenizer.from_pretrained(str(folder), local_files_only=True)
        return tokenizer, model
    if auto_map and not trust_remote_code:
        raise ColBERTCheckpointError(
            f"{folder} runs custom model code ({auto_map.get('AutoModel', auto_map)}), which transformers does not "
            "ship. Pass trust_remote_code=True to run it; offline, that code must already be in the Hugging Face "
            "cache (download its repository once on a machine with internet)."
        )
    if raw.get("position_embedding_type") == "rotary" and not auto_map:
        raise ColBERTCheckpointError(
            f"{folder}: config.json asks for rotary position embeddings but names no model code (auto_map); "
            f"transformers' {raw.get('model_type', 'model')} has none, so its vectors would be wrong. Use the original "
            "checkpoint folder."
        )
    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
        config = AutoConfig.from_pretrained(str(folder), **kwargs)
        model, info = AutoModel.from_pretrained(str(folder), config=config, dtype=dtype, output_loading_info=True, **kwargs)
    except OSError as exc:
        if not auto_map:
            raise
        raise ColBERTCheckpointError(
            f"{folder}: its custom model code ({auto_map.get('AutoModel', auto_map)}) is not available offline ({exc}). "
            "Download the code repository it names into the Hugging Face cache on a machine with internet"
            + (", or leave trust_remote_code off to run jina's XLM-RoBERTa natively." if is_jina_xlmr_config(raw) else ".")
        ) from exc
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith("pooler."))
    if missing:
        raise ColBERTCheckpointError(
            f"{folder}: the weights do not fit {type(model).__name__} ({len(missing)} missing, e.g. {missing[:3]}); "
            "the checkpoint is incomplete or its config.json names another architecture."
        )
    return tokenizer, model


def _token_id(tokenizer, token: str, what: str, folder: Path) -> int | None:
    """Id of a single vocabulary token, or None for ""; raise when the tokenizer does not know it."""
    if not token:
        return None
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or (token_id == tokenizer.unk_token_id and token != tokenizer.unk_token):
        raise ColBERTCheckpointError(
            f"{folder}: the {what} {token!r} is not a token of this tokenizer; the tokenizer files do not belong "
            "to this checkpoint. Re-download the model."
        )
    return int(token_id)


def skiplist_ids(tokenizer, words: Sequence[str], mode: str) -> list[int]:
    """Token ids to drop from documents: colbert-ai takes the first id of each encoded word (``first_piece``),
    PyLate the word as one vocabulary token (``token``; words that are not one token are ignored)."""
    ids: set[int] = set()
    for word in words:
        if mode == "first_piece":
            pieces = tokenizer.encode(word, add_special_tokens=False)
            ids.update(pieces[:1])
        else:
            token_id = tokenizer.convert_tokens_to_ids(word)
            if token_id is not None and (token_id != tokenizer.unk_token_id or word == tokenizer.unk_token):
                ids.add(int(token_id))
    return sorted(ids)


class ColBERTEncoder:
    """A ColBERT checkpoint as an ``Encoder`` with ``multivector`` only: ``n`` texts -> ``n`` float32 ``[t_i, dim]``.

    Queries give ``query_maxlen`` vectors each (expansion on; [MASK] positions included); documents
    give one vector per kept token ([CLS] and the marker included, padding and skiplist removed).
    Device and dtype are fixed when built; ``encode`` never moves or casts the model.
    """

    def __init__(
        self,
        path: Path,
        *,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        query_maxlen: int | None = None,
        doc_maxlen: int | None = None,
        attend_to_mask_tokens: bool | None = None,
        name: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        self.path = Path(path)
        self.settings = read_colbert_settings(self.path)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer, self.model = _load_backbone(self.settings, self.dtype, trust_remote_code)
        self.model.to(self.device).eval()
        self.projection = load_projection(self.settings).to(device=self.device, dtype=self.dtype).eval()
        hidden = int(getattr(self.model.config, "hidden_size", 0) or 0)
        first: Any = self.projection[0].linear if len(self.projection) else None
        if first is None or (hidden and first.in_features != hidden):
            raise ColBERTCheckpointError(
                f"{self.path}: the projection takes {getattr(first, 'in_features', None)} features but the transformer "
                f"gives {hidden}; the Dense/linear weights do not belong to this model."
            )
        last: Any = self.projection[-1].linear
        self.dim = int(last.out_features)

        s = self.settings
        self.query_maxlen = int(query_maxlen if query_maxlen is not None else s.query_maxlen)
        self.doc_maxlen = int(doc_maxlen if doc_maxlen is not None else s.doc_maxlen)
        self.attend_to_mask_tokens = bool(s.attend_to_mask_tokens if attend_to_mask_tokens is None else attend_to_mask_tokens)
        limit = model_token_limit(self.model.config, self.tokenizer)
        for label, value in (("query_maxlen", self.query_maxlen), ("doc_maxlen", self.doc_maxlen)):
            if not 4 <= value <= limit:
                raise ValueError(f"{label}={value} is out of range for {self.path.name}: use 4..{limit} tokens.")
        self.query_marker_id = _token_id(self.tokenizer, s.query_marker, "query marker", self.path)
        self.doc_marker_id = _token_id(self.tokenizer, s.doc_marker, "document marker", self.path)
        self.mask_id = self.tokenizer.mask_token_id
        if s.query_expansion and self.mask_id is None:
            raise ColBERTCheckpointError(f"{self.path}: the tokenizer has no [MASK] token, which query augmentation needs.")
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else (self.mask_id or 0)
        self.skip_ids = torch.tensor(skiplist_ids(self.tokenizer, s.skiplist_words, s.skiplist_mode), dtype=torch.long)
        self.info = EncoderInfo(
            name=name or str(self.path),
            kind="colbert",
            fingerprint=model_fingerprint(self.path),
            multivector_dim=self.dim,
            extra={
                "layout": s.layout,
                "query_maxlen": self.query_maxlen,
                "doc_maxlen": self.doc_maxlen,
                "attend_to_mask_tokens": self.attend_to_mask_tokens,
                "query_expansion": s.query_expansion,
                "query_marker": s.query_marker,
                "doc_marker": s.doc_marker,
                "skiplist": len(self.skip_ids),
                "similarity": s.similarity,
                "dtype": dtype_name(self.dtype),
                "device": str(self.device),
            },
        )

    def _rows(self, texts: list[str], kind: Kind) -> tuple[list[list[int]], list[int]]:
        """Model input ids per text and how many of them are real tokens (the rest are [MASK] expansion)."""
        s = self.settings
        if s.strip:
            texts = [t.strip() for t in texts]
        if s.lowercase:
            texts = [t.lower() for t in texts]
        if not texts:
            return [], []
        marker = self.query_marker_id if kind == "query" else self.doc_marker_id
        maxlen = self.query_maxlen if kind == "query" else self.doc_maxlen
        enc = self.tokenizer(texts, add_special_tokens=True, truncation=True, padding=False,
                             max_length=maxlen - (marker is not None), return_attention_mask=False)
        rows = [insert_marker(ids, marker) for ids in enc["input_ids"]]
        n_real = [len(r) for r in rows]
        if kind == "query" and s.query_expansion:
            rows = [expand_query(r, maxlen, self.mask_id) for r in rows]
        return rows, n_real

    def token_ids(self, texts: Sequence[str], *, kind: Kind) -> list[list[int]]:
        """The exact id sequence the model reads per text: ``[CLS] marker tokens... [SEP]`` (+ ``[MASK]``s for queries)."""
        return self._rows(check_request(texts, kind, ()), kind)[0]

    def encode(
        self,
        texts: Sequence[str],
        *,
        kind: Kind,
        want: Sequence[Representation] = ("dense", "sparse", "multivector"),
        batch_size: int = 32,
    ) -> Encoded:
        """Token vectors per text (only ``multivector`` is available): ``n`` float32 arrays ``[t_i, dim]``, rows unit length."""
        texts = check_request(texts, kind, want)
        if "multivector" not in want:
            return Encoded()
        rows, n_real = self._rows(texts, kind)
        expand = kind == "query" and self.settings.query_expansion
        out: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        with torch.inference_mode():
            for batch in length_sorted_batches([len(r) for r in rows], batch_size):
                input_ids, present = pad_right([rows[i] for i in batch], self.pad_id)
                if expand:  # every position is kept; [MASK]s are attended only when the checkpoint says so
                    attention = query_attention([n_real[i] for i in batch], input_ids.shape[1], self.attend_to_mask_tokens)
                    keep = present.bool()
                else:
                    attention = present
                    keep = present.bool() if kind == "query" else skiplist_keep(input_ids, present, self.skip_ids)
                hidden = self.model(input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device))[0]
                vectors = l2_normalize(self.projection(hidden))
                for i, v in zip(batch, token_vectors(vectors, keep)):
                    out[i] = np.ascontiguousarray(v)
        return Encoded(multivector=out)


def load_colbert(path: Path, **kw) -> ColBERTEncoder:
    """Build a ``ColBERTEncoder`` for a local checkpoint folder (keywords as ``ColBERTEncoder``)."""
    return ColBERTEncoder(Path(path), **kw)
