"""XLM-RoBERTa with rotary position embeddings (jina's "XLM-RoBERTa flash"), natively in torch: inference only.

``jinaai/jina-colbert-v2`` (and jina-embeddings-v3) run on a backbone that ``transformers`` does not
ship: its code lives in the remote repository ``jinaai/xlm-roberta-flash-implementation``, named by
``auto_map`` in ``config.json``, so it cannot load offline with ``trust_remote_code=False``. This
module is the same forward pass in plain torch, reading the checkpoint's own weight names and
``config.json`` keys:

- embeddings: ``embeddings.word_embeddings`` plus ``embeddings.token_type_embeddings`` (type 0) when
  ``type_vocab_size > 0``; no position table (``position_embedding_type: "rotary"``); then LayerNorm
  ``emb_ln``;
- ``num_hidden_layers`` post-LayerNorm blocks ``encoder.layers.N``:
  ``h = norm1(h + mixer.out_proj(attention(mixer.Wqkv(h))))`` then ``h = norm2(h + mlp.fc2(gelu(mlp.fc1(h))))``;
- attention: ``Wqkv`` rows are all query heads, then all key heads, then all value heads; queries and
  keys get rotary embeddings on their first ``rotary_emb_dim`` features (default the head size; the
  GPT-NeoX half-split layout unless ``rotary_emb_interleaved``; ``rotary_emb_base`` default 10000),
  positions ``0..n-1`` in every row (rows are right-padded); padded keys are masked; softmax scale
  ``1/sqrt(head_dim)``; computed by ``torch.nn.functional.scaled_dot_product_attention``.

Weights may sit under a prefix: colbert-ai's ``HF_ColBERT`` saves the backbone under the
``base_model_prefix`` of jina's ``XLMRobertaPreTrainedModel``, ``roberta.`` (beside ``linear.weight``).
The pooler (``pooler.dense.*``) is read past. Not covered: LoRA adapters (jina-embeddings-v3's
``parametrizations`` weights are refused with advice), flash-attn and unpadded kernels (same maths),
xPos (``rotary_emb_scale_base``), absolute or ALiBi positions, dropout and training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from rag.encoders.weights import WEIGHT_FILES, load_tensors
from rag.encoders.weights import weight_files as checkpoint_weight_files

#: What marks jina's implementation in ``auto_map`` values.
IMPLEMENTATION_REPO = "xlm-roberta-flash-implementation"
_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
#: ``hidden_act`` values jina's code accepts; the last three use the tanh approximation of GELU.
_GELU = {"gelu": "none", "gelu_new": "tanh", "gelu_fast": "tanh", "gelu_pytorch_tanh": "tanh"}
_IGNORED = ("pooler.dense.weight", "pooler.dense.bias")


class JinaXLMRError(ValueError):
    """A config or checkpoint does not fit jina's rotary XLM-RoBERTa; the message says what to do."""


def is_jina_xlmr_config(raw: Mapping) -> bool:
    """Whether a ``config.json`` dict describes jina's rotary XLM-RoBERTa.

    True when ``auto_map`` names ``xlm-roberta-flash-implementation``, or when an XLM-RoBERTa config
    (``model_type`` "xlm-roberta" or unset) asks for rotary positions, which only jina's code has.

    >>> is_jina_xlmr_config({"auto_map": {"AutoModel": "jinaai/xlm-roberta-flash-implementation--modeling_xlm_roberta.XLMRobertaModel"}})
    True
    >>> is_jina_xlmr_config({"model_type": "xlm-roberta", "position_embedding_type": "rotary"})
    True
    >>> is_jina_xlmr_config({"model_type": "bert", "position_embedding_type": "rotary"})
    False
    >>> is_jina_xlmr_config({"auto_map": {"AutoModel": "someone/other-code--modeling.Model"}})
    False
    """
    auto_map = raw.get("auto_map") or {}
    names = auto_map.values() if isinstance(auto_map, Mapping) else auto_map
    if any(IMPLEMENTATION_REPO in str(name) for name in names):
        return True
    return raw.get("position_embedding_type") == "rotary" and raw.get("model_type", "xlm-roberta") == "xlm-roberta"


