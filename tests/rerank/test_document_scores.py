"""Best-passage vs cross-passage document scores, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from maxsim_cases import make_case

from rerank import TokenStore, score_documents
from rerank.documents import document_scores, passage_scores


def test_best_vs_cross_passage_by_hand() -> None:
    # Query tokens a = e0, b = e1, c = e2 (d = 8). Document X has passages P0 = {token with bits 0, 1}
    # and P1 = {token with bit 2}, {token with bits 1, 2}; document Y has P2 = {token with bits 0, 1, 2};
    # document Z has only the empty passage P3; document W has no candidate passage.
    def token(*bits):
        row = -np.ones(8, dtype=np.float32)
        row[list(bits)] = 1.0
        return row

    passages = [np.stack([token(0, 1)]), np.stack([token(2), token(1, 2)]), np.stack([token(0, 1, 2)]),
                np.zeros((0, 8))]
    store = TokenStore.from_passages(passages)
    query = np.eye(8, dtype=np.float32)[:3]
    passage_ids = [0, 1, 2, 3]
    doc_offsets = np.array([0, 2, 3, 4, 4])
    # P0: a 1, b 1, c 0 -> 2;  P1: a 0, b max(0, 1) = 1, c max(1, 1) = 1 -> 2;  P2: 1 + 1 + 1 = 3;  P3: 0
    for backend in ("cpu", "reference"):
        scores, best = score_documents(query, store, passage_ids, doc_offsets, backend=backend)
        np.testing.assert_allclose(scores, [max(2, 2), 3, 0, 0])
        assert best.tolist() == [0, 2, 3, -1]  # X: P0 and P1 tie at 2, the first wins; W has none
        scores, best = score_documents(query, store, passage_ids, doc_offsets, mode="cross_passage", backend=backend)
        # X over the union of P0 and P1: a max(1, 0) + b max(1, 1) + c max(0, 1) = 3 > its best passage (2)
        np.testing.assert_allclose(scores, [1 + 1 + 1, 3, 0, 0])
        assert best.tolist() == [0, 2, 3, -1]


def test_document_scores_from_token_max() -> None:
    inf = np.inf
    token_max = np.array([[3, 1], [1, 2], [-inf, -inf], [0.5, 0.5], [-inf, -inf]], dtype=np.float32)
    offsets = np.array([0, 3, 3, 4, 5])
    scores, best = document_scores(token_max, offsets, "best_passage")
    assert scores.tolist() == [3 + 1, 0, 0.5 + 0.5, 0] and best.tolist() == [0, -1, 3, 4]
    scores, _ = document_scores(token_max, offsets, "cross_passage")
    assert scores.tolist() == [max(3, 1) + max(1, 2), 0, 1.0, 0]  # the empty passage takes no part
    assert passage_scores(token_max).tolist() == [4, 3, 0, 1, 0]


def test_cross_passage_equals_maxsim_over_concatenated_passages() -> None:
    query, store, tokens = make_case(d=32, lengths=(4, 0, 7, 3, 9, 1), n_q=5, seed=11)
    passage_ids = [2, 0, 5, 1, 3, 4]  # doc 0 = passages 2, 0; doc 1 = 5; doc 2 = 1 (empty); doc 3 = 3, 4
    doc_offsets = np.array([0, 2, 3, 4, 6])
    scores, _ = score_documents(query, store, passage_ids, doc_offsets, mode="cross_passage", backend="cpu")
    offsets = store.token_offsets
    for doc, members in enumerate([[2, 0], [5], [1], [3, 4]]):
        union = np.concatenate([tokens[offsets[p]:offsets[p + 1]] for p in members])
        want = (query @ union.T).max(axis=1).sum() if len(union) else 0.0
        assert scores[doc] == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_bad_document_offsets_are_explained() -> None:
    query, store, _ = make_case(d=16, n_q=2)
    with pytest.raises(ValueError, match="end at len"):
        score_documents(query, store, [0, 1], np.array([0, 1]))
    with pytest.raises(ValueError, match="never decrease"):
        score_documents(query, store, [0, 1], np.array([0, 2, 1, 2]))
    with pytest.raises(ValueError, match="mode"):
        score_documents(query, store, [0, 1], np.array([0, 2]), mode="max")
    scores, best = score_documents(query, store, [], np.array([0, 0]))
    assert scores.tolist() == [0.0] and best.tolist() == [-1]
