"""The public maxsim(): backends agree, the -1/+1 form, a rerank worked by hand, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from maxsim_cases import make_case

from rerank import TokenStore, maxsim
from rerank.maxsim import resolve_backend, token_max
from rerank.reference import maxsim_reference

IDS = [7, 1, 0, 3, 3, 5, 2, 9, 4, 6, 8, 7]


def hand_store() -> tuple[np.ndarray, TokenStore]:
    """Query a = e0, b = 0.5 e1 - 0.25 e4; passages given by the bits each token sets (d = 8)."""
    query = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0, 0.5, 0, 0, -0.25, 0, 0, 0]], dtype=np.float32)

    def tokens(*bit_sets):
        rows = -np.ones((len(bit_sets), 8), dtype=np.float32)
        for row, bits in enumerate(bit_sets):
            rows[row, list(bits)] = 1.0
        return rows

    passages = [tokens({0}), tokens({0, 1}), tokens({1, 4}, {2}), np.zeros((0, 8)), tokens({0, 1, 4})]
    return query, TokenStore.from_passages(passages)


@pytest.mark.parametrize("backend", ["cpu", "reference", "auto"])
def test_rerank_order_worked_by_hand(backend: str) -> None:
    query, store = hand_store()
    scores = maxsim(query, store, [0, 1, 2, 3, 4], backend=backend)
    # a . bits + max over tokens of b . bits, per passage:
    # P0 {0}: 1 + 0 = 1; P1 {0,1}: 1 + 0.5 = 1.5; P2 {1,4},{2}: max(0, 0) + max(0.5 - 0.25, 0) = 0.25;
    # P3 empty: 0; P4 {0,1,4}: 1 + (0.5 - 0.25) = 1.25
    np.testing.assert_allclose(scores, [1.0, 1.5, 0.25, 0.0, 1.25])
    assert np.argsort(-scores, kind="stable").tolist() == [1, 4, 0, 2, 3]


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_pm1_form_worked_by_hand(backend: str) -> None:
    query, store = hand_store()
    scores = maxsim(query, store, [0, 1, 2, 3, 4], backend=backend, binary_form="pm1")
    # q . (2b - 1) = 2 q . b - sum(q); sum(a) = 1, sum(b) = 0.25:
    # P0: (2 - 1) + (0 - 0.25) = 0.75; P1: 1 + (1 - 0.25) = 1.75; P2: (0 - 1) + (0.5 - 0.25) = -0.75;
    # P3 empty: 0 (it now outranks P2: the documented price of scoring empty passages 0); P4: 1 + 0.25 = 1.25
    np.testing.assert_allclose(scores, [0.75, 1.75, -0.75, 0.0, 1.25])


@pytest.mark.parametrize("d", [128, 96])
@pytest.mark.parametrize("binary", [True, False])
def test_backends_equal_reference(d: int, binary: bool) -> None:
    query, store, tokens = make_case(d=d, n_q=16, seed=d, binary=binary)
    want = maxsim_reference(query, tokens, store.token_offsets, IDS).numpy()
    for backend in ("cpu", "reference", "auto"):
        got = maxsim(query, store, IDS, backend=backend)
        assert got.dtype == np.float32 and got.shape == (len(IDS),)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert got[IDS.index(1)] == 0.0 and got[IDS.index(6)] == 0.0  # passages 1 and 6 are empty


@pytest.mark.parametrize("n_q", [1, 8])
def test_pm1_identity_on_random_input(n_q: int) -> None:
    query, store, tokens = make_case(d=64, n_q=n_q, seed=n_q)
    literal = maxsim(query, store, IDS, backend="reference", binary_form="pm1")  # scores 2b - 1 directly
    via_identity = maxsim(query, store, IDS, backend="cpu", binary_form="pm1")
    np.testing.assert_allclose(via_identity, literal, rtol=1e-5, atol=1e-5)
    zero_one = maxsim(query, store, IDS, backend="cpu")
    nonempty = np.diff(store.token_offsets)[IDS] > 0
    np.testing.assert_allclose(literal[nonempty], 2 * zero_one[nonempty] - query.sum(), rtol=1e-5, atol=1e-5)


def test_query_forms_and_empty_candidates() -> None:
    query, store, tokens = make_case(d=32, n_q=3, seed=9)
    want = maxsim(query, store, IDS, backend="reference")
    np.testing.assert_allclose(maxsim(torch.from_numpy(query), store, IDS, backend="cpu"), want, rtol=1e-5)
    np.testing.assert_allclose(maxsim(query.astype(np.float64), store, np.array(IDS, np.int32)), want, rtol=1e-5)
    assert maxsim(query, store, [], backend="cpu").shape == (0,)
    assert maxsim(query, store, [], backend="reference").shape == (0,)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(query=np.ones(16, np.float32)), r"2-D float array \[n_q, d\]"),
        (dict(query=np.ones((0, 16), np.float32)), "n_q >= 1"),
        (dict(query=np.ones((2, 8), np.float32)), "does not match"),
        (dict(query=np.ones((2, 16), np.int64)), "float"),
        (dict(query=np.full((2, 16), np.nan, np.float32)), "NaN"),
        (dict(passage_ids=[0, 10]), "outside"),
        (dict(passage_ids=[-1]), "outside"),
        (dict(passage_ids=[0.5]), "integers"),
        (dict(passage_ids=[[0]]), "1-D"),
        (dict(backend="gpu"), "backend must be one of"),
        (dict(binary_form="signed"), "binary_form"),
        (dict(store="not a store"), "TokenStore"),
    ],
)
def test_bad_input_is_explained(change: dict, message: str) -> None:
    query, store, _ = make_case(d=16, n_q=2)
    args = dict(query=query, store=store, passage_ids=[0, 1]) | change
    with pytest.raises(ValueError, match=message):
        maxsim(args.pop("query"), args.pop("store"), args.pop("passage_ids"), **args)


def test_pm1_on_float_values_is_refused() -> None:
    query, store, _ = make_case(d=16, n_q=2, binary=False)
    with pytest.raises(ValueError, match="binary stores only"):
        maxsim(query, store, [0], binary_form="pm1")


def test_cpu_options_only_for_cpu() -> None:
    query, store, _ = make_case(d=16, n_q=2)
    with pytest.raises(ValueError, match="cpu backend only"):
        token_max(query, store, [0], backend="reference", chunk_tokens=2)
    with pytest.raises(ValueError, match="threads"):
        maxsim(query, store, [0], threads=0)
    np.testing.assert_allclose(maxsim(query, store, [0, 3], backend="reference", threads=2),  # ignored there
                               maxsim(query, store, [0, 3], backend="cpu", threads=2), rtol=1e-5)
    np.testing.assert_allclose(token_max(query, store, [0, 3], backend="cpu", method="unpack_gemm", threads=1),
                               token_max(query, store, [0, 3], backend="reference"), rtol=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the loud failure on a machine without a GPU")
def test_forced_gpu_without_one_fails_loudly() -> None:
    query, store, _ = make_case(d=16, n_q=2)
    with pytest.raises(RuntimeError, match="CUDA GPU"):
        maxsim(query, store, [0], backend="cuda")
    assert resolve_backend("auto", store) == "cpu"


@pytest.mark.skipif(torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1",
                    reason="checks the hint given when neither a GPU nor the Triton interpreter is available")
def test_triton_without_gpu_asks_for_interpreter() -> None:
    query, store, _ = make_case(d=16, n_q=2)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        maxsim(query, store, [0], backend="triton")


def test_import_is_light() -> None:
    code = "import sys, rerank; print('torch' in sys.modules, 'triton' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], "importing rerank must not import torch or triton"


def test_read_only_memory_maps(tmp_path, recwarn) -> None:
    """The tensor index opens its arrays with mmap_mode="r": every backend reads them without copying the store."""
    query, store, _ = make_case(d=32, n_q=4, seed=10)
    exact = make_case(d=32, n_q=4, seed=10, binary=False)[1]
    for name, array in [("codes", store.codes), ("values", exact.values), ("offsets", store.token_offsets)]:
        np.save(tmp_path / f"{name}.npy", array)
    codes, values, offsets = (np.load(tmp_path / f"{n}.npy", mmap_mode="r") for n in ("codes", "values", "offsets"))
    assert not codes.flags.writeable
    mapped = TokenStore(codes=codes, values=None, token_offsets=offsets, dim=32)
    mapped_exact = TokenStore(codes=None, values=values, token_offsets=offsets, dim=32)
    for original, on_disk in [(store, mapped), (exact, mapped_exact)]:
        want = maxsim(query, original, IDS, backend="reference")
        for backend in ("cpu", "reference"):
            np.testing.assert_allclose(maxsim(query, on_disk, IDS, backend=backend), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(maxsim(query, on_disk.to("cpu"), IDS, backend="reference"), want, rtol=1e-5)
    maxsim(query, mapped, [0, 2], backend="reference")  # contiguous candidates: rows are a slice of the map
    assert not [w for w in recwarn if "not writable" in str(w.message)], "torch must never wrap a read-only map"
