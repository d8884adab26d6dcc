"""BGE-M3 in its published layout, run over ``transformers`` directly: dense, sparse and multivector in one pass.

Checkpoint folder: XLM-RoBERTa weights (``config.json``, ``model.safetensors`` or ``pytorch_model.bin``,
tokenizer files) plus ``sparse_linear.pt`` (state dict of ``Linear(hidden, 1)``) and
``colbert_linear.pt`` (state dict of ``Linear(hidden, dim)``, dim = hidden in the release).

The three heads follow FlagEmbedding's ``EncoderOnlyEmbedderM3Model`` (inference, ``normalize_embeddings=True``):

- dense: the CLS state (position 0), L2-normalised;
- sparse: ``relu(sparse_linear(hidden))`` per token; per vocabulary id the largest weight; the ids of
  the cls, eos, pad and unk tokens removed; only weights > 0 kept;
- multivector: ``colbert_linear(hidden[:, 1:])`` (CLS dropped, the final ``</s>`` kept), padding
  removed, each vector L2-normalised.

The heads run in float32 on the hidden states whatever the encoder's dtype.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy import sparse as sp

from rag.encoders.base import Encoded, EncoderInfo, Kind, Representation
from rag.encoders.batching import check_request, length_sorted_batches, model_token_limit, pad_right, tokenize
from rag.encoders.device import dtype_name, resolve_device, resolve_dtype
from rag.encoders.fingerprint import model_fingerprint
from rag.encoders.pooling import l2_normalize, token_vectors
from rag.encoders.sparse import max_weight_per_token

SPARSE_HEAD = "sparse_linear.pt"
COLBERT_HEAD = "colbert_linear.pt"


def is_bge_m3_checkpoint(path: Path) -> bool:
    """True for a folder in the BGE-M3 layout (it has ``sparse_linear.pt`` beside ``config.json``)."""
    path = Path(path)
    return (path / SPARSE_HEAD).is_file() and (path / "config.json").is_file()


def load_linear_head(path: Path, *, in_features: int, out_features: int | None = None) -> torch.nn.Linear:
    """A float32 ``torch.nn.Linear`` from a saved state dict (``weight [out, in]``, optional ``bias [out]``)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise ValueError(f"cannot read the head {path} ({exc}); re-download the model files.") from exc
    if not isinstance(state, dict) or "weight" not in state:
        raise ValueError(f"{path} should hold a state dict with 'weight' (and 'bias') of a Linear layer.")
    weight = state["weight"]
    if weight.ndim != 2 or weight.shape[1] != in_features or (out_features is not None and weight.shape[0] != out_features):
        want = f"[{out_features if out_features is not None else 'dim'}, {in_features}]"
        raise ValueError(f"{path}: weight has shape {list(weight.shape)}, expected {want} for this model.")
    head = torch.nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in state)
    head.load_state_dict(state)
    return head.to(torch.float32).eval()


class BGEM3Encoder:
    """BGE-M3: one forward pass gives dense ``[n, h]``, sparse CSR ``[n, vocab]`` and multivector ``n x [t_i, dim]``.

    ``max_length`` (documents, default 8192) and ``query_max_length`` (default 512) are clamped to
    the model's position table. Device and dtype are fixed when built; ``encode`` never changes them.
    """

    def __init__(
        self,
        path: Path,
        *,
        name: str | None = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        max_length: int = 8192,
        query_max_length: int = 512,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.path = Path(path)
        if not is_bge_m3_checkpoint(self.path):
            raise FileNotFoundError(
                f"{self.path} is not a BGE-M3 folder: it needs config.json and {SPARSE_HEAD} "
                f"(download all files of BAAI/bge-m3, not only the transformer weights)."
            )
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        self.model = AutoModel.from_pretrained(str(self.path), dtype=self.dtype, add_pooling_layer=False)
        self.model.to(self.device).eval()
        hidden = int(self.model.config.hidden_size)
        self.sparse_head = load_linear_head(self.path / SPARSE_HEAD, in_features=hidden, out_features=1).to(self.device)
        colbert_path = self.path / COLBERT_HEAD
        self.colbert_head = (
            load_linear_head(colbert_path, in_features=hidden).to(self.device) if colbert_path.is_file() else None
        )
        limit = model_token_limit(self.model.config, self.tokenizer)
        self.max_length = min(max_length, limit)
        self.query_max_length = min(query_max_length, limit)
        self.vocab_size = int(self.model.config.vocab_size)
        tok = self.tokenizer
        self.unused_token_ids = sorted(
            {i for i in (tok.cls_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id) if i is not None}
        )
        self.info = EncoderInfo(
            name=name or str(self.path),
            kind="bge-m3",
            fingerprint=model_fingerprint(self.path),
            dense_dim=hidden,
            sparse_vocab=self.vocab_size,
            multivector_dim=None if self.colbert_head is None else int(self.colbert_head.out_features),
            extra={
                "pooling": "cls",
                "normalize": True,
                "max_length": self.max_length,
                "query_max_length": self.query_max_length,
                "dtype": dtype_name(self.dtype),
                "device": str(self.device),
            },
        )

    def encode(
        self,
        texts: Sequence[str],
        *,
        kind: Kind,
        want: Sequence[Representation] = ("dense", "sparse", "multivector"),
        batch_size: int = 32,
    ) -> Encoded:
        """Encode ``texts`` in one forward pass per batch; returns only the wanted representations."""
        texts = check_request(texts, kind, want)
        want_dense, want_sparse = "dense" in want, "sparse" in want
        want_mv = "multivector" in want and self.colbert_head is not None
        if not (want_dense or want_sparse or want_mv):
            return Encoded()
        ids, _ = tokenize(self.tokenizer, texts, self.query_max_length if kind == "query" else self.max_length)
        n = len(texts)
        dense = np.zeros((n, self.info.dense_dim or 0), dtype=np.float32)
        sparse_rows: list[sp.csr_matrix] = []
        order: list[np.ndarray] = []
        multivector: list[np.ndarray] = [np.zeros((0, self.info.multivector_dim or 0), dtype=np.float32)] * n
        with torch.inference_mode():
            for batch in length_sorted_batches([len(x) for x in ids], batch_size):
                input_ids, mask = pad_right([ids[i] for i in batch], self.tokenizer.pad_token_id)
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state.to(torch.float32)
                if want_dense:
                    dense[batch] = l2_normalize(hidden[:, 0]).cpu().numpy()
                if want_sparse:
                    weights = torch.relu(self.sparse_head(hidden)).squeeze(-1)
                    sparse_rows.append(
                        max_weight_per_token(
                            weights.cpu().numpy(),
                            input_ids.cpu().numpy(),
                            self.vocab_size,
                            drop_ids=self.unused_token_ids,
                            mask=mask.cpu().numpy(),
                        )
                    )
                    order.append(batch)
                if want_mv and self.colbert_head is not None:
                    vectors = l2_normalize(self.colbert_head(hidden[:, 1:]))
                    for i, v in zip(batch, token_vectors(vectors, mask[:, 1:].bool())):
                        multivector[i] = v
        sparse = None
        if want_sparse:
            sparse = sp.csr_matrix((0, self.vocab_size), dtype=np.float32)
            if sparse_rows:
                stacked = sp.vstack(sparse_rows, format="csr")
                sparse = stacked[np.argsort(np.concatenate(order), kind="stable")]
        return Encoded(
            dense=dense if want_dense else None,
            sparse=sparse,
            multivector=multivector if want_mv else None,
        )
