"""Public MaxSim rerank: validate the input, pick a backend, return numpy scores.

``maxsim`` scores candidate passages; ``score_documents`` groups them into documents (best passage, or MaxSim
over the union of a document's passage tokens). The query stays float (asymmetric scheme); a binary store's bits
are scored as 0/1 values (``binary_form="01"``) or as -1/+1 (``"pm1"``). For a fixed query both rank alike:
``q . (2b - 1) = 2 q . b - sum(q)``, and this identity is how every backend but the reference computes ``"pm1"``.

Backends: ``"auto"`` (``"cuda"`` when a GPU and Triton are present, else ``"cpu"``), ``"cpu"`` (``rerank.cpu``),
``"cuda"`` (the Triton kernel on a GPU; fails loudly without one), ``"triton"`` (the Triton kernel on whatever
device: the GPU, or the CPU under ``TRITON_INTERPRET=1``), ``"reference"`` (plain PyTorch, ``rerank.reference``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from rerank._lazy import import_torch
from rerank.bits import _as_numpy, unpack_bits
from rerank.documents import DOCUMENT_MODES, document_scores, passage_scores
from rerank.store import TokenStore, check_offsets, gather_rows, is_tensor, to_tensor

__all__ = ["BACKENDS", "BINARY_FORMS", "TokenStore", "maxsim", "score_documents", "token_max", "resolve_backend"]

BACKENDS = ("auto", "cpu", "cuda", "triton", "reference")
BINARY_FORMS = ("01", "pm1")


def _triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str, store: TokenStore) -> str:
    """Turn ``backend`` into ``"cpu" | "cuda" | "triton" | "reference"``; a forced, missing accelerator fails loudly."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        if store.device.startswith("cuda"):
            return "cuda"
        torch = import_torch()
        return "cuda" if torch.cuda.is_available() and _triton_available() else "cpu"
    if backend == "cuda":
        torch = import_torch()
        if not torch.cuda.is_available():
            raise RuntimeError("backend='cuda' needs a CUDA GPU, but torch.cuda.is_available() is False here; "
                               "use backend='cpu' (or 'auto'), or install a CUDA build of torch on a GPU machine")
    if backend == "triton" and not store.device.startswith("cuda") and os.environ.get("TRITON_INTERPRET") != "1":
        torch = import_torch()
        if not torch.cuda.is_available():
            raise RuntimeError("backend='triton' without a GPU runs the Triton interpreter, which needs the "
                               "environment variable TRITON_INTERPRET=1 set before triton is imported "
                               "(e.g. TRITON_INTERPRET=1 python ...); or use backend='cpu'")
    return backend


def _check_query(query: Any, dim: int) -> Any:
    """Return the query as float32 (numpy, or a torch tensor when one was given); raise on a bad shape or value."""
    shape = tuple(query.shape) if hasattr(query, "shape") else np.shape(query)
    if len(shape) != 2 or shape[0] < 1:
        raise ValueError(f"query must be a 2-D float array [n_q, d] with n_q >= 1, got shape {shape}")
    if shape[1] != dim:
        raise ValueError(f"query dim {shape[1]} does not match the store's token dim {dim}")
    if is_tensor(query):
        if not query.is_floating_point():
            raise ValueError(f"query must be a float tensor, got {query.dtype}")
        query = query.detach().float()
        finite = bool(query.isfinite().all())
    else:
        query = np.asarray(query)
        if not np.issubdtype(query.dtype, np.floating):
            raise ValueError(f"query must be a float array, got {query.dtype}")
        query = np.array(query, dtype=np.float32)  # a small, writable copy
        finite = bool(np.isfinite(query).all())
    if not finite:
        raise ValueError("query holds NaN or infinite values; check the query encoder's output")
    return query


