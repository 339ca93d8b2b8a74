"""The exact search's top-k and sparse product give what the plain numpy/scipy ones give."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from linker.vectors.exact import item_columns, sparse_scores, topk_rows


def _reference(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best first, ties by column: a full stable sort of every row."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


@pytest.mark.parametrize(("n_cols", "k", "levels"), [
    (1000, 21, 0), (1000, 21, 5), (1000, 1, 3), (50, 10, 0), (30, 10, 2), (10, 10, 0),
    (7, 20, 4), (257, 32, 0),
])  # fmt: skip
def test_topk_rows_equals_a_full_sort(n_cols: int, k: int, levels: int) -> None:
    rng = np.random.default_rng(n_cols + k + levels)
    scores = rng.random((64, n_cols), dtype=np.float32)
    if levels:  # few distinct values: many ties at the k-th place
        scores = np.floor(scores * levels).astype(np.float32) / levels
    scores[3] = 0.0  # a row of zeros (a record without tokens)
    ids, sims = topk_rows(scores, k)
    want_ids, want_sims = _reference(scores, k)
    assert ids.dtype == np.int64 and sims.dtype == np.float32
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(sims, want_sims)


def test_topk_rows_of_no_rows_or_no_k() -> None:
    assert topk_rows(np.zeros((0, 5), np.float32), 3)[0].shape == (0, 3)
    assert topk_rows(np.ones((2, 5), np.float32), 0)[1].shape == (2, 0)


def test_sparse_scores_equal_scipy_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    items = sp.random(300, 2000, density=0.02, format="csr", dtype=np.float32, random_state=1)
    queries = sp.random(120, 2000, density=0.03, format="csr", dtype=np.float32, random_state=2)
    queries.data = rng.random(queries.nnz, dtype=np.float32)
    got = sparse_scores(queries, item_columns(items))
    want = (queries @ items.T.tocsc()).toarray()
    assert got.dtype == np.float32 and got.shape == (120, 300)
    np.testing.assert_array_equal(got, want)
