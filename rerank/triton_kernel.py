"""Triton MaxSim: one program per (candidate passage, block of query tokens), similarities kept in registers.

A program loads its block of query tokens once, then walks the passage's rows ``token_offsets[p]:
token_offsets[p + 1]`` in blocks of ``BLOCK_T`` tokens: it loads the packed bytes (or float16 / bfloat16
values), unpacks the bits in registers (``(byte >> (c % 8)) & 1``), multiplies with ``tl.dot`` and keeps a
running max per query token. Only the ``[m, n_q]`` per-query-token maxima are written; the full similarity
matrix never reaches memory. The caller sums them (``rerank.documents``), which also serves cross-passage
scoring.

Precision: tensor cores take 16-bit inputs. Bits (0/1) and float16 / bfloat16 values are exact in them; the
float32 query is split into 16-bit parts ``q = q_0 + q_1 (+ q_2)`` (two float16 parts carry 22 bits of
mantissa, three bfloat16 parts 24) after scaling by a power of two, and each part is multiplied with float32
accumulation, so results match a float32 reference to about 1e-6 relative.

This module imports Triton when it is imported; ``rerank.maxsim`` imports it only for the Triton backends.
On a machine without a GPU the kernels run on CPU tensors when ``TRITON_INTERPRET=1`` is set before Triton
is imported (slow: for tests).
"""

from __future__ import annotations

from typing import Any

from rerank._lazy import import_torch, import_triton

triton, tl = import_triton()

DEFAULT_BLOCK_T = 64


@triton.jit
def _maxsim_kernel(
    q_ptr,  # [N_PARTS, n_q, dim] float16 / bfloat16 parts of the scaled query, contiguous
    data_ptr,  # codes uint8 [T, row_stride] or values [T, row_stride]
    offsets_ptr,  # int64 [P + 1]
    ids_ptr,  # int64 [m]
    out_ptr,  # float32 [m, n_q]
    n_q,
    dim,
    row_stride,
    BLOCK_Q: tl.constexpr,
    BLOCK_T: tl.constexpr,
    BLOCK_D: tl.constexpr,
    N_PARTS: tl.constexpr,
    BINARY: tl.constexpr,
):
    cand = tl.program_id(0)
    q_block = tl.program_id(1)
    passage = tl.load(ids_ptr + cand)
    start = tl.load(offsets_ptr + passage)
    end = tl.load(offsets_ptr + passage + 1)

    q_idx = q_block * BLOCK_Q + tl.arange(0, BLOCK_Q)
    d_idx = tl.arange(0, BLOCK_D)
    q_mask = q_idx < n_q
    d_mask = d_idx < dim
    q_offs = q_idx[:, None] * dim + d_idx[None, :]
    q_load_mask = q_mask[:, None] & d_mask[None, :]
    q0 = tl.load(q_ptr + q_offs, mask=q_load_mask, other=0.0)
    if N_PARTS > 1:
        q1 = tl.load(q_ptr + n_q * dim + q_offs, mask=q_load_mask, other=0.0)
    if N_PARTS > 2:
        q2 = tl.load(q_ptr + 2 * n_q * dim + q_offs, mask=q_load_mask, other=0.0)

    best = tl.full((BLOCK_Q,), float("-inf"), tl.float32)
    t_idx = tl.arange(0, BLOCK_T)
    if BINARY:
        col = d_idx // 8
        shift = (d_idx % 8).to(tl.uint8)
    else:
        col = d_idx
    for t0 in range(start, end, BLOCK_T):
        rows = t0 + t_idx  # int64
        row_mask = rows < end
        tile = tl.load(
            data_ptr + rows[:, None] * row_stride + col[None, :],
            mask=row_mask[:, None] & d_mask[None, :],
            other=0,
        )  # [BLOCK_T, BLOCK_D]
        if BINARY:
            tile = ((tile >> shift[None, :]) & 1).to(q0.dtype)
        x_t = tl.trans(tile)  # [BLOCK_D, BLOCK_T]
        sims = tl.dot(q0, x_t, out_dtype=tl.float32)
        if N_PARTS > 1:
            sims = tl.dot(q1, x_t, sims, out_dtype=tl.float32)
        if N_PARTS > 2:
            sims = tl.dot(q2, x_t, sims, out_dtype=tl.float32)
        sims = tl.where(row_mask[None, :], sims, float("-inf"))
        best = tl.maximum(best, tl.max(sims, axis=1))
    tl.store(out_ptr + cand * n_q + q_idx, best, mask=q_mask)


