"""Sign binarisation of token vectors: 1 bit per dimension, packed 8 per byte, little bit order.

A float token ``x`` of dim ``d`` (``d % 8 == 0``) becomes ``d / 8`` bytes: bit ``c`` of the token is
``x[c] > 0`` and lives in byte ``c // 8`` at bit position ``c % 8`` counted from the least significant
bit, i.e. exactly ``np.packbits(x > 0, axis=-1, bitorder="little")``. Zero and negative values give 0.
Storing bits instead of float32 values takes exactly 1/32 of the bytes.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


def _as_numpy(x: Any) -> np.ndarray:
    """A numpy view of ``x`` (numpy array or torch tensor on any device)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch.Tensor; torch itself is not imported here
        tensor = x.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            tensor = tensor.float()
        return tensor.numpy()
    return np.asarray(x)


def packed_width(dim: int) -> int:
    """Bytes per packed token of dimension ``dim``; ``dim`` must be a positive multiple of 8.

    >>> packed_width(128)
    16
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0 or dim % 8:
        raise ValueError(f"binary codes need a token dimension that is a positive multiple of 8, got {dim!r}")
    return int(dim) // 8


def pack_bits(x: Any) -> np.ndarray:
    """Binarise ``x`` by sign and pack the bits: float ``[..., d]`` -> uint8 ``[..., d/8]`` (little bit order).

    Bit ``c`` is ``x[..., c] > 0``; ``d`` must be a multiple of 8. Accepts a numpy array or a torch tensor.
    NaN values are rejected (they have no sign).

    >>> pack_bits(np.array([[0.5, -1.0, 0.0, 2.0, -0.1, 0.3, 0.0, -4.0]]))  # bits 1,0,0,1,0,1,0,0 -> 1+8+32
    array([[41]], dtype=uint8)
    """
    array = _as_numpy(x)
    if array.ndim == 0:
        raise ValueError("pack_bits needs an array of token vectors [..., d], got a scalar")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"pack_bits needs a float array [..., d], got dtype {array.dtype}")
    packed_width(array.shape[-1])
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        raise ValueError("pack_bits got NaN values, which have no sign; clean the embeddings before indexing")
    return np.packbits(array > 0, axis=-1, bitorder="little")


@functools.lru_cache(maxsize=4)
def byte_bit_table(dtype: str = "float32") -> np.ndarray:
    """The 256-entry lookup table ``LUT[byte] -> 8 values`` in {0, 1}: ``[256, 8]``, little bit order.

    The returned array is read-only (it is shared between calls).

    >>> byte_bit_table()[5].tolist()  # 5 = 0b101: bits 0 and 2 are set
    [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    table = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(dtype)
    table.setflags(write=False)
    return table


def unpack_bits(codes: Any, d: int) -> np.ndarray:
    """Unpack uint8 codes ``[..., d/8]`` into float32 ``[..., d]`` holding 0.0 and 1.0 (inverse of ``pack_bits``).

    >>> unpack_bits(np.array([[41]], dtype=np.uint8), 8)
    array([[1., 0., 0., 1., 0., 1., 0., 0.]], dtype=float32)
    """
    array = _as_numpy(codes)
    width = packed_width(d)
    if array.dtype != np.uint8:
        raise ValueError(f"unpack_bits needs uint8 codes, got dtype {array.dtype}")
    if array.ndim == 0 or array.shape[-1] != width:
        raise ValueError(f"codes of dim {d} must have {width} bytes in the last axis, got shape {array.shape}")
    return byte_bit_table("float32")[array].reshape(*array.shape[:-1], int(d))
