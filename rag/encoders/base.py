"""The one encoder interface: a batch in, every representation the model has out.

Indexes know nothing of models and encoders know nothing of indexes; the planner wires
them through the index manifest, which records ``Encoder.describe()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Kind = Literal["query", "document"]
Representation = Literal["dense", "sparse", "multivector"]


@dataclass
class Encoded:
    """What one forward pass over ``n`` texts produced.

    - ``dense``: float32 ``[n, d]``, L2-normalised, or None.
    - ``sparse``: ``scipy.sparse.csr_matrix`` float32 ``[n, vocab_size]`` (term weights, special tokens removed), or None.
    - ``multivector``: list of ``n`` float32 arrays ``[t_i, d_mv]``, rows L2-normalised, or None.
    """

    dense: np.ndarray | None = None
    sparse: Any | None = None
    multivector: list[np.ndarray] | None = None


@dataclass(frozen=True)
class EncoderInfo:
    """Recorded in the index manifest; a query encoder must match the one the index was built with."""

    name: str  # model id or path as given by the user
    kind: str  # "sentence-transformers" | "bge-m3" | "colbert" | "minilm-tokens" | ...
    fingerprint: str  # stable hash of the weights' config + a checksum of the weight file names/sizes
    dense_dim: int | None = None
    sparse_vocab: int | None = None
    multivector_dim: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Encoder(Protocol):
    info: EncoderInfo

    def encode(
        self,
        texts: Sequence[str],
        *,
        kind: Kind,
        want: Sequence[Representation] = ("dense", "sparse", "multivector"),
        batch_size: int = 32,
    ) -> Encoded:
        """Encode ``texts`` in one forward pass per batch; returns only what is both wanted and available."""
        ...