@dataclass(frozen=True)
class JinaXLMRConfig:
    """The ``config.json`` keys the forward pass needs (names as jina's ``XLMRobertaFlashConfig`` writes them).

    ``model_type`` and ``max_position_embeddings`` are only read by callers (token limits); rotary
    positions have no table, so the model itself takes any length.
    """

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    layer_norm_eps: float = 1e-5
    type_vocab_size: int = 1
    hidden_act: str = "gelu"
    rotary_emb_base: float = 10000.0
    rotary_emb_dim: int = 0  # 0: the head size
    rotary_emb_interleaved: bool = False
    pad_token_id: int = 1
    max_position_embeddings: int | None = None
    model_type: str = "xlm-roberta"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def rotary_dim(self) -> int:
        return self.rotary_emb_dim or self.head_dim

    @classmethod
    def from_dict(cls, raw: Mapping) -> JinaXLMRConfig:
        """Read and check a ``config.json`` dict; raise ``JinaXLMRError`` naming what is missing or unsupported.

        >>> c = JinaXLMRConfig.from_dict({"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
        ...     "num_attention_heads": 2, "intermediate_size": 16, "position_embedding_type": "rotary"})
        >>> c.head_dim, c.rotary_dim, c.rotary_emb_base
        (4, 4, 10000.0)
        """
        missing = [k for k in _REQUIRED if raw.get(k) is None]
        if missing:
            raise JinaXLMRError(f"config.json lacks {missing}; the checkpoint's config.json is incomplete, re-download it.")
        kind = raw.get("position_embedding_type", "absolute")
        if kind != "rotary":
            raise JinaXLMRError(
                f"position_embedding_type is {kind!r}; only jina's rotary variant is implemented natively. "
                "Load this checkpoint with trust_remote_code=True (and jina's code in the Hugging Face cache)."
            )
        if raw.get("rotary_emb_scale_base") is not None:
            raise JinaXLMRError("rotary_emb_scale_base (xPos) is set; it is not implemented natively: use trust_remote_code=True.")
        if raw.get("hidden_act", "gelu") not in _GELU:
            raise JinaXLMRError(f"hidden_act {raw.get('hidden_act')!r} is not one of {sorted(_GELU)}, which jina's model allows.")
        config = cls(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            num_attention_heads=int(raw["num_attention_heads"]),
            intermediate_size=int(raw["intermediate_size"]),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-5)),
            type_vocab_size=int(raw.get("type_vocab_size", 1) or 0),
            hidden_act=str(raw.get("hidden_act", "gelu")),
            rotary_emb_base=float(raw.get("rotary_emb_base") or 10000.0),
            rotary_emb_dim=int(raw.get("rotary_emb_dim") or 0),
            rotary_emb_interleaved=bool(raw.get("rotary_emb_interleaved", False)),
            pad_token_id=int(raw["pad_token_id"]) if raw.get("pad_token_id") is not None else 1,
            max_position_embeddings=raw.get("max_position_embeddings"),
            model_type=str(raw.get("model_type", "xlm-roberta")),
        )
        if config.hidden_size % config.num_attention_heads:
            raise JinaXLMRError(f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads {config.num_attention_heads}.")
        if config.rotary_dim % 2 or config.rotary_dim > config.head_dim:
            raise JinaXLMRError(f"rotary_emb_dim {config.rotary_dim} must be even and at most the head size {config.head_dim}.")
        return config


def rotary_cos_sin(positions: torch.Tensor, dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation angles ``position * base^(-2i/dim)`` as ``(cos, sin)``, float32 ``[n] -> [n, dim/2]`` each.

    Computed in float32 as jina's (flash-attn's) ``RotaryEmbedding`` does; callers cast to their dtype.

    >>> cos, sin = rotary_cos_sin(torch.arange(3), 4, 10000.0)  # frequencies 1 and 1/100
    >>> cos.shape, round(float(sin[1, 0]), 4), round(float(sin[2, 1]), 4)
    (torch.Size([3, 2]), 0.8415, 0.02)
    """
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) / dim))
    angles = torch.outer(positions.to(torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool = False) -> torch.Tensor:
    """Rotate the first ``2 * cos.shape[-1]`` features of ``x [b, n, heads, d]`` by the angles of each position.

    Feature pairs are ``(i, i + r/2)`` (GPT-NeoX layout) or ``(2i, 2i+1)`` when ``interleaved``; the
    features past the rotary width pass through. ``cos``/``sin`` are ``[n, r/2]``.

    >>> x = torch.tensor([[[[1.0, 0.0]]]])                       # one token, one head, d = 2
    >>> cos, sin = torch.tensor([[0.0]]), torch.tensor([[1.0]])  # a quarter turn
    >>> apply_rotary(x, cos, sin).tolist()
    [[[[0.0, 1.0]]]]
    """
    half = cos.shape[-1]
    cos = cos.to(x.dtype)[None, :, None, :]
    sin = sin.to(x.dtype)[None, :, None, :]
    rot, rest = x[..., : 2 * half], x[..., 2 * half :]
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        rotated = torch.stack((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).flatten(-2)
    else:
        x1, x2 = rot[..., :half], rot[..., half:]
        rotated = torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
    return torch.cat((rotated, rest), dim=-1)


def key_mask(attention_mask: torch.Tensor | None, batch: int, length: int, device: torch.device) -> torch.Tensor:
    """Boolean ``[b, 1, 1, n]`` of keys each query may attend to (``attention_mask`` 1 = real token).

    A row with no attended key attends to all of them, as jina's additive ``-10000`` mask then works out.

    >>> key_mask(torch.tensor([[1, 1, 0], [0, 0, 0]]), 2, 3, torch.device("cpu")).flatten(1).tolist()
    [[True, True, False], [True, True, True]]
    """
    if attention_mask is None:
        return torch.ones((batch, 1, 1, length), dtype=torch.bool, device=device)
    keep = attention_mask.to(device=device).bool()
    keep = keep | ~keep.any(dim=-1, keepdim=True)
    return keep[:, None, None, :]


class _Mixer(torch.nn.Module):
    """Self-attention with fused ``Wqkv`` and rotary queries and keys (jina's ``mixer``)."""

    def __init__(self, config: JinaXLMRConfig) -> None:
        super().__init__()
        self.heads, self.head_dim = config.num_attention_heads, config.head_dim
        self.interleaved = config.rotary_emb_interleaved
        self.Wqkv = torch.nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out_proj = torch.nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.Wqkv(x).view(b, n, 3, self.heads, self.head_dim).unbind(dim=2)
        q, k = apply_rotary(q, cos, sin, self.interleaved), apply_rotary(k, cos, sin, self.interleaved)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, -1))


