"""The token tensor of a segment of passages: one contiguous array of token rows plus passage offsets.

Layout (what the tensor index stores, memory-mapped):

- ``codes``: uint8 ``[T, d/8]``, tokens binarised by sign and packed with
  ``np.packbits(x > 0, axis=-1, bitorder="little")`` (see ``rerank.bits``), or
- ``values``: float16 ``[T, d]`` for the exact mode (a torch bfloat16 tensor is accepted too);
- ``token_offsets``: int64 ``[P + 1]``, ``token_offsets[0] == 0``, non-decreasing, ``token_offsets[P] == T``:
  passage ``p`` owns rows ``token_offsets[p]:token_offsets[p + 1]``. A passage may own 0 rows.

The arrays may be numpy arrays (memory maps included) or torch tensors; ``TokenStore.to(device)``
copies them to a torch device once, so the GPU kernels read the rows in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rerank.bits import _as_numpy, pack_bits, packed_width


def is_tensor(x: Any) -> bool:
    """True for a torch.Tensor (checked without importing torch)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "device")


def to_tensor(array: np.ndarray) -> Any:
    """``torch.from_numpy``, copying the arrays torch cannot wrap: read-only ones (memory maps opened with
    ``mmap_mode="r"``) and non-contiguous ones."""
    from rerank._lazy import import_torch

    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C")
    return import_torch().from_numpy(array)


def dtype_name(x: Any) -> str:
    """``"uint8"``, ``"float16"``, ``"bfloat16"``... for a numpy array or a torch tensor."""
    return str(x.dtype).removeprefix("torch.")


@dataclass
class TokenStore:
    """Token rows of ``P`` passages; exactly one of ``codes`` (binary) and ``values`` (exact) is set.

    ``dim`` is the float dimension ``d`` of a token (``codes`` has ``d / 8`` bytes per row).
    Passage ``p`` owns rows ``token_offsets[p]:token_offsets[p + 1]``; an empty passage scores 0.

    >>> store = TokenStore.from_passages([np.ones((2, 8)), np.zeros((0, 8))])
    >>> store.n_passages, store.n_tokens, store.codes.tolist()
    (2, 2, [[255], [255]])
    """

    codes: Any | None
    values: Any | None
    token_offsets: Any
    dim: int

    def __post_init__(self) -> None:
        if (self.codes is None) == (self.values is None):
            raise ValueError("a TokenStore holds exactly one of codes (binary) or values (exact float16); got "
                             f"codes={'set' if self.codes is not None else 'None'}, "
                             f"values={'set' if self.values is not None else 'None'}")
        if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)) or self.dim <= 0:
            raise ValueError(f"dim must be a positive int (the float token dimension), got {self.dim!r}")
        self.dim = int(self.dim)
        data = self.data
        if not hasattr(data, "shape") or not hasattr(data, "dtype"):
            raise ValueError(f"token data must be a numpy array or torch tensor, got {type(data).__name__}")
        if not is_tensor(self.token_offsets):
            self.token_offsets = np.asarray(self.token_offsets)
        if len(data.shape) != 2:
            raise ValueError(f"token data must be 2-D [T, width], got shape {tuple(data.shape)}")
        if self.binary:
            width = packed_width(self.dim)
            if dtype_name(data) != "uint8" or data.shape[1] != width:
                raise ValueError(f"codes must be uint8 [T, {width}] for dim {self.dim} (np.packbits(x > 0, axis=-1, "
                                 f'bitorder="little")), got {dtype_name(data)} {tuple(data.shape)}')
        else:
            allowed = ("float16", "bfloat16") if is_tensor(data) else ("float16",)
            if dtype_name(data) not in allowed or data.shape[1] != self.dim:
                raise ValueError(f"values must be {' or '.join(allowed)} [T, {self.dim}], got "
                                 f"{dtype_name(data)} {tuple(data.shape)}; convert with .astype(np.float16)")
        if is_tensor(self.token_offsets):  # a copy made by .to(device) of a checked store: check the ends only
            offsets = _as_numpy(self.token_offsets[[0, -1]] if self.token_offsets.shape[0] else self.token_offsets)
            check_offsets(offsets, int(data.shape[0]), "token_offsets", "T (the number of token rows)", full=False)
        else:
            # O(1) checks here: an index builds a store per query over memory-mapped offsets, so the O(P)
            # monotonicity check is left to validate() and to each query's candidates (check_candidates).
            check_offsets(self.token_offsets, int(data.shape[0]), "token_offsets", "T (the number of token rows)",
                          full=False)

    def validate(self) -> TokenStore:
        """Check that ``token_offsets`` never decreases (O(P)); construction checks only the dtype and the ends."""
        check_offsets(self.offsets_numpy(), self.n_tokens, "token_offsets", "T (the number of token rows)")
        return self

    def check_candidates(self, passage_ids: np.ndarray) -> None:
        """Raise a ValueError if a candidate passage has a negative length (``token_offsets`` decreasing there)."""
        if is_tensor(self.token_offsets) or not len(passage_ids):
            return
        lengths = self.token_offsets[passage_ids + 1] - self.token_offsets[passage_ids]
        if (lengths < 0).any():
            bad = int(passage_ids[np.flatnonzero(lengths < 0)[0]])
            raise ValueError(f"token_offsets decrease at passage {bad} ({int(self.token_offsets[bad])} > "
                             f"{int(self.token_offsets[bad + 1])}); offsets must never decrease")

    @property
    def binary(self) -> bool:
        """True when the store holds packed sign bits, False for float values."""
        return self.codes is not None

    @property
    def data(self) -> Any:
        """The token rows: ``codes`` or ``values``."""
        return self.codes if self.codes is not None else self.values

    @property
    def n_passages(self) -> int:
        return int(self.token_offsets.shape[0]) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.data.shape[0])

    @property
    def device(self) -> str:
        """``"cpu"`` for numpy arrays, else the torch device of the tensors (``"cuda:0"``...)."""
        return str(self.data.device) if is_tensor(self.data) else "cpu"

    def token_nbytes(self) -> int:
        """Bytes of token data (codes or values), offsets excluded."""
        data = self.data
        return int(data.numel() * data.element_size()) if is_tensor(data) else int(data.nbytes)

    def offsets_numpy(self) -> np.ndarray:
        """``token_offsets`` as an int64 numpy array (copied from the device when it lives on a GPU)."""
        return _as_numpy(self.token_offsets)

    def to(self, device: str, *, values_dtype: str | None = None) -> TokenStore:
        """A copy whose arrays are torch tensors on ``device`` (``"cuda"``, ``"cuda:1"``, ``"cpu"``).

        ``values_dtype="bfloat16"`` converts exact-mode values on the way (float16 is the stored form).
        """
        from rerank._lazy import import_torch

        torch = import_torch()

        def move(x: Any) -> Any:
            if x is None:
                return None
            if is_tensor(x):
                return x.to(device).contiguous()
            out = torch.empty(x.shape, dtype=getattr(torch, str(x.dtype)), device=device)
            step = max(1, (64 << 20) // max(1, x[:1].nbytes))  # 64 MiB slices: a memory map is never read whole
            for lo in range(0, x.shape[0], step):
                out[lo:lo + step].copy_(to_tensor(np.asarray(x[lo:lo + step])))
            return out

        values = move(self.values)
        if values is not None and values_dtype is not None:
            values = values.to(getattr(torch, values_dtype))
        return TokenStore(codes=move(self.codes), values=values, token_offsets=move(self.token_offsets), dim=self.dim)

    @classmethod
    def from_passages(cls, passages: Sequence[Any], *, binary: bool = True, dim: int | None = None) -> TokenStore:
        """Build a store from one float array ``[t_p, d]`` per passage (``t_p`` may be 0).

        ``binary=True`` packs sign bits; ``binary=False`` keeps float16 values. ``dim`` is needed only when
        there are no passages to read it from.
        """
        arrays = [_as_numpy(p) for p in passages]
        for index, array in enumerate(arrays):
            if array.ndim != 2:
                raise ValueError(f"passage {index} must be a 2-D array [tokens, d], got shape {array.shape}")
        dims = {a.shape[1] for a in arrays}
        if dim is not None:
            dims.add(dim)
        if len(dims) != 1:
            raise ValueError(f"all passages must share one token dimension; got {sorted(dims)}")
        d = dims.pop()
        lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        rows = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, d), dtype=np.float32)
        if binary:
            return cls(codes=pack_bits(rows.reshape(-1, d)), values=None, token_offsets=offsets, dim=d)
        return cls(codes=None, values=rows.astype(np.float16), token_offsets=offsets, dim=d)


