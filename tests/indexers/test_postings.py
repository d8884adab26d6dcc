import numpy as np
import pytest

from indexers.postings import BLOCK, MAXTF_SATURATED, PostingBlocks, compress


def _random_csr(rng, n_docs, n_terms):
    rows, tfs, ptr = [], [], [0]
    for _ in range(n_terms):
        df = int(rng.integers(0, n_docs + 1))
        r = np.sort(rng.choice(n_docs, df, replace=False)).astype(np.int32)
        f = rng.integers(1, 6, df).astype(np.float32)
        f[rng.random(df) < 0.01] = 100_000  # a rare huge tf needs a wide block
        rows.append(r)
        tfs.append(f)
        ptr.append(ptr[-1] + df)
    return np.concatenate(rows), np.concatenate(tfs), np.array(ptr, dtype=np.int64)


def test_round_trip_and_block_bounds(tmp_path):
    rng = np.random.default_rng(0)
    n_docs = 3 * BLOCK + 17
    rows, tfs, ptr = _random_csr(rng, n_docs, 40)
    doc_len = (rng.random(n_docs) * 100 + 1).astype(np.float32)
    term_ids = np.arange(40, dtype=np.int64) * 7
    pb = compress(term_ids, ptr, rows, tfs, doc_len)
    indptr, r2, f2 = pb.decode_all()
    np.testing.assert_array_equal(indptr, ptr)
    np.testing.assert_array_equal(r2, rows)
    np.testing.assert_array_equal(f2, tfs)
    for t in range(40):
        lo, hi = ptr[t], ptr[t + 1]
        r, f = pb.postings(int(term_ids[t]))
        np.testing.assert_array_equal(r, rows[lo:hi])
        assert pb.df(int(term_ids[t])) == hi - lo
        # every block's bounds hold for each of its postings, and its last row is the block's last posting
        for j, s in zip(range(pb.term_blk[t], pb.term_blk[t + 1]), range(lo, hi, BLOCK)):
            e = min(s + BLOCK, hi)
            assert pb.blk_last[j] == rows[e - 1]
            assert pb.blk_maxtf[j] == min(tfs[s:e].max(), MAXTF_SATURATED)
            assert pb.blk_mindl[j] == np.floor(doc_len[rows[s:e]].min())  # rounded down: still a lower bound
    assert pb.postings(3)[0].tolist() == [] and pb.df(3) == 0
    pb.save(tmp_path)
    loaded = PostingBlocks.load(tmp_path)
    assert isinstance(loaded.data, np.memmap)
    np.testing.assert_array_equal(loaded.decode_all()[1], rows)


def test_dense_lists_cost_about_a_bit_per_row():
    n = 10_000
    rows = np.arange(n, dtype=np.int32)
    pb = compress(np.array([0]), np.array([0, n]), rows, np.ones(n, np.float32), np.ones(n, np.float32))
    # gaps of 1 are stored as gap - 1 = 0 (0 bits), tf 1 as tf - 1 = 0: only the per-block headers remain
    assert pb.data.nbytes <= 8
    np.testing.assert_array_equal(pb.postings(0)[0], rows)


def test_bad_postings_are_refused():
    with pytest.raises(ValueError, match="CSR"):
        compress(np.array([0]), np.array([0, 2]), np.array([0], np.int32), np.ones(1, np.float32), np.ones(1))
    with pytest.raises(ValueError, match=">= 1"):
        compress(np.array([0]), np.array([0, 1]), np.array([0], np.int32), np.zeros(1, np.float32), np.ones(1))
