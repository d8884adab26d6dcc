"""Bit packing: layout, round trip, storage arithmetic, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rerank import TokenStore, pack_bits, unpack_bits
from rerank.bits import byte_bit_table, packed_width


def test_layout_is_numpy_packbits_little() -> None:
    x = np.array([[0.5, -1.0, 0.0, 2.0, -0.1, 0.3, 0.0, -4.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0]])
    codes = pack_bits(x)
    # byte 0: bits 0, 3, 5 set -> 1 + 8 + 32 = 41; byte 1: bits 0, 1, 7 -> 1 + 2 + 128 = 131
    assert codes.tolist() == [[41, 131]]
    np.testing.assert_array_equal(codes, np.packbits(x > 0, axis=-1, bitorder="little"))


@pytest.mark.parametrize("d", [8, 96, 128])
def test_round_trip(d: int) -> None:
    x = np.random.default_rng(d).standard_normal((5, 7, d)).astype(np.float32)
    codes = pack_bits(x)
    assert codes.shape == (5, 7, d // 8) and codes.dtype == np.uint8
    bits = unpack_bits(codes, d)
    assert bits.dtype == np.float32 and bits.shape == x.shape
    np.testing.assert_array_equal(bits, (x > 0).astype(np.float32))
    np.testing.assert_array_equal(pack_bits(bits), codes)  # {0, 1} floats pack back to the same bytes


def test_torch_input_matches_numpy() -> None:
    x = torch.randn(4, 32)
    np.testing.assert_array_equal(pack_bits(x), pack_bits(x.numpy()))
    np.testing.assert_array_equal(pack_bits(x.bfloat16()), pack_bits(x.bfloat16().float().numpy()))


def test_lookup_table_matches_unpackbits() -> None:
    table = byte_bit_table()
    assert table.shape == (256, 8) and not table.flags.writeable
    for byte in (0, 1, 128, 170, 255):
        assert table[byte].tolist() == [float((byte >> j) & 1) for j in range(8)]


def test_storage_is_one_32nd_of_float32() -> None:
    rng = np.random.default_rng(0)
    passages = [rng.standard_normal((n, 128)).astype(np.float32) for n in (5, 0, 300, 1)]
    float_bytes = sum(p.nbytes for p in passages)  # 306 tokens * 128 dims * 4 bytes
    binary = TokenStore.from_passages(passages, binary=True)
    exact = TokenStore.from_passages(passages, binary=False)
    assert float_bytes == 306 * 128 * 4
    assert binary.token_nbytes() * 32 == float_bytes  # 306 tokens * 16 bytes
    assert exact.token_nbytes() * 2 == float_bytes  # float16 halves float32
    assert packed_width(128) == 16 and packed_width(96) == 12


def test_bad_input_is_explained() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        pack_bits(np.ones((2, 12)))
    with pytest.raises(ValueError, match="NaN"):
        pack_bits(np.array([[np.nan] + [1.0] * 7]))
    with pytest.raises(ValueError, match="scalar"):
        pack_bits(np.float32(1.0))
    with pytest.raises(ValueError, match="2 bytes"):
        unpack_bits(np.zeros((3, 4), dtype=np.uint8), 16)
    with pytest.raises(ValueError, match="uint8"):
        unpack_bits(np.zeros((3, 2), dtype=np.int32), 16)
    with pytest.raises(ValueError, match="multiple of 8"):
        unpack_bits(np.zeros((3, 2), dtype=np.uint8), 15)