def _check_ids(passage_ids: Any, n_passages: int, name: str = "passage_ids") -> np.ndarray:
    ids = _as_numpy(passage_ids)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be a 1-D integer array [m], got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    if ids.size and (ids.min() < 0 or ids.max() >= n_passages):
        bad = int(ids[(ids < 0) | (ids >= n_passages)][0])
        raise ValueError(f"{name} holds {bad}, outside the store's passages 0..{n_passages - 1}")
    return ids


def _reference_token_max(query: Any, store: TokenStore, ids: np.ndarray, binary_form: str) -> np.ndarray:
    from rerank.reference import token_max_reference

    torch = import_torch()
    rows, local = gather_rows(store.data, store.offsets_numpy(), ids)
    if store.binary:
        tokens = torch.from_numpy(unpack_bits(rows, store.dim))
        if binary_form == "pm1":
            tokens = 2.0 * tokens - 1.0
    else:
        tokens = rows.float() if is_tensor(rows) else torch.from_numpy(rows.astype(np.float32))
    q = query.cpu() if is_tensor(query) else torch.from_numpy(query)
    result = token_max_reference(q, tokens.cpu(), local, np.arange(len(ids)))
    return result.numpy()


def _triton_token_max(query: Any, store: TokenStore, ids: np.ndarray) -> np.ndarray:
    try:
        from rerank.triton_kernel import token_max_triton
    except ImportError as exc:
        raise ImportError(f"{exc}; or use backend='cpu'") from exc
    torch = import_torch()
    if store.device != "cpu":  # resident on the device: the kernel reads the rows in place
        device = store.device
        data, offsets = store.data, store.token_offsets
        dev_ids = torch.from_numpy(ids).to(device)
    else:  # copy only the candidates' rows to the device
        device = "cuda" if torch.cuda.is_available() else "cpu"
        rows, local = gather_rows(store.data, store.offsets_numpy(), ids)
        data = (rows if is_tensor(rows) else to_tensor(rows)).to(device)
        offsets = torch.from_numpy(local).to(device)
        dev_ids = torch.arange(len(ids), device=device)
    q = query if is_tensor(query) else torch.from_numpy(query)
    result = token_max_triton(q.to(device), data.contiguous(), offsets, dev_ids, dim=store.dim)
    return result.cpu().numpy()


def token_max(
    query: Any,
    store: TokenStore,
    passage_ids: Any,
    *,
    backend: str = "auto",
    binary_form: str = "01",
    threads: int | None = None,
    **cpu_options: Any,
) -> np.ndarray:
    """Per query token, the best dot product in each candidate passage: float32 ``[m, n_q]`` (``-inf`` if empty).

    ``query`` float ``[n_q, d]``; ``passage_ids`` int ``[m]`` (any order, repeats allowed). ``threads``: CPU worker
    threads (default: torch's intra-op thread count; the other backends ignore it). ``cpu_options`` (``method``,
    ``chunk_tokens``) go to ``rerank.cpu.token_max_cpu`` and are refused by the other backends.
    """
    if not isinstance(store, TokenStore):
        raise ValueError(f"store must be a rerank.TokenStore, got {type(store).__name__}")
    if binary_form not in BINARY_FORMS:
        raise ValueError(f"binary_form must be one of {BINARY_FORMS}, got {binary_form!r}")
    if binary_form == "pm1" and not store.binary:
        raise ValueError("binary_form='pm1' applies to binary stores only; this store holds float values")
    q = _check_query(query, store.dim)
    ids = _check_ids(passage_ids, store.n_passages)
    store.check_candidates(ids)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    chosen = resolve_backend(backend, store)
    if cpu_options and chosen != "cpu":
        raise ValueError(f"options {sorted(cpu_options)} apply to the cpu backend only, not {chosen!r}")
    unique, inverse = np.unique(ids, return_inverse=True)
    if chosen == "reference":
        return _reference_token_max(q, store, unique, binary_form)[inverse]
    if chosen == "cpu":
        from rerank.cpu import token_max_cpu

        q_np = q.cpu().numpy() if is_tensor(q) else q
        result = token_max_cpu(q_np, store, unique, threads=threads, **cpu_options)
    else:
        result = _triton_token_max(q, store, unique)
    if store.binary and binary_form == "pm1":
        q_sums = _as_numpy(q).sum(axis=1, dtype=np.float64)
        result = (2.0 * result - q_sums[None, :]).astype(np.float32)  # -inf stays -inf
    return result[inverse]