def check_offsets(offsets: np.ndarray, total: int, name: str, total_name: str, *, full: bool = True) -> None:
    """Raise a ValueError unless ``offsets`` is int64 ``[n + 1]``, starts at 0, never decreases, ends at ``total``.

    ``full=False`` skips the O(n) never-decreases check.
    """
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise ValueError(f"{name} must be a 1-D int64 array [n + 1], got shape {offsets.shape}")
    if offsets.dtype != np.int64:
        raise ValueError(f"{name} must be int64, got {offsets.dtype}; convert with .astype(np.int64)")
    if offsets[0] != 0 or offsets[-1] != total:
        raise ValueError(f"{name} must start at 0 and end at {total_name} = {total}; "
                         f"got {int(offsets[0])} ... {int(offsets[-1])}")
    if full and offsets.shape[0] > 1 and (np.diff(offsets) < 0).any():
        bad = int(np.flatnonzero(np.diff(offsets) < 0)[0])
        raise ValueError(f"{name} must never decrease; {name}[{bad}] = {int(offsets[bad])} > "
                         f"{name}[{bad + 1}] = {int(offsets[bad + 1])}")


def gather_rows(data: Any, token_offsets: np.ndarray, passage_ids: np.ndarray) -> tuple[Any, np.ndarray]:
    """Copy the rows of ``passage_ids`` into one contiguous block: ``(rows [sum t_p, width], local_offsets [m + 1])``.

    ``data`` is a numpy array (a memory map is read only where needed) or a torch tensor.

    >>> rows, local = gather_rows(np.arange(10).reshape(5, 2), np.array([0, 2, 2, 5]), np.array([2, 0]))
    >>> rows.tolist(), local.tolist()
    ([[4, 5], [6, 7], [8, 9], [0, 1], [2, 3]], [0, 3, 5])
    """
    starts = token_offsets[passage_ids]
    lengths = token_offsets[passage_ids + 1] - starts
    local = np.zeros(len(passage_ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=local[1:])
    total = int(local[-1])
    if total == 0:
        return data[:0], local
    if np.array_equal(starts[1:], starts[:-1] + lengths[:-1]):
        first = int(starts[0])
        return data[first:first + total], local  # one contiguous slice: no copy needed
    index = np.repeat(starts - local[:-1], lengths) + np.arange(total, dtype=np.int64)
    if is_tensor(data):
        from rerank._lazy import import_torch

        return data[import_torch().from_numpy(index).to(data.device)], local
    return data[index], local