class _Mlp(torch.nn.Module):
    def __init__(self, config: JinaXLMRConfig) -> None:
        super().__init__()
        self.approximate = _GELU[config.hidden_act]
        self.fc1 = torch.nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = torch.nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate=self.approximate))


class _Block(torch.nn.Module):
    """One post-LayerNorm transformer block (jina's ``Block`` with ``prenorm=False``)."""

    def __init__(self, config: JinaXLMRConfig) -> None:
        super().__init__()
        self.mixer = _Mixer(config)
        self.norm1 = torch.nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = _Mlp(config)
        self.norm2 = torch.nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.mixer(x, cos, sin, mask))
        return self.norm2(x + self.mlp(x))


class _Embeddings(torch.nn.Module):
    def __init__(self, config: JinaXLMRConfig) -> None:
        super().__init__()
        self.word_embeddings = torch.nn.Embedding(config.vocab_size, config.hidden_size)
        self.token_type_embeddings = (
            torch.nn.Embedding(config.type_vocab_size, config.hidden_size) if config.type_vocab_size > 0 else None
        )

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.word_embeddings(input_ids)
        if self.token_type_embeddings is not None:  # every token is of type 0
            x = x + self.token_type_embeddings.weight[0]
        return x


class _Encoder(torch.nn.Module):
    def __init__(self, config: JinaXLMRConfig) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(_Block(config) for _ in range(config.num_hidden_layers))


class JinaXLMROutput(NamedTuple):
    """Like transformers' model output: ``out.last_hidden_state`` or ``out[0]``, ``[b, n, hidden]``."""

    last_hidden_state: torch.Tensor