def maxsim(
    query: Any,
    store: TokenStore,
    passage_ids: Any,
    *,
    backend: str = "auto",
    binary_form: str = "01",
    threads: int | None = None,
) -> np.ndarray:
    """MaxSim of ``query`` against each candidate passage: float32 ``[m]``, 0 for an empty passage.

    ``query`` float ``[n_q, d]`` (numpy or torch); ``passage_ids`` int ``[m]``, any order, repeats allowed;
    ``threads``: CPU worker threads (default: torch's intra-op thread count; the other backends ignore it).
    Hand-worked: the query token (1, 1, 0, 0, 0, 0, 0, 0) against a passage whose tokens have bits 1100_0000 and
    1000_0000 scores max(1 + 1, 1) = 2 in the 0/1 form, and 2 * 2 - 2 = 2 in the -1/+1 form.

    >>> store = TokenStore.from_passages([np.array([[1, 1, -1, -1, -1, -1, -1, -1], [1, -1, -1, -1, -1, -1, -1, -1]]),
    ...                                   np.zeros((0, 8))])
    >>> q = np.array([[1, 1, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    >>> maxsim(q, store, [0, 1, 0], backend="cpu").tolist()
    [2.0, 0.0, 2.0]
    >>> maxsim(q, store, [0], backend="cpu", binary_form="pm1").tolist()
    [2.0]
    """
    return passage_scores(token_max(query, store, passage_ids, backend=backend, binary_form=binary_form,
                                    threads=threads))


def score_documents(
    query: Any,
    store: TokenStore,
    passage_ids: Any,
    doc_offsets: Any,
    *,
    mode: str = "best_passage",
    backend: str = "auto",
    binary_form: str = "01",
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score documents whose candidate passages are ``passage_ids`` grouped by ``doc_offsets``.

    ``passage_ids`` int ``[m]`` ordered by document; ``doc_offsets`` int64 ``[n_docs + 1]`` (document ``k``
    owns ``passage_ids[doc_offsets[k]:doc_offsets[k + 1]]``). ``mode``: ``"best_passage"`` (a document scores as
    its best passage) or ``"cross_passage"`` (MaxSim over the union of its passages' tokens). Returns
    ``(scores float32 [n_docs], best int64 [n_docs])``, ``best`` indexing ``passage_ids`` (the best passage by its
    own score, in both modes; ``-1`` for a document without candidates, which scores 0).

    >>> store = TokenStore.from_passages([np.array([[1, -1, -1, -1, -1, -1, -1, -1]]),
    ...                                   np.array([[-1, 1, -1, -1, -1, -1, -1, -1]])])
    >>> q = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    >>> score_documents(q, store, [0, 1], [0, 2], backend="cpu")  # each passage matches one query token
    (array([1.], dtype=float32), array([0]))
    >>> score_documents(q, store, [0, 1], [0, 2], mode="cross_passage", backend="cpu")[0].tolist()  # 1 + 1
    [2.0]
    """
    if mode not in DOCUMENT_MODES:
        raise ValueError(f"mode must be one of {DOCUMENT_MODES}, got {mode!r}")
    ids = _as_numpy(passage_ids)
    offsets = _as_numpy(doc_offsets)
    check_offsets(offsets, int(ids.shape[0]) if ids.ndim == 1 else -1, "doc_offsets", "len(passage_ids)")
    best = token_max(query, store, passage_ids, backend=backend, binary_form=binary_form, threads=threads)
    return document_scores(best, offsets, mode)