def split_query(query: Any, part_dtype: Any, n_parts: int) -> tuple[Any, Any]:
    """Split float32 ``query [n_q, d]`` into ``n_parts`` 16-bit parts ``[n_parts, n_q, d]`` and a power-of-two scale.

    ``query == scale * sum(parts)`` up to the last part's rounding: the scale (a 0-d float32 tensor, computed on
    the device without a host sync) brings ``max |q|`` into ``(0.5, 1]`` so float16 parts neither overflow nor
    lose much to subnormals.

    >>> torch = import_torch()
    >>> q = torch.tensor([[3.0, 1.0 / 3.0]])
    >>> parts, scale = split_query(q, torch.float16, 2)
    >>> float(scale), float((parts.float().sum(0) * scale - q).abs().max()) < 1e-6
    (4.0, True)
    """
    torch = import_torch()
    q = query.float()
    peak = q.abs().amax() if q.numel() else torch.zeros((), device=q.device)
    scale = torch.where(peak > 0, torch.exp2(torch.ceil(torch.log2(peak))), torch.ones_like(peak))
    residual = q / scale
    parts = []
    for _ in range(n_parts):
        part = residual.to(part_dtype)
        parts.append(part)
        residual = residual - part.float()
    return torch.stack(parts).contiguous(), scale


def token_max_triton(
    query: Any,
    data: Any,
    token_offsets: Any,
    passage_ids: Any,
    *,
    dim: int,
    block_t: int = DEFAULT_BLOCK_T,
    num_warps: int = 4,
) -> Any:
    """Per query token, the best dot product in each candidate passage, with the Triton kernel.

    All tensors on one device (CUDA, or CPU under ``TRITON_INTERPRET=1``): ``query`` float ``[n_q, dim]``;
    ``data`` uint8 codes ``[T, dim / 8]`` (bits scored as 0/1) or float16 / bfloat16 values ``[T, dim]``;
    ``token_offsets`` int64 ``[P + 1]``; ``passage_ids`` int64 ``[m]``. Returns float32 ``[m, n_q]``, ``-inf``
    for an empty passage.
    """
    torch = import_torch()
    binary = data.dtype == torch.uint8
    if data.dtype not in (torch.uint8, torch.float16, torch.bfloat16):
        raise ValueError(f"the Triton kernel reads uint8 codes or float16/bfloat16 values, got {data.dtype}")
    if not data.is_contiguous() or data.ndim != 2:
        raise ValueError("token data must be a contiguous 2-D tensor [T, width]")
    if block_t < 16 or block_t & (block_t - 1):
        raise ValueError(f"block_t must be a power of two >= 16 (tl.dot needs 16), got {block_t}")
    device = data.device
    if data.dtype == torch.bfloat16 and device.type == "cpu":
        raise NotImplementedError(
            "the Triton interpreter multiplies the raw bit patterns of bfloat16 operands in tl.dot "
            "(triton-lang/triton#11584); run bfloat16 values on a GPU, or use float16 values / backend='cpu'")
    n_q = int(query.shape[0])
    m = int(passage_ids.shape[0])
    out = torch.empty((m, n_q), dtype=torch.float32, device=device)
    if m == 0 or n_q == 0:
        return out
    part_dtype = torch.bfloat16 if data.dtype == torch.bfloat16 else torch.float16
    parts, scale = split_query(query.to(device), part_dtype, 3 if part_dtype == torch.bfloat16 else 2)
    block_q = max(16, min(64, triton.next_power_of_2(n_q)))
    block_d = max(16, triton.next_power_of_2(dim))
    grid = (m, triton.cdiv(n_q, block_q))
    _maxsim_kernel[grid](
        parts,
        data,
        token_offsets,
        passage_ids,
        out,
        n_q,
        dim,
        int(data.shape[1]),
        BLOCK_Q=block_q,
        BLOCK_T=block_t,
        BLOCK_D=block_d,
        N_PARTS=int(parts.shape[0]),
        BINARY=binary,
        num_warps=num_warps,
    )
    return out * scale  # -inf rows stay -inf
