"""The Triton kernel against the PyTorch reference.

Runs on a GPU, or on the CPU under the Triton interpreter: ``TRITON_INTERPRET=1`` must be set before triton is
imported, so ``test_triton_interpret.py`` runs this module in a subprocess with it set; in a plain test process
without a GPU the module is skipped. Inputs stay small: the interpreter runs each program in Python.
"""

from __future__ import annotations

import doctest
import os

import numpy as np
import pytest
import torch
from maxsim_cases import make_case

from rerank import TokenStore, maxsim, score_documents
from rerank.maxsim import token_max
from rerank.reference import maxsim_reference

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
GPU = torch.cuda.is_available()
pytestmark = pytest.mark.skipif(
    not (INTERPRETED or GPU),
    reason="needs a CUDA GPU or TRITON_INTERPRET=1 set before triton is imported; "
    "test_triton_interpret.py runs this module under the interpreter in a subprocess",
)
triton_kernel = pytest.importorskip("rerank.triton_kernel",
                                    reason="triton is not installed (pip install latte[triton])")

IDS = [7, 1, 0, 3, 3, 5, 2, 9, 4, 6, 8, 7]  # every passage of the ragged case, any order, repeats


@pytest.mark.parametrize("d", [128, 96])
@pytest.mark.parametrize("n_q", [1, 8])
@pytest.mark.parametrize("binary", [True, False])
def test_equals_reference(d: int, n_q: int, binary: bool) -> None:
    query, store, tokens = make_case(d=d, n_q=n_q, seed=d + n_q, binary=binary)
    want_max = token_max(query, store, IDS, backend="reference")
    got_max = token_max(query, store, IDS, backend="triton")
    assert np.array_equal(np.isneginf(got_max), np.isneginf(want_max)), "empty passages must give -inf rows"
    finite = np.isfinite(want_max)
    np.testing.assert_allclose(got_max[finite], want_max[finite], rtol=1e-5, atol=1e-5)
    want = maxsim_reference(query, tokens, store.token_offsets, IDS).numpy()
    np.testing.assert_allclose(maxsim(query, store, IDS, backend="triton"), want, rtol=1e-5, atol=1e-5)


def test_several_query_blocks_and_pm1() -> None:
    query, store, _ = make_case(d=32, lengths=(70, 0, 1, 5), n_q=70, seed=5)  # 70 query tokens: 2 blocks of 64
    ids = [3, 0, 1, 2, 0]
    for form in ("01", "pm1"):
        np.testing.assert_allclose(maxsim(query, store, ids, backend="triton", binary_form=form),
                                   maxsim(query, store, ids, backend="reference", binary_form=form),
                                   rtol=1e-5, atol=1e-5)


def test_documents_with_triton() -> None:
    query, store, _ = make_case(d=64, n_q=4, seed=6)
    doc_offsets = np.array([0, 3, 3, 7, 12])
    for mode in ("best_passage", "cross_passage"):
        got = score_documents(query, store, IDS, doc_offsets, mode=mode, backend="triton")
        want = score_documents(query, store, IDS, doc_offsets, mode=mode, backend="reference")
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
        assert got[1].tolist() == want[1].tolist()


def test_large_query_values_are_scaled_not_overflowed() -> None:
    query, store, _ = make_case(d=32, lengths=(3, 4), n_q=2, seed=7, binary=False)
    big = query * 1e6  # beyond float16's range: the power-of-two scale keeps the parts finite
    np.testing.assert_allclose(maxsim(big, store, [0, 1], backend="triton"),
                               maxsim(big, store, [0, 1], backend="reference"), rtol=1e-5)


def test_resident_store_reads_rows_in_place() -> None:
    query, store, _ = make_case(d=64, n_q=4, seed=8)
    device = "cuda" if GPU else "cpu"
    resident = store.to(device)
    np.testing.assert_allclose(maxsim(torch.from_numpy(query).to(device), resident, IDS, backend="triton"),
                               maxsim(query, store, IDS, backend="reference"), rtol=1e-5, atol=1e-5)


def test_read_only_memory_map(tmp_path, recwarn) -> None:
    query, store, _ = make_case(d=64, n_q=4, seed=9)
    np.save(tmp_path / "codes.npy", store.codes)
    mapped = TokenStore(codes=np.load(tmp_path / "codes.npy", mmap_mode="r"), values=None,
                        token_offsets=store.token_offsets, dim=64)
    for ids in ([0, 1, 2], IDS):  # contiguous candidates (a slice of the map) and scattered ones
        np.testing.assert_allclose(maxsim(query, mapped, ids, backend="triton"),
                                   maxsim(query, store, ids, backend="reference"), rtol=1e-5, atol=1e-5)
    assert not [w for w in recwarn if "not writable" in str(w.message)]


def test_doctests() -> None:
    result = doctest.testmod(triton_kernel, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.skipif(GPU, reason="checks the interpreter's refusal of bfloat16 dots; GPUs run them")
def test_bfloat16_refused_by_interpreter() -> None:
    query, store, _ = make_case(d=32, n_q=2, binary=False)
    with pytest.raises(NotImplementedError, match="11584"):
        maxsim(query, store.to("cpu", values_dtype="bfloat16"), [0, 3], backend="triton")


@pytest.mark.gpu
@pytest.mark.skipif(not GPU, reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
@pytest.mark.parametrize("values_dtype", ["float16", "bfloat16"])
def test_gpu_values_equal_reference(values_dtype: str) -> None:
    query, store, _ = make_case(d=128, n_q=32, seed=12, binary=False)
    resident = store.to("cuda", values_dtype=values_dtype)
    want = maxsim_reference(query, resident.values.float().cpu(), store.token_offsets, IDS).numpy()
    np.testing.assert_allclose(maxsim(query, resident, IDS, backend="cuda"), want, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not GPU, reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
def test_gpu_auto_and_cuda_equal_cpu_on_larger_input() -> None:
    lengths = np.random.default_rng(13).integers(0, 600, size=300)
    query, store, _ = make_case(d=128, lengths=tuple(lengths), n_q=32, seed=13)
    ids = np.random.default_rng(14).integers(0, 300, size=500)
    want = maxsim(query, store, ids, backend="cpu")
    np.testing.assert_allclose(maxsim(query, store, ids, backend="cuda"), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(maxsim(query, store, ids), want, rtol=1e-5, atol=1e-5)  # auto picks cuda
    np.testing.assert_allclose(maxsim(query, store.to("cuda"), ids, backend="cuda"), want, rtol=1e-5, atol=1e-5)
