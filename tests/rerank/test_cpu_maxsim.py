"""CPU kernels against the PyTorch reference on ragged random input."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from maxsim_cases import make_case

from rerank.cpu import plan_chunks, query_byte_table, token_max_cpu
from rerank.reference import token_max_reference

IDS = np.array([7, 1, 0, 3, 3, 5, 2, 9, 4, 6, 8, 7])  # every passage, in any order, with repeats


def assert_token_max_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(np.isneginf(got), np.isneginf(want)), "empty passages must give -inf rows"
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("d", [128, 96])
@pytest.mark.parametrize("n_q", [1, 32])
@pytest.mark.parametrize("binary, method",
                         [(True, "fused_lut"), (True, "query_lut"), (True, "unpack_gemm"), (False, "gemm")])
def test_equals_reference(d: int, n_q: int, binary: bool, method: str) -> None:
    query, store, tokens = make_case(d=d, n_q=n_q, seed=d + n_q, binary=binary)
    want = token_max_reference(query, tokens, store.token_offsets, IDS).numpy()
    got = token_max_cpu(query, store, IDS, method=method)
    assert_token_max_equal(got, want)


@pytest.mark.parametrize("threads, chunk_tokens", [(1, 1), (2, 64), (3, 100), (2, 100_000)])
def test_chunking_and_threads_do_not_change_results(threads: int, chunk_tokens: int) -> None:
    query, store, tokens = make_case(d=64, n_q=5, seed=3)
    want = token_max_reference(query, tokens, store.token_offsets, IDS).numpy()
    for method in ("fused_lut", "query_lut", "unpack_gemm"):
        got = token_max_cpu(query, store, IDS, method=method, threads=threads, chunk_tokens=chunk_tokens)
        assert_token_max_equal(got, want)


def test_bfloat16_tensor_values() -> None:
    query, store, _ = make_case(d=32, n_q=4, seed=4, binary=False)
    bf16 = store.to("cpu", values_dtype="bfloat16")
    tokens = bf16.values.float()
    want = token_max_reference(query, tokens, store.token_offsets, IDS).numpy()
    assert_token_max_equal(token_max_cpu(query, bf16, IDS), want)


def test_only_empty_passages() -> None:
    query, store, _ = make_case(d=16, lengths=(0, 0), n_q=2)
    assert np.isneginf(token_max_cpu(query, store, np.array([1, 0, 1]))).all()
    assert token_max_cpu(query, store, np.array([], dtype=np.int64)).shape == (0, 2)


def test_query_byte_table_sums_the_set_bits() -> None:
    query = np.random.default_rng(5).standard_normal((3, 16)).astype(np.float32)
    table = query_byte_table(query)
    assert table.shape == (2 * 256 + 1, 3) and np.isneginf(table[-1]).all()
    for k, byte in [(0, 0), (0, 0b1010_0001), (1, 255), (1, 0b0000_0110)]:
        bits = [(byte >> j) & 1 for j in range(8)]
        expected = query[:, 8 * k:8 * k + 8] @ np.array(bits, dtype=np.float32)
        np.testing.assert_allclose(table[k * 256 + byte], expected, rtol=1e-6)


def test_plan_chunks_bounds_padding() -> None:
    lengths = np.array([5, 1, 9, 3, 9, 200, 2])
    chunks = plan_chunks(lengths, 16)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(7))  # every candidate exactly once
    for chunk in chunks:
        assert len(chunk) == 1 or len(chunk) * lengths[chunk].max() <= 16


def test_caller_thread_settings_are_restored() -> None:
    query, store, _ = make_case(d=16, n_q=2)
    before = torch.get_num_threads()
    token_max_cpu(query, store, IDS, threads=2, chunk_tokens=8)
    assert torch.get_num_threads() == before
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    worker.start()
    worker.join()
    assert seen == [before], "a new thread must still get the caller's default"


def test_bad_options_are_explained() -> None:
    query, store, _ = make_case(d=16, n_q=2)
    with pytest.raises(ValueError, match="does not apply to a binary store"):
        token_max_cpu(query, store, IDS, method="gemm")
    with pytest.raises(ValueError, match="chunk_tokens"):
        token_max_cpu(query, store, IDS, chunk_tokens=0)


def test_fused_kernel_rejects_rows_outside_the_codes() -> None:
    from rerank.lut_kernel import lut_token_max

    codes = np.zeros((4, 2), dtype=np.uint8)
    table = query_byte_table(np.ones((1, 16), dtype=np.float32))
    with pytest.raises(ValueError, match="outside"):
        lut_token_max(codes, np.array([3]), np.array([2]), table)
    with pytest.raises(ValueError, match="uint8"):
        lut_token_max(codes.astype(np.int16), np.array([0]), np.array([1]), table)


def test_fused_kernel_restores_numba_threads() -> None:
    import numba

    query, store, tokens = make_case(d=32, n_q=3, seed=8)
    before = numba.get_num_threads()
    token_max_cpu(query, store, IDS, method="fused_lut", threads=1)
    assert numba.get_num_threads() == before


def test_the_query_table_is_built_once_per_query_and_a_new_query_gets_its_own(monkeypatch) -> None:
    """A rerank calls the kernel once per tensor segment with one query: its byte table is built once; another
    query (or the same values in another shape) gets its own table and the reference's answer."""
    import rerank.cpu as cpu

    built = []
    monkeypatch.setattr(cpu, "query_byte_table", lambda q: built.append(q.shape) or query_byte_table(q))
    query, store, tokens = make_case(d=64, n_q=4, seed=11)
    for _ in range(3):
        token_max_cpu(query, store, IDS, method="fused_lut")
    assert built == [(4, 64)]
    other = query[::-1].copy()
    want = token_max_reference(other, tokens, store.token_offsets, IDS).numpy()
    assert_token_max_equal(token_max_cpu(other, store, IDS, method="fused_lut"), want)
    assert_token_max_equal(token_max_cpu(query[:2], store, IDS, method="fused_lut"),
                           token_max_reference(query[:2], tokens, store.token_offsets, IDS).numpy())
    assert built == [(4, 64), (4, 64), (2, 64)]
