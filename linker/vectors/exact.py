"""The two costly steps of an exact neighbour search, done in fewer passes over memory.

An exact search (:func:`linker.vectors.ann.search` below ``AnnParams.exact_below`` items)
scores a chunk of queries against every item, then keeps each row's best ``k``. At ten
thousand items a side both steps touch a hundred million scores:

- :func:`topk_rows` first bounds each row's ``k``-th best score from below by the ``k``-th
  best of the maxima of ``k`` or more column blocks (each maximum is a score of the row, so at
  least ``k`` scores reach it), then ranks only the scores that reach the bound: one pass over
  the row and a sort of a few dozen entries, instead of a partition of the whole row.
- :func:`sparse_scores` multiplies sparse (n-gram) query rows by the items straight into a
  dense block, on every core: the n-gram product is nearly dense, and scipy's sparse product
  would count, then build, then densify it on one core. It adds the same terms in the same
  order as scipy's, so the scores are the same.
"""

from __future__ import annotations

import threading
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["item_columns", "sparse_scores", "topk_rows"]

Ids = npt.NDArray[np.int64]
Sims = npt.NDArray[np.float32]
_BLOCKS_PER_K = 4  # column blocks per kept entry: more blocks, a tighter bound, more maxima
_LAUNCH = threading.Lock()  # numba's workqueue layer aborts on concurrent parallel launches


def topk_rows(scores: npt.NDArray[np.float32], k: int) -> tuple[Ids, Sims]:
    """Top-``k`` columns of each row of a dense score matrix, best first, ties by column.

    Example:
        >>> topk_rows(np.array([[0.1, 0.9, 0.5]], dtype=np.float32), 2)[0].tolist()
        [[1, 2]]
        >>> topk_rows(np.array([[0.5, 0.5, 0.5]], dtype=np.float32), 2)[0].tolist()
        [[0, 1]]
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k == 0 or n_rows == 0:
        return np.zeros((n_rows, k), np.int64), np.zeros((n_rows, k), np.float32)
    width = n_cols // (_BLOCKS_PER_K * k)
    if width >= 2:  # at least k blocks of two or more columns: bound each row's k-th best
        blocks = n_cols // width
        maxima = scores[:, : blocks * width].reshape(n_rows, blocks, width).max(axis=2)
        bound = np.partition(maxima, blocks - k, axis=1)[:, blocks - k]
        rows, cols = np.nonzero(scores >= bound[:, None])
    else:  # too few columns to bound: rank them all
        rows = np.repeat(np.arange(n_rows), n_cols)
        cols = np.tile(np.arange(n_cols), n_rows)
    sims = scores[rows, cols]
    order = np.lexsort((cols, -sims, rows))  # by row, then best first, ties by column
    starts = np.searchsorted(rows[order], np.arange(n_rows))
    take = (starts[:, None] + np.arange(k)).ravel()  # every row holds at least k entries
    chosen = order[take]
    return (
        cols[chosen].astype(np.int64).reshape(n_rows, k),
        sims[chosen].astype(np.float32).reshape(n_rows, k),
    )


def item_columns(items: sp.csr_matrix) -> sp.csr_matrix:
    """The items transposed as CSR, ``(features, items)``: what :func:`sparse_scores` reads,
    made once per search (it is the right operand scipy's product would convert per call)."""
    return sp.csr_matrix(items.T)


@numba.njit(parallel=True, cache=True, nogil=True)
def _sparse_scores(
    q_ptr: Any, q_idx: Any, q_val: Any, t_ptr: Any, t_idx: Any, t_val: Any, out: Any
) -> None:
    for i in numba.prange(out.shape[0]):
        row = out[i]
        for p in range(q_ptr[i], q_ptr[i + 1]):
            feature, w = q_idx[p], q_val[p]
            for r in range(t_ptr[feature], t_ptr[feature + 1]):
                row[t_idx[r]] += w * t_val[r]


def sparse_scores(queries: sp.csr_matrix, columns: sp.csr_matrix) -> npt.NDArray[np.float32]:
    """``queries @ columns`` as a dense float32 array (``columns``: :func:`item_columns`).

    Example:
        >>> items = sp.csr_matrix(np.array([[1, 0], [0.6, 0.8]], dtype=np.float32))
        >>> sparse_scores(items, item_columns(items)).astype(float).round(2).tolist()
        [[1.0, 0.6], [0.6, 1.0]]
    """
    q = sp.csr_matrix(queries, dtype=np.float32)
    c = sp.csr_matrix(columns, dtype=np.float32)
    out = np.zeros((q.shape[0], c.shape[1]), np.float32)
    with _LAUNCH:
        _sparse_scores(q.indptr, q.indices, q.data, c.indptr, c.indices, c.data, out)
    return out
