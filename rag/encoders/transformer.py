"""Sentence-transformers checkpoints (e.g. all-MiniLM-L6-v2) run over ``transformers`` directly.

Dense: pooled (mean, CLS... as the checkpoint's ``1_Pooling/config.json`` says) and L2-normalised.
Multivector: the last hidden state's token vectors, L2-normalised, padding removed and, unless
``multivector_special_tokens=True``, [CLS]/[SEP] removed; the late-interaction default reranks
with these MiniLM token vectors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rag.encoders.base import Encoded, EncoderInfo, Kind, Representation
from rag.encoders.batching import check_request, length_sorted_batches, model_token_limit, pad_right, tokenize
from rag.encoders.device import dtype_name, resolve_device, resolve_dtype
from rag.encoders.fingerprint import model_fingerprint
from rag.encoders.pooling import POOLING_MODES, l2_normalize, pool, token_vectors

_OLD_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


@dataclass(frozen=True)
class SentenceTransformersLayout:
    """What a sentence-transformers folder says about how to embed (defaults: mean pooling, no prompts)."""

    transformer_dir: Path
    pooling: str = "mean"
    include_prompt: bool = True
    max_seq_length: int | None = None
    do_lower_case: bool = False
    prompts: dict[str, str] = field(default_factory=dict)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); re-download the model.") from exc


def pooling_mode_from_config(config: dict) -> str:
    """The one pooling mode a ``1_Pooling/config.json`` names (old boolean keys or new ``pooling_mode``).

    >>> pooling_mode_from_config({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    'cls'
    >>> pooling_mode_from_config({"pooling_mode": "mean"})
    'mean'
    """
    mode = config.get("pooling_mode")
    if mode is None:
        modes = [name for key, name in _OLD_POOLING_KEYS.items() if config.get(key)]
        mode = modes[0] if len(modes) == 1 else modes
    if isinstance(mode, list) and len(mode) == 1:
        mode = mode[0]
    if not isinstance(mode, str) or mode not in POOLING_MODES:
        raise ValueError(
            f"pooling {mode!r} is not supported (supported: {', '.join(POOLING_MODES)}, one mode at a time). "
            f"Pass pooling='mean' or 'cls' to override."
        )
    return mode


def read_sentence_transformers_layout(path: Path) -> SentenceTransformersLayout:
    """Read ``modules.json``, ``sentence_bert_config.json``, pooling and prompt configs of ``path``."""
    path = Path(path)
    modules = _read_json(path / "modules.json") if (path / "modules.json").exists() else []
    transformer_dir, pooling, include_prompt = path, "mean", True
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        folder = path / module.get("path", "")
        if kind == "Transformer":
            transformer_dir = folder
        elif kind == "Pooling":
            config = _read_json(folder / "config.json")
            pooling = pooling_mode_from_config(config)
            include_prompt = bool(config.get("include_prompt", True))
        elif kind != "Normalize":
            raise ValueError(
                f"{path}: module {module.get('type')!r} is not supported by latte's sentence-transformers encoder "
                f"(supported: Transformer, Pooling, Normalize). Use a model without it, or open an issue."
            )
    st_config = _read_json(transformer_dir / "sentence_bert_config.json") or _read_json(path / "sentence_bert_config.json")
    prompts = _read_json(path / "config_sentence_transformers.json").get("prompts") or {}
    return SentenceTransformersLayout(
        transformer_dir=transformer_dir,
        pooling=pooling,
        include_prompt=include_prompt,
        max_seq_length=st_config.get("max_seq_length"),
        do_lower_case=bool(st_config.get("do_lower_case", False)),
        prompts={k: v for k, v in prompts.items() if isinstance(v, str)},
    )


def _auto_transformers():
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - transformers is a core dependency
        raise ImportError("the encoders need transformers: pip install 'transformers>=4.45'") from exc
    return AutoModel, AutoTokenizer


class TransformerEncoder:
    """A sentence-transformers model: dense (pooled, normalised) and multivector (token vectors).

    Device and dtype are fixed when built; ``encode`` never moves the model or casts it.
    """

    def __init__(
        self,
        path: Path,
        *,
        name: str | None = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        pooling: str | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        max_length: int | None = None,
        query_max_length: int | None = None,
        multivector_special_tokens: bool = False,
    ) -> None:
        AutoModel, AutoTokenizer = _auto_transformers()
        self.path = Path(path)
        self.layout = read_sentence_transformers_layout(self.path)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.layout.transformer_dir))
        self.model = AutoModel.from_pretrained(str(self.layout.transformer_dir), dtype=self.dtype)
        self.model.to(self.device).eval()
        self.pooling = pooling or self.layout.pooling
        if self.pooling not in POOLING_MODES:
            raise ValueError(f"pooling {self.pooling!r} is not supported; choose from {', '.join(POOLING_MODES)}.")
        prompts = self.layout.prompts
        self.query_prefix = prompts.get("query", "") if query_prefix is None else query_prefix
        self.document_prefix = (
            prompts.get("document", prompts.get("passage", prompts.get("corpus", ""))) if document_prefix is None else document_prefix
        )
        limit = model_token_limit(self.model.config, self.tokenizer)
        self.max_length = min(max_length or self.layout.max_seq_length or limit, limit)
        self.query_max_length = min(query_max_length or self.max_length, limit)
        self.multivector_special_tokens = multivector_special_tokens
        # padded positions are masked out, so any id works where a tokenizer defines no pad token
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        hidden = int(self.model.config.hidden_size)
        self.info = EncoderInfo(
            name=name or str(self.path),
            kind="sentence-transformers",
            fingerprint=model_fingerprint(self.path),
            dense_dim=hidden,
            multivector_dim=hidden,
            extra={
                "pooling": self.pooling,
                "normalize": True,
                "query_prefix": self.query_prefix,
                "document_prefix": self.document_prefix,
                "lowercase": self.layout.do_lower_case,
                "multivector_special_tokens": multivector_special_tokens,
                "max_length": self.max_length,
                "query_max_length": self.query_max_length,
                "dtype": dtype_name(self.dtype),
                "device": str(self.device),
            },
        )

    def _prompt_length(self, prefix: str) -> int:
        """Leading positions the prefix takes, [CLS] included (sentence-transformers' ``prompt_length``)."""
        if not prefix:
            return 0
        return len(self.tokenizer(prefix, add_special_tokens=True)["input_ids"]) - 1

    def encode(
        self,
        texts: Sequence[str],
        *,
        kind: Kind,
        want: Sequence[Representation] = ("dense", "sparse", "multivector"),
        batch_size: int = 32,
    ) -> Encoded:
        """Encode ``texts``; dense float32 ``[n, d]`` and/or multivector ``n x [t_i, d]`` (sparse: not available)."""
        texts = check_request(texts, kind, want)
        want_dense, want_mv = "dense" in want, "multivector" in want
        if not (want_dense or want_mv):
            return Encoded()
        prefix = self.query_prefix if kind == "query" else self.document_prefix
        max_length = self.query_max_length if kind == "query" else self.max_length
        inputs = [prefix + (t.lower() if self.layout.do_lower_case else t) for t in texts]
        ids, special = tokenize(self.tokenizer, inputs, max_length)
        skip_prompt = 0 if self.layout.include_prompt else self._prompt_length(prefix)
        dense = np.zeros((len(texts), self.info.dense_dim or 0), dtype=np.float32)
        multivector: list[np.ndarray] = [np.zeros((0, self.info.multivector_dim or 0), dtype=np.float32)] * len(texts)
        with torch.inference_mode():
            for batch in length_sorted_batches([len(x) for x in ids], batch_size):
                input_ids, mask = pad_right([ids[i] for i in batch], self.pad_id)
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                if want_dense:
                    pool_mask = mask.clone()
                    pool_mask[:, :skip_prompt] = 0
                    dense[batch] = l2_normalize(pool(hidden, pool_mask, self.pooling)).cpu().numpy()
                if want_mv:
                    keep = mask.bool()
                    if not self.multivector_special_tokens:
                        special_mask, _ = pad_right([special[i] for i in batch], 1)
                        keep &= ~special_mask.bool().to(self.device)
                    for i, vectors in zip(batch, token_vectors(l2_normalize(hidden), keep)):
                        multivector[i] = vectors
        return Encoded(dense=dense if want_dense else None, multivector=multivector if want_mv else None)