class JinaXLMRModel(torch.nn.Module):
    """jina's rotary XLM-RoBERTa backbone: ``(input_ids [b, n], attention_mask [b, n]) -> last_hidden_state [b, n, hidden]``.

    Parameter names equal the checkpoint's (``embeddings.*``, ``emb_ln.*``, ``encoder.layers.N.*``).
    Build it with ``from_pretrained``; the constructor gives uninitialised weights.
    """

    def __init__(self, config: JinaXLMRConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.emb_ln = torch.nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = _Encoder(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> JinaXLMROutput:
        b, n = input_ids.shape
        x = self.emb_ln(self.embeddings(input_ids))
        cos, sin = rotary_cos_sin(torch.arange(n, device=input_ids.device), self.config.rotary_dim, self.config.rotary_emb_base)
        mask = key_mask(attention_mask, b, n, input_ids.device)
        for layer in self.encoder.layers:
            x = layer(x, cos, sin, mask)
        return JinaXLMROutput(last_hidden_state=x)

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, dtype: torch.dtype = torch.float32, weight_files: Sequence[Path] | None = None
    ) -> JinaXLMRModel:
        """Load ``config.json`` and the weights of ``folder`` (or ``weight_files``), cast to ``dtype``, on the CPU, in eval mode.

        Every parameter must be in the files with its shape; backbone keys nobody reads (other than the
        pooler) are an error too, so a checkpoint of another architecture never loads half-right.
        """
        folder = Path(folder)
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise JinaXLMRError(f"{folder} has no config.json; pass the checkpoint folder.")
        config = JinaXLMRConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        files = list(weight_files) if weight_files is not None else checkpoint_weight_files(folder, error=JinaXLMRError)
        if not files:
            raise JinaXLMRError(f"{folder} holds no weights ({' or '.join(WEIGHT_FILES)}); download the model files.")
        state = backbone_state(load_tensors(files), [f.name for f in files])
        with torch.device("meta"):
            model = cls(config)
        check_state(model, state)
        model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True, assign=True)
        return model.eval()


def backbone_state(tensors: Mapping[str, torch.Tensor], file_names: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """The backbone's tensors with their prefix (``roberta.`` in colbert-ai's ``HF_ColBERT``, or none) removed.

    The prefix is whatever precedes ``embeddings.word_embeddings.weight``; the pooler is dropped.

    >>> sorted(backbone_state({"roberta.embeddings.word_embeddings.weight": 1, "roberta.pooler.dense.bias": 2, "linear.weight": 3}))
    ['embeddings.word_embeddings.weight']
    """
    anchor = "embeddings.word_embeddings.weight"
    prefixes = [p for p in {k[: -len(anchor)] for k in tensors if k.endswith(anchor)} if p == "" or p.endswith(".")]
    if not prefixes:
        raise JinaXLMRError(
            f"no '{anchor}' in the weights ({', '.join(file_names) or 'given tensors'}); this is not an XLM-RoBERTa "
            "checkpoint in jina's layout. Re-download the model, or check that config.json belongs to these weights."
        )
    prefix = min(prefixes, key=len)
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    return {k: v for k, v in state.items() if k not in _IGNORED}


def check_state(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Raise ``JinaXLMRError`` naming missing, unexpected or misshapen weights (LoRA adapters get their own advice)."""
    expected = {k: tuple(p.shape) for k, p in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if any("parametrizations" in k or "lora_" in k for k in unexpected):
        raise JinaXLMRError(
            "the weights hold LoRA adapters (jina-embeddings-v3 style 'parametrizations'), which the native "
            "implementation does not apply; load this model with trust_remote_code=True."
        )
    if missing or unexpected:
        raise JinaXLMRError(
            f"the weights do not fit jina's rotary XLM-RoBERTa: {len(missing)} missing (e.g. {missing[:4]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:4]}). The checkpoint is incomplete or config.json "
            "names another architecture; re-download it, or load it with trust_remote_code=True."
        )
    wrong = [f"{k} {list(state[k].shape)} != {list(shape)}" for k, shape in expected.items() if tuple(state[k].shape) != shape]
    if wrong:
        raise JinaXLMRError(
            f"weight shapes do not match config.json: {wrong[:3]}; config.json does not belong to these weights."
        )


def load_jina_xlmr(folder: str | Path, dtype: torch.dtype = torch.float32, weight_files: Sequence[Path] | None = None) -> JinaXLMRModel:
    """``JinaXLMRModel.from_pretrained`` as a function (the loader ``rag.encoders.colbert`` calls)."""
    return JinaXLMRModel.from_pretrained(folder, dtype=dtype, weight_files=weight_files)
